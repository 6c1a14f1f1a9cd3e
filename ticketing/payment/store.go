package payment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/messages"
)

// Scope is whose payments a caller may see and act on: every merchant's
// (the platform's admins), or those of the orders of the merchants listed
// (a merchant's cashiers). A payment outside the scope is reported as not
// found, as an unknown one is. An intent opened before orders' merchants
// were recorded here belongs to no merchant: only All covers it.
type Scope struct {
	All       bool
	Merchants []string
}

// Everything is the platform's scope.
var Everything = Scope{All: true}

// Allows reports whether the scope covers a payment of merchant's order.
func (sc Scope) Allows(merchant string) bool {
	return sc.All || merchant != "" && slices.Contains(sc.Merchants, merchant)
}

// where returns the SQL condition keeping the scope's rows, and its
// arguments.
func (sc Scope) where() (string, []any) {
	if sc.All {
		return "1 = 1", nil
	}
	var args []any
	for _, m := range sc.Merchants {
		if m != "" { // no merchant is covered only by All
			args = append(args, m)
		}
	}
	if len(args) == 0 {
		return "1 = 0", nil
	}
	return "merchant_id IN (?" + strings.Repeat(", ?", len(args)-1) + ")", args
}

// Intent is the payment of one order.
type Intent struct {
	ID        string `json:"id"`
	OrderID   string `json:"order_id"`
	Number    string `json:"number"`
	EventID   string `json:"event_id"`
	EventName string `json:"event_name"`
	// MerchantID is the merchant whose event the order is for; empty for
	// an intent opened before merchants were recorded.
	MerchantID string         `json:"merchant_id,omitempty"`
	Amount     int64          `json:"amount"`
	Method     string         `json:"method"`
	State      string         `json:"state"`
	Buyer      messages.Buyer `json:"buyer"`
	PayBy      time.Time      `json:"pay_by"`
	// VirtualAccount and QR are where an online intent is paid.
	VirtualAccount string `json:"virtual_account,omitempty"`
	QR             string `json:"qr,omitempty"`
	// Received is the cash handed over at the counter (at least Amount);
	// Change is what was given back.
	Received int64 `json:"received,omitempty"`
	Change   int64 `json:"change,omitempty"`
	Refunded int64 `json:"refunded"`
	// Late is true when the money arrived after the intent had closed.
	Late bool `json:"late,omitempty"`
	// PaidBy is the cashier who took cash, or "provider".
	PaidBy        string    `json:"paid_by,omitempty"`
	ProviderEvent string    `json:"provider_event,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	PaidAt        time.Time `json:"paid_at,omitzero"`

	paidKey string
}

// Refund is money returned for an intent, or waiting at a counter to be.
type Refund struct {
	ID          string    `json:"id"`
	PaymentID   string    `json:"payment_id"`
	OrderID     string    `json:"order_id"`
	MerchantID  string    `json:"merchant_id,omitempty"`
	Amount      int64     `json:"amount"`
	Method      string    `json:"method"`
	State       string    `json:"state"`
	Reason      string    `json:"reason"`
	ProviderRef string    `json:"provider_ref,omitempty"`
	PaidBy      string    `json:"paid_by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	paidKey string
}

const intentColumns = `id, order_id, number, event_id, event_name, merchant_id, amount, method, state, buyer, pay_by_ns,
	COALESCE(virtual_account, ''), COALESCE(qr, ''), received, refunded, late, paid_by, paid_key, provider_event,
	reason, created_ns, updated_ns, paid_ns`

type scanner interface{ Scan(dest ...any) error }

