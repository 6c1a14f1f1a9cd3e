package payment

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

// handle is the consumer of ticketing.orders. It runs in the inbox's
// transaction, so its changes, the messages it publishes and the record's
// id commit together.
func (s *Service) handle(ctx context.Context, r *stream.Record) error {
	tx, ok := outbox.TxFromContext(ctx)
	if !ok {
		return consume.Permanent(errors.New("payment: handler called outside an inbox transaction"))
	}
	typ, err := messages.TypeOf(r.Value)
	if err != nil {
		return consume.Permanent(fmt.Errorf("payment: record %s: %w", r.ID(), err))
	}
	decode := func(v any) error {
		if err := json.Unmarshal(r.Value, v); err != nil {
			return consume.Permanent(fmt.Errorf("payment: %s record %s: %w", typ, r.ID(), err))
		}
		return nil
	}
	switch typ {
	case messages.TypeOrderPlaced:
		var m messages.OrderPlaced
		if err := decode(&m); err != nil {
			return err
		}
		return s.placed(ctx, tx, m)
	case messages.TypeOrderExpired, messages.TypeOrderCanceled:
		var m messages.OrderClosed
		if err := decode(&m); err != nil {
			return err
		}
		return s.closed(ctx, tx, m)
	case messages.TypeRefundApproved:
		var m messages.RefundApproved
		if err := decode(&m); err != nil {
			return err
		}
		return s.refundApproved(ctx, tx, refundOrder{ID: m.RefundID, OrderID: m.OrderID, PaymentID: m.PaymentID,
			Amount: m.Amount, Reason: m.Reason})
	case messages.TypeLatePaymentRejected:
		var m messages.LatePaymentRejected
		if err := decode(&m); err != nil {
			return err
		}
		return s.refundApproved(ctx, tx, refundOrder{ID: "late-" + m.PaymentID, OrderID: m.OrderID, PaymentID: m.PaymentID,
			Amount: m.Amount, Reason: "paid after the order expired and its tickets were gone"})
	}
	return nil // not for this service
}

// placed opens the intent of a new order and publishes PaymentRequested;
// an order already known (placed twice) changes nothing. An order with a
// method this service does not offer, or without an amount, gets
// PaymentFailed at once, so it does not wait for money that cannot come.
func (s *Service) placed(ctx context.Context, tx *sql.Tx, m messages.OrderPlaced) error {
	if m.OrderID == "" {
		return consume.Permanent(errors.New("payment: order.placed without an order id"))
	}
	if _, err := s.intentWhere(ctx, tx, "order_id = ?", m.OrderID, false); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	now := s.now()
	in := Intent{
		ID: "pay_" + uuid.Must(uuid.NewV7()).String(), OrderID: m.OrderID, Number: m.Number, EventID: m.EventID,
		EventName: m.EventName, MerchantID: m.MerchantID, Amount: m.Total, Method: strings.ToLower(strings.TrimSpace(m.Method)),
		State: StateRequested, Buyer: m.Buyer, PayBy: m.HoldExpires.UTC(), CreatedAt: now, UpdatedAt: now,
	}
	switch {
	case in.Method != messages.MethodCash && in.Method != messages.MethodOnline:
		in.State, in.Reason = StateFailed, fmt.Sprintf("payment method %q is not offered; use %s or %s", m.Method, messages.MethodCash, messages.MethodOnline)
	case in.Amount <= 0:
		in.State, in.Reason = StateFailed, fmt.Sprintf("the order's total %d is not a positive amount", m.Total)
	case m.HoldExpires.IsZero():
		in.State, in.Reason = StateFailed, "the order has no hold expiry, so its payment would have no deadline"
	}
	var va, qr any
	if in.Method == messages.MethodOnline && in.State == StateRequested {
		in.VirtualAccount, in.QR = virtualAccount(in.ID), qrString(in.ID, in.Amount)
		va, qr = in.VirtualAccount, in.QR
	}
	buyer, err := json.Marshal(in.Buyer)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO payment_intents (id, order_id, number, event_id, event_name,
		merchant_id, amount, method, state, buyer, pay_by_ns, virtual_account, qr, reason, created_ns, updated_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		in.ID, in.OrderID, in.Number, in.EventID, in.EventName, in.MerchantID, in.Amount, in.Method, in.State, string(buyer),
		in.PayBy.UnixNano(), va, qr, in.Reason, now.UnixNano(), now.UnixNano())
	if err != nil {
		return fmt.Errorf("payment: open intent for order %s: %w", in.OrderID, err)
	}
	if in.State == StateFailed {
		return s.publish(ctx, tx, in.OrderID, messages.PaymentResult{Type: messages.TypePaymentFailed, PaymentID: in.ID,
			OrderID: in.OrderID, Amount: in.Amount, Method: in.Method, Reason: in.Reason, At: now})
	}
	return s.publish(ctx, tx, in.OrderID, messages.PaymentRequested{Type: messages.TypePaymentRequested, PaymentID: in.ID,
		OrderID: in.OrderID, Number: in.Number, Amount: in.Amount, Method: in.Method, PayBy: in.PayBy,
		Instructions: instructions(in), Buyer: in.Buyer, EventName: in.EventName,
		VirtualAccount: in.VirtualAccount, QR: in.QR})
}

