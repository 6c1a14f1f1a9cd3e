package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

// notificationService mails the customer when an order is confirmed or
// cancelled. Its outbox stays empty: it publishes nothing.
type notificationService struct {
	*service
	out *console
}

func newNotificationService(ctx context.Context, b stream.Broker, dir string, out *console, log *slog.Logger) (*notificationService, error) {
	s, err := openService(ctx, b, dir, "notifications", []string{TopicOrderConfirmed, TopicOrderCancelled}, log)
	if err != nil {
		return nil, err
	}
	return &notificationService{service: s, out: out}, nil
}

func (s *notificationService) handle(ctx context.Context, r *stream.Record) error {
	var o Order
	if err := json.Unmarshal(r.Value, &o); err != nil {
		return consume.Permanent(fmt.Errorf("order event %s: %w", r.ID(), err))
	}
	tx, err := inboxTx(ctx)
	if err != nil {
		return err
	}
	subject := fmt.Sprintf("Pesanan %s dikonfirmasi — terima kasih, %s!", o.ID, o.Customer)
	if r.Topic == TopicOrderCancelled {
		subject = fmt.Sprintf("Pesanan %s dibatalkan: pembayaran ditolak", o.ID)
	}
	// Sending is simulated by keeping the mail in the service's table.
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO emails (record_id, order_id, recipient, subject) VALUES (?, ?, ?, ?)`),
		r.ID(), o.ID, o.Email, subject); err != nil {
		return fmt.Errorf("mail for %s: %w", o.ID, err)
	}
	s.out.say("notification", "%s mail to %s: %q", o.ID, o.Email, subject)
	return nil
}

// emails returns the subjects mailed per order.
func (s *notificationService) emails(ctx context.Context) (map[string][]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT order_id, subject FROM emails ORDER BY order_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var id, subject string
		if err := rows.Scan(&id, &subject); err != nil {
			return nil, err
		}
		out[id] = append(out[id], subject)
	}
	return out, rows.Err()
}