func scanIntent(r scanner) (Intent, error) {
	var in Intent
	var buyer string
	var payBy, created, updated, paid int64
	err := r.Scan(&in.ID, &in.OrderID, &in.Number, &in.EventID, &in.EventName, &in.MerchantID, &in.Amount, &in.Method, &in.State,
		&buyer, &payBy, &in.VirtualAccount, &in.QR, &in.Received, &in.Refunded, &in.Late, &in.PaidBy, &in.paidKey,
		&in.ProviderEvent, &in.Reason, &created, &updated, &paid)
	if err != nil {
		return Intent{}, err
	}
	if err := json.Unmarshal([]byte(buyer), &in.Buyer); err != nil {
		return Intent{}, fmt.Errorf("payment: intent %s: buyer: %w", in.ID, err)
	}
	in.PayBy, in.CreatedAt, in.UpdatedAt = fromNanos(payBy), fromNanos(created), fromNanos(updated)
	if paid != 0 {
		in.PaidAt = fromNanos(paid)
	}
	if in.Received > in.Amount {
		in.Change = in.Received - in.Amount
	}
	return in, nil
}

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// forUpdate locks the rows a read returns until the transaction ends, on
// PostgreSQL; SQLite's transactions hold the whole database already.
func (s *Service) forUpdate() string {
	if s.db.Dialect == store.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// intentWhere reads one intent; lock takes its row lock in a transaction.
func (s *Service) intentWhere(ctx context.Context, q store.Querier, cond string, arg any, lock bool) (Intent, error) {
	query := `SELECT ` + intentColumns + ` FROM payment_intents WHERE ` + cond
	if lock {
		query += s.forUpdate()
	}
	in, err := scanIntent(q.QueryRowContext(ctx, s.db.Rebind(query), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Intent{}, ErrNotFound
	}
	if err != nil {
		return Intent{}, fmt.Errorf("payment: read intent: %w", err)
	}
	return in, nil
}

// intentIn reads one intent in the scope, as intentWhere; one outside the
// scope is not found, and the answer is notFound, the refusal that names
// it as the caller did.
func (s *Service) intentIn(ctx context.Context, q store.Querier, sc Scope, cond string, arg any, lock bool, notFound error) (Intent, error) {
	in, err := s.intentWhere(ctx, q, cond, arg, lock)
	if err == nil && !sc.Allows(in.MerchantID) {
		err = ErrNotFound
	}
	if errors.Is(err, ErrNotFound) {
		return Intent{}, notFound
	}
	return in, err
}

// Intent returns the intent with this id, in the scope.
func (s *Service) Intent(ctx context.Context, sc Scope, id string) (Intent, error) {
	return s.intentIn(ctx, s.db, sc, "id = ?", id, false, invalid.Refuse(ErrNotFound, "intent_unknown", "no payment intent %q", id))
}

// IntentByNumber returns the intent of the order with this number, in the
// scope, as a cashier looks it up at the counter.
func (s *Service) IntentByNumber(ctx context.Context, sc Scope, number string) (Intent, error) {
	return s.intentIn(ctx, s.db, sc, "number = ?", strings.TrimSpace(number), false, invalid.Refuse(ErrNotFound, "order_intent_unknown", "no payment intent for order number %q", number))
}

// IntentQuery filters [Service.Intents].
type IntentQuery struct {
	// State keeps intents in this state; empty keeps all.
	State string
	// Limit is the most intents returned, newest first. Default 100.
	Limit int
}

// Intents lists the intents in the scope, newest first.
func (s *Service) Intents(ctx context.Context, sc Scope, q IntentQuery) ([]Intent, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	where, args := sc.where()
	query := `SELECT ` + intentColumns + ` FROM payment_intents WHERE ` + where
	if q.State != "" {
		query += ` AND state = ?`
		args = append(args, q.State)
	}
	query += ` ORDER BY created_ns DESC, id LIMIT ?`
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("payment: list intents: %w", err)
	}
	defer rows.Close()
	out := []Intent{}
	for rows.Next() {
		in, err := scanIntent(rows)
		if err != nil {
			return nil, fmt.Errorf("payment: list intents: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

const refundColumns = `id, payment_id, order_id, merchant_id, amount, method, state, reason, provider_ref, paid_by, paid_key, created_ns, updated_ns`

func scanRefund(r scanner) (Refund, error) {
	var rf Refund
	var created, updated int64
	if err := r.Scan(&rf.ID, &rf.PaymentID, &rf.OrderID, &rf.MerchantID, &rf.Amount, &rf.Method, &rf.State, &rf.Reason,
		&rf.ProviderRef, &rf.PaidBy, &rf.paidKey, &created, &updated); err != nil {
		return Refund{}, err
	}
	rf.CreatedAt, rf.UpdatedAt = fromNanos(created), fromNanos(updated)
	return rf, nil
}

// refund reads one refund in the scope; lock takes its row lock in a
// transaction.
func (s *Service) refund(ctx context.Context, q store.Querier, sc Scope, id string, lock bool) (Refund, error) {
	query := `SELECT ` + refundColumns + ` FROM payment_refunds WHERE id = ?`
	if lock {
		query += s.forUpdate()
	}
	rf, err := scanRefund(q.QueryRowContext(ctx, s.db.Rebind(query), id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && !sc.Allows(rf.MerchantID) {
		return Refund{}, invalid.Refuse(ErrNotFound, "refund_unknown", "no refund %q", id)
	}
	if err != nil {
		return Refund{}, fmt.Errorf("payment: read refund: %w", err)
	}
	return rf, nil
}

// Refund returns the refund with this id, in the scope.
func (s *Service) Refund(ctx context.Context, sc Scope, id string) (Refund, error) {
	return s.refund(ctx, s.db, sc, id, false)
}

// RefundQuery filters [Service.Refunds].
type RefundQuery struct {
	// State keeps refunds in this state (pending: cash waiting at a
	// counter); empty keeps all.
	State string
	// OrderID keeps the refunds of one order.
	OrderID string
	// Limit is the most refunds returned, newest first. Default 100.
	Limit int
}

// Refunds lists the refunds in the scope, newest first.
func (s *Service) Refunds(ctx context.Context, sc Scope, q RefundQuery) ([]Refund, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	where, args := sc.where()
	query := `SELECT ` + refundColumns + ` FROM payment_refunds WHERE ` + where
	if q.State != "" {
		query += ` AND state = ?`
		args = append(args, q.State)
	}
	if q.OrderID != "" {
		query += ` AND order_id = ?`
		args = append(args, q.OrderID)
	}
	query += ` ORDER BY created_ns DESC, id LIMIT ?`
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("payment: list refunds: %w", err)
	}
	defer rows.Close()
	out := []Refund{}
	for rows.Next() {
		rf, err := scanRefund(rows)
		if err != nil {
			return nil, fmt.Errorf("payment: list refunds: %w", err)
		}
		out = append(out, rf)
	}
	return out, rows.Err()
}

// setIntent writes an intent's changing fields.
func (s *Service) setIntent(ctx context.Context, tx *sql.Tx, in Intent) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE payment_intents SET state = ?, received = ?, refunded = ?,
		late = ?, paid_by = ?, paid_key = ?, provider_event = ?, reason = ?, updated_ns = ?, paid_ns = ? WHERE id = ?`),
		in.State, in.Received, in.Refunded, in.Late, in.PaidBy, in.paidKey, in.ProviderEvent, in.Reason,
		in.UpdatedAt.UnixNano(), nanosOrZero(in.PaidAt), in.ID)
	if err != nil {
		return fmt.Errorf("payment: update intent %s: %w", in.ID, err)
	}
	return nil
}

func nanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
