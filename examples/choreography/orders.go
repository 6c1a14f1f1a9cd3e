package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

// orderService takes orders and follows them: it publishes orders.placed,
// and when the payment service has answered, confirms or cancels the order
// (the compensation of a failed payment) and says so on orders.confirmed
// or orders.cancelled.
type orderService struct {
	*service
	out *console
}

func newOrderService(ctx context.Context, b stream.Broker, dir string, out *console, log *slog.Logger) (*orderService, error) {
	s, err := openService(ctx, b, dir, "orders", []string{TopicPaymentCompleted, TopicPaymentFailed}, log)
	if err != nil {
		return nil, err
	}
	return &orderService{service: s, out: out}, nil
}

// place stores a new order and its orders.placed event in one transaction.
func (s *orderService) place(ctx context.Context, o Order) error {
	o.Status = "placed"
	ev, err := event(TopicOrderPlaced, o.ID, o)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO orders (id, customer, email, amount, status) VALUES (?, ?, ?, ?, ?)`),
		o.ID, o.Customer, o.Email, o.Amount, o.Status); err != nil {
		return fmt.Errorf("place order %s: %w", o.ID, err)
	}
	if err := s.outbox.Write(ctx, tx, ev); err != nil {
		return fmt.Errorf("place order %s: %w", o.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("place order %s: %w", o.ID, err)
	}
	s.out.say("order", "%s placed by %s, %s", o.ID, o.Customer, rupiah(o.Amount))
	return nil
}

// handle applies a payment result to its order.
func (s *orderService) handle(ctx context.Context, r *stream.Record) error {
	var p Payment
	if err := json.Unmarshal(r.Value, &p); err != nil {
		return consume.Permanent(fmt.Errorf("payment event %s: %w", r.ID(), err))
	}
	tx, err := inboxTx(ctx)
	if err != nil {
		return err
	}
	var o Order
	err = tx.QueryRowContext(ctx, s.db.Rebind(`SELECT id, customer, email, amount, status FROM orders WHERE id = ?`), p.OrderID).
		Scan(&o.ID, &o.Customer, &o.Email, &o.Amount, &o.Status)
	if err != nil {
		return fmt.Errorf("order %s: %w", p.OrderID, err)
	}
	if o.Status != "placed" {
		return nil // already decided
	}
	topic := TopicOrderConfirmed
	o.Status = "confirmed"
	if r.Topic == TopicPaymentFailed {
		topic, o.Status, o.Reason = TopicOrderCancelled, "cancelled", p.Reason
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE orders SET status = ?, reason = ? WHERE id = ?`), o.Status, o.Reason, o.ID); err != nil {
		return fmt.Errorf("order %s: %w", o.ID, err)
	}
	ev, err := event(topic, o.ID, o)
	if err != nil {
		return err
	}
	if err := s.outbox.Write(ctx, tx, ev); err != nil {
		return err
	}
	if o.Status == "confirmed" {
		s.out.say("order", "%s confirmed (invoice %s paid)", o.ID, p.InvoiceID)
	} else {
		s.out.say("order", "%s cancelled: %s", o.ID, o.Reason)
	}
	return nil
}

// statuses returns every order's status.
func (s *orderService) statuses(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, status FROM orders`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			return nil, err
		}
		out[id] = status
	}
	return out, rows.Err()
}