// instructions tell the buyer how to pay, in English; notify words them
// in the buyer's language from the message's fields.
func instructions(in Intent) string {
	pay := in.PayBy.Format("2 Jan 2006 15:04 MST")
	if in.Method == messages.MethodCash {
		return fmt.Sprintf("Pay IDR %d in cash at the counter before %s, quoting order number %s.", in.Amount, pay, in.Number)
	}
	return fmt.Sprintf("Transfer IDR %d to virtual account %s, or scan the QR code, before %s.", in.Amount, in.VirtualAccount, pay)
}

// virtualAccount is the 16-digit virtual account number of an online
// intent: the simulated provider's prefix 8808 and 12 digits from the
// intent id.
func virtualAccount(id string) string {
	sum := sha256.Sum256([]byte(id))
	n := binary.BigEndian.Uint64(sum[:8]) % 1_000_000_000_000
	return fmt.Sprintf("8808%012d", n)
}

// qrString is what an online intent's QR code carries for a payment app.
func qrString(id string, amount int64) string {
	return "ARUSPAY|1|" + id + "|IDR|" + strconv.FormatInt(amount, 10)
}

// closed closes the order's intent when it was never paid. A paid intent
// is left as it is: its money goes back only through a refund.
func (s *Service) closed(ctx context.Context, tx *sql.Tx, m messages.OrderClosed) error {
	in, err := s.intentWhere(ctx, tx, "order_id = ?", m.OrderID, true)
	if errors.Is(err, ErrNotFound) {
		return nil // never placed here: nothing to close
	}
	if err != nil {
		return err
	}
	if in.State != StateRequested && in.State != StateFailed {
		return nil
	}
	in.State = StateExpired
	if m.Type == messages.TypeOrderCanceled {
		in.State = StateCanceled
	}
	in.Reason = m.Reason
	in.UpdatedAt = s.now()
	return s.setIntent(ctx, tx, in)
}

// publish writes a message on payment.events, keyed by order id, through
// the outbox in tx.
func (s *Service) publish(ctx context.Context, tx *sql.Tx, orderID string, m any) error {
	value, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.outbox.Write(ctx, tx, &stream.Record{Topic: messages.TopicPayments, Key: []byte(orderID), Value: value})
}

// succeed records money for an intent and publishes PaymentSucceeded. The
// caller has checked that in may succeed.
func (s *Service) succeed(ctx context.Context, tx *sql.Tx, in *Intent, by, key, providerEvent string) error {
	now := s.now()
	in.Late = in.State == StateExpired || in.State == StateCanceled
	in.State, in.PaidBy, in.paidKey, in.ProviderEvent, in.Reason = StateSucceeded, by, key, providerEvent, ""
	in.PaidAt, in.UpdatedAt = now, now
	if err := s.setIntent(ctx, tx, *in); err != nil {
		return err
	}
	return s.publish(ctx, tx, in.OrderID, messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: in.ID,
		OrderID: in.OrderID, Amount: in.Amount, Method: in.Method, ProviderEventID: providerEvent, At: now})
}

// refundOrder is a refund the ticketing service approved.
type refundOrder struct {
	ID, OrderID, PaymentID, Reason string
	Amount                         int64
}

