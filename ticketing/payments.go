package ticketing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/inventory"
	"github.com/arus-platform/arus/ticketing/messages"
)

// handlePayment applies what the payment service reports on
// payment.events, in the inbox's transaction, so a redelivered message has
// no second effect:
//
//   - PaymentSucceeded sells the order's held tickets, issues one ticket
//     per admission and publishes OrderPaid and TicketsIssued. A payment
//     for a hold that expired or was released takes the tickets if they
//     are still free (OrderPaid says late); otherwise the order stays
//     closed and LatePaymentRejected asks the payment service to refund.
//   - PaymentFailed cancels a pending order and gives its tickets back.
//   - PaymentRefunded completes a refund: OrderRefunded.
func (s *Service) handlePayment(ctx context.Context, r *stream.Record) error {
	tx, err := handlerTx(ctx)
	if err != nil {
		return err
	}
	var m messages.PaymentResult
	if err := json.Unmarshal(r.Value, &m); err != nil {
		return consume.Permanent(fmt.Errorf("ticketing: %s: %w", r.Topic, err))
	}
	switch m.Type {
	case messages.TypePaymentSucceeded:
		return s.paymentSucceeded(ctx, tx, m)
	case messages.TypePaymentFailed:
		return s.paymentFailed(ctx, tx, m)
	case messages.TypePaymentRefunded:
		return s.paymentRefunded(ctx, tx, m)
	}
	return nil // PaymentRequested and what may come later concern others
}

func (s *Service) paymentOrder(ctx context.Context, tx *sql.Tx, m messages.PaymentResult) (Order, error) {
	o, err := s.orderTx(ctx, tx, Everything, m.OrderID)
	if errors.Is(err, ErrNotFound) {
		return Order{}, consume.Permanent(fmt.Errorf("ticketing: %s for unknown order %s", m.Type, m.OrderID))
	}
	return o, err
}

