package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

// cardLimit is what the simulated card provider accepts in one payment.
const cardLimit = 1_000_000

// paymentService makes an invoice for each placed order and charges it,
// publishing payments.completed or payments.failed.
type paymentService struct {
	*service
	out *console
}

func newPaymentService(ctx context.Context, b stream.Broker, dir string, out *console, log *slog.Logger) (*paymentService, error) {
	s, err := openService(ctx, b, dir, "payments", []string{TopicOrderPlaced}, log)
	if err != nil {
		return nil, err
	}
	return &paymentService{service: s, out: out}, nil
}

func (s *paymentService) handle(ctx context.Context, r *stream.Record) error {
	var o Order
	if err := json.Unmarshal(r.Value, &o); err != nil {
		return consume.Permanent(fmt.Errorf("order event %s: %w", r.ID(), err))
	}
	tx, err := inboxTx(ctx)
	if err != nil {
		return err
	}
	p := Payment{OrderID: o.ID, InvoiceID: "INV-" + o.ID, Amount: o.Amount}
	status, topic := "paid", TopicPaymentCompleted
	if o.Amount > cardLimit {
		status, topic = "declined", TopicPaymentFailed
		p.Reason = "card declined: " + rupiah(o.Amount) + " is over the card's limit of " + rupiah(cardLimit)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO invoices (order_id, invoice_id, amount, status, reason) VALUES (?, ?, ?, ?, ?)`),
		p.OrderID, p.InvoiceID, p.Amount, status, p.Reason); err != nil {
		return fmt.Errorf("invoice for %s: %w", o.ID, err)
	}
	ev, err := event(topic, o.ID, p)
	if err != nil {
		return err
	}
	if err := s.outbox.Write(ctx, tx, ev); err != nil {
		return err
	}
	s.out.say("payment", "%s invoice %s for %s: %s", o.ID, p.InvoiceID, rupiah(p.Amount), status)
	return nil
}