// refundApproved returns money: an online refund goes back through the
// provider at once; a cash refund waits at a counter (CompleteRefund). A
// refund that cannot be made (no money taken, or more than is left) is
// answered with PaymentFailed naming the refund and why, so the ticketing
// service never waits for it.
func (s *Service) refundApproved(ctx context.Context, tx *sql.Tx, ro refundOrder) error {
	if ro.ID == "" || ro.OrderID == "" {
		return consume.Permanent(fmt.Errorf("payment: refund without a refund id or order id (%q, %q)", ro.ID, ro.OrderID))
	}
	if _, err := s.refund(ctx, tx, Everything, ro.ID, false); err == nil {
		return nil // already recorded
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	now := s.now()
	fail := func(paymentID, method string, reason string) error {
		return s.publish(ctx, tx, ro.OrderID, messages.PaymentResult{Type: messages.TypePaymentFailed, PaymentID: paymentID,
			OrderID: ro.OrderID, Amount: ro.Amount, Method: method, RefundID: ro.ID, Reason: reason, At: now})
	}
	in, err := s.intentWhere(ctx, tx, "order_id = ?", ro.OrderID, true)
	if errors.Is(err, ErrNotFound) {
		return fail(ro.PaymentID, "", "no payment was taken for this order")
	}
	if err != nil {
		return err
	}
	if ro.PaymentID != "" && ro.PaymentID != in.ID {
		return fail(ro.PaymentID, in.Method, fmt.Sprintf("payment %s is not the payment of order %s", ro.PaymentID, ro.OrderID))
	}
	if in.State != StateSucceeded && in.State != StatePartiallyRefunded {
		return fail(in.ID, in.Method, fmt.Sprintf("the payment is %s, so there is no money to refund", in.State))
	}
	left := in.Amount - in.Refunded
	if ro.Amount <= 0 || ro.Amount > left {
		return fail(in.ID, in.Method, fmt.Sprintf("a refund of %d does not fit the %d still refundable", ro.Amount, left))
	}
	rf := Refund{ID: ro.ID, PaymentID: in.ID, OrderID: in.OrderID, MerchantID: in.MerchantID, Amount: ro.Amount, Method: in.Method,
		State: RefundPending, Reason: ro.Reason, CreatedAt: now, UpdatedAt: now}
	if in.Method == messages.MethodOnline {
		rf.State, rf.ProviderRef, rf.PaidBy = RefundRefunded, providerRefund(rf.ID), "provider"
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO payment_refunds (id, payment_id, order_id, merchant_id, amount, method,
		state, reason, provider_ref, paid_by, created_ns, updated_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		rf.ID, rf.PaymentID, rf.OrderID, rf.MerchantID, rf.Amount, rf.Method, rf.State, rf.Reason, rf.ProviderRef, rf.PaidBy,
		now.UnixNano(), now.UnixNano())
	if store.IsUniqueViolation(err) {
		return fmt.Errorf("payment: refund %s recorded concurrently: %w", rf.ID, err)
	}
	if err != nil {
		return fmt.Errorf("payment: record refund %s: %w", rf.ID, err)
	}
	if rf.State == RefundRefunded {
		return s.refunded(ctx, tx, &in, rf)
	}
	return nil
}

// refunded counts a refund's money as returned and publishes
// PaymentRefunded.
func (s *Service) refunded(ctx context.Context, tx *sql.Tx, in *Intent, rf Refund) error {
	now := s.now()
	in.Refunded += rf.Amount
	in.State = StatePartiallyRefunded
	if in.Refunded >= in.Amount {
		in.State = StateRefunded
	}
	in.UpdatedAt = now
	if err := s.setIntent(ctx, tx, *in); err != nil {
		return err
	}
	return s.publish(ctx, tx, in.OrderID, messages.PaymentResult{Type: messages.TypePaymentRefunded, PaymentID: in.ID,
		OrderID: in.OrderID, Amount: rf.Amount, Method: in.Method, RefundID: rf.ID, ProviderEventID: rf.ProviderRef, At: now})
}

// providerRefund is the simulated provider's reference for a refund.
func providerRefund(refundID string) string {
	sum := sha256.Sum256([]byte("refund|" + refundID))
	return fmt.Sprintf("rf_%x", sum[:10])
}

// CloseOverdue closes, as expired, the intents still waiting for money
// (requested or failed) whose order's hold ran out more than OverdueGrace
// ago: the ticketing service's OrderExpired should have closed them, and
// an intent must not wait for ever when it did not come. An online payment
// that arrives afterwards is still taken, late, as for any closed intent.
// It returns how many it closed.
func (s *Service) CloseOverdue(ctx context.Context) (int, error) {
	now := s.now()
	cutoff := now.Add(-s.cfg.OverdueGrace).UnixNano()
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE payment_intents SET state = ?, reason = ?, updated_ns = ?
		WHERE state IN (?, ?) AND pay_by_ns < ?`),
		StateExpired, "the order's hold ran out and no expiry came from the ticketing service", now.UnixNano(),
		StateRequested, StateFailed, cutoff)
	if err != nil {
		return 0, fmt.Errorf("payment: close overdue intents: %w", err)
	}
	n, err := res.RowsAffected()
	if n > 0 {
		s.log.Warn("payment: closed intents whose order's expiry never came", "intents", n, "grace", s.cfg.OverdueGrace)
	}
	return int(n), err
}

// closeOverdueLoop runs CloseOverdue every minute until ctx ends.
func (s *Service) closeOverdueLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if _, err := s.CloseOverdue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("payment: closing overdue intents failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