func (s *Service) paymentSucceeded(ctx context.Context, tx *sql.Tx, m messages.PaymentResult) error {
	o, err := s.paymentOrder(ctx, tx, m)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	reject := func(reason string) error {
		s.log.Warn("ticketing: payment refused; the payment service refunds it", "order_id", o.ID, "payment_id", m.PaymentID, "reason", reason)
		if o.Status == OrderPending || o.Status == OrderExpired || o.Status == OrderCanceled {
			status := o.Status
			if status == OrderPending {
				// A refused payment ends the order: its tickets go back now.
				status = OrderCanceled
				s.releaseLines(ctx, o.EventID, o.ID, o.Lines)
			}
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE orders SET status = ?, reason = ?, closed_at = ? WHERE id = ?`),
				status, reasonText(reason), micros(now), o.ID); err != nil {
				return err
			}
		}
		return s.publish(ctx, tx, o.ID, messages.LatePaymentRejected{Type: messages.TypeLatePaymentRejected, OrderID: o.ID,
			Number: o.Number, PaymentID: m.PaymentID, Amount: m.Amount, Buyer: o.Buyer, At: now})
	}
	switch o.Status {
	case OrderPending, OrderExpired, OrderCanceled:
	default:
		if o.PaymentID == m.PaymentID {
			return nil // this payment was taken already
		}
		return reject(fmt.Sprintf("order %s was paid already by payment %s", o.Number, o.PaymentID))
	}
	if m.Amount != o.Total {
		return reject(fmt.Sprintf("payment of %d rupiah does not match the total of %d", m.Amount, o.Total))
	}
	// Confirm is idempotent: a redelivery finds the sales made before.
	late := o.Status != OrderPending
	var sold []messages.Line
	refused := ""
	for _, l := range o.Lines {
		sale, err := s.inv.Confirm(ctx, inventory.AreaID{Event: o.EventID, Area: l.AreaID}, o.ID)
		switch {
		case errors.Is(err, inventory.ErrUnknownOrder):
			refused = fmt.Sprintf("the tickets of %s were given back before the payment came", l.AreaName)
		case err != nil:
			return fmt.Errorf("ticketing: confirm %s of %s: %w", l.AreaName, o.Number, err)
		case sale.Outcome == inventory.Refund:
			refused = fmt.Sprintf("the hold expired and the tickets of %s were sold to others", l.AreaName)
		default:
			sold = append(sold, l)
			late = late || sale.Outcome == inventory.SoldLate
		}
	}
	if refused != "" {
		// Some area could not be sold: give back what was, so the order
		// is all or nothing.
		for _, l := range sold {
			// Keyed by the order: a redelivery returns nothing twice.
			if err := s.inv.Return(ctx, inventory.AreaID{Event: o.EventID, Area: l.AreaID}, o.ID, "late."+o.ID, l.Quantity); err != nil {
				return fmt.Errorf("ticketing: return %s of %s: %w", l.AreaName, o.Number, err)
			}
		}
		return reject("late payment refused: " + refused)
	}
	var tickets []messages.Ticket
	for _, l := range o.Lines {
		for range l.Quantity {
			t := messages.Ticket{TicketID: newID("tkt"), AreaID: l.AreaID, AreaName: l.AreaName, Code: secret(16)}
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO tickets (id, order_id, event_id, area_id, area_name, price, code, status, issued_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), t.TicketID, o.ID, o.EventID, t.AreaID, t.AreaName, l.UnitPrice, t.Code, TicketValid, micros(now)); err != nil {
				return fmt.Errorf("ticketing: issue tickets of %s: %w", o.Number, err)
			}
			tickets = append(tickets, t)
		}
	}
	reason := ""
	if late {
		reason = "paid after the hold expired; the tickets were still free"
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE orders SET status = ?, paid = 1, payment_received = ?, payment_id = ?, paid_at = ?,
		reason = ?, closed_at = 0 WHERE id = ? AND status = ?`), OrderValidated, m.Amount, m.PaymentID, micros(now), reason, o.ID, o.Status)
	if err != nil {
		return fmt.Errorf("ticketing: pay %s: %w", o.Number, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// The sweeper or a cancellation closed the order meanwhile: the
		// retry decides again on its new state (Confirm is idempotent).
		return fmt.Errorf("ticketing: pay %s: the order left %s meanwhile; trying again", o.Number, o.Status)
	}
	e, err := s.eventTx(ctx, tx, Everything, o.EventID)
	if err != nil {
		return err
	}
	return s.publish(ctx, tx, o.ID,
		messages.OrderPaid{Type: messages.TypeOrderPaid, OrderID: o.ID, Number: o.Number, EventID: o.EventID, PaymentID: m.PaymentID,
			Amount: m.Amount, Late: late, At: now},
		messages.TicketsIssued{Type: messages.TypeTicketsIssued, OrderID: o.ID, Number: o.Number, EventID: o.EventID, EventName: e.Title(),
			Buyer: o.Buyer, Tickets: tickets, Starts: e.Starts, Ends: e.Ends, TimeZone: e.TimeZone, At: now})
}

func (s *Service) paymentFailed(ctx context.Context, tx *sql.Tx, m messages.PaymentResult) error {
	o, err := s.paymentOrder(ctx, tx, m)
	if err != nil {
		return err
	}
	if o.Status != OrderPending {
		return nil
	}
	s.releaseLines(ctx, o.EventID, o.ID, o.Lines)
	now := s.cfg.Now().UTC()
	reason := "payment failed"
	if m.Reason != "" {
		reason += ": " + m.Reason
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE orders SET status = ?, reason = ?, closed_at = ? WHERE id = ? AND status = ?`),
		OrderCanceled, reasonText(reason), micros(now), o.ID, OrderPending); err != nil {
		return err
	}
	return s.publish(ctx, tx, o.ID, messages.OrderClosed{Type: messages.TypeOrderCanceled, OrderID: o.ID, Number: o.Number,
		EventID: o.EventID, Reason: reason, At: now, Buyer: o.Buyer})
}

func (s *Service) paymentRefunded(ctx context.Context, tx *sql.Tx, m messages.PaymentResult) error {
	if m.RefundID == "" {
		return nil // the refund of a refused payment: nothing of the order changes
	}
	ref, err := s.refundTx(ctx, tx, Everything, m.RefundID)
	if errors.Is(err, ErrNotFound) {
		return consume.Permanent(fmt.Errorf("ticketing: payment.refunded for unknown refund %s", m.RefundID))
	}
	if err != nil {
		return err
	}
	if ref.Status != RefundApproved {
		return nil // refunded already
	}
	o, err := s.orderTx(ctx, tx, Everything, ref.OrderID)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE refunds SET status = ?, refunded_at = ? WHERE id = ? AND status = ?`),
		RefundRefunded, micros(now), ref.ID, RefundApproved); err != nil {
		return err
	}
	refunded := o.Refunded + m.Amount
	status := OrderPartiallyRefunded
	if refunded >= o.PaymentReceived {
		status = OrderRefunded
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE orders SET refunded = ?, status = ? WHERE id = ?`), refunded, status, o.ID); err != nil {
		return err
	}
	return s.publish(ctx, tx, o.ID, messages.OrderRefunded{Type: messages.TypeOrderRefunded, RefundID: ref.ID, OrderID: o.ID,
		Amount: m.Amount, Partial: status == OrderPartiallyRefunded, Buyer: o.Buyer, At: now})
}
