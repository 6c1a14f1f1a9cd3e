package payment

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing/messages"
)

// CashPayment is cash a cashier took for an intent at a counter.
type CashPayment struct {
	// Received is the cash handed over: at least the amount due; the rest
	// is change.
	Received int64
	// Cashier names who took it.
	Cashier string
	// Key is the request's idempotency key: the same key again answers
	// with the intent as it was paid, and takes no more money.
	Key string
}

// ConfirmCash records cash received for a cash intent in the scope and
// publishes PaymentSucceeded in the same transaction. Only a requested
// intent can take cash: an expired or canceled order's tickets are no
// longer held.
func (s *Service) ConfirmCash(ctx context.Context, sc Scope, id string, p CashPayment) (Intent, error) {
	p.Key = strings.TrimSpace(p.Key)
	var out Intent
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		in, err := s.intentIn(ctx, tx, sc, "id = ?", id, true, invalid.Refuse(ErrNotFound, "intent_unknown", "no payment intent %q", id))
		if err != nil {
			return err
		}
		if p.Key != "" && in.paidKey == p.Key && in.State != StateRequested {
			out = in // the same request again
			return nil
		}
		if in.Method != messages.MethodCash {
			return invalid.Refuse(ErrState, "intent_not_cash", "intent %s is paid %s, not in cash", id, in.Method)
		}
		if in.State != StateRequested {
			return invalid.Refuse(ErrState, "intent_not_requested", "intent %s is %s; only a requested intent takes cash", id, in.State)
		}
		if now := s.now(); now.After(in.PayBy) {
			return invalid.Refuse(ErrState, "hold_ran_out", "the hold of order %s ran out at %s, so its tickets are no longer held; take no cash for it",
				in.Number, in.PayBy.Format(time.RFC3339))
		}
		if p.Received < in.Amount {
			return invalid.New(ErrInvalid, "received", "%d is less than the %d due", p.Received, in.Amount)
		}
		in.Received = p.Received
		if err := s.succeed(ctx, tx, &in, p.Cashier, p.Key, ""); err != nil {
			return err
		}
		in.Change = in.Received - in.Amount
		out = in
		return nil
	})
	return out, err
}

// CompleteRefund records that a pending cash refund in the scope was paid
// out at a counter, and publishes PaymentRefunded. key is the request's
// idempotency key, as for ConfirmCash.
func (s *Service) CompleteRefund(ctx context.Context, sc Scope, id, cashier, key string) (Refund, error) {
	key = strings.TrimSpace(key)
	var out Refund
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		rf, err := s.refund(ctx, tx, sc, id, true)
		if err != nil {
			return err
		}
		if key != "" && rf.paidKey == key && rf.State == RefundRefunded {
			out = rf
			return nil
		}
		if rf.State != RefundPending {
			return invalid.Refuse(ErrState, "refund_not_pending", "refund %s is %s; only a pending refund is paid out", id, rf.State)
		}
		in, err := s.intentWhere(ctx, tx, "id = ?", rf.PaymentID, true)
		if err != nil {
			return err
		}
		now := s.now()
		rf.State, rf.PaidBy, rf.paidKey, rf.UpdatedAt = RefundRefunded, cashier, key, now
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE payment_refunds SET state = ?, paid_by = ?, paid_key = ?, updated_ns = ? WHERE id = ?`),
			rf.State, rf.PaidBy, rf.paidKey, now.UnixNano(), rf.ID); err != nil {
			return fmt.Errorf("payment: complete refund %s: %w", rf.ID, err)
		}
		out = rf
		return s.refunded(ctx, tx, &in, rf)
	})
	return out, err
}
