package ticketing

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
	"github.com/arus-platform/arus/ticketing/inventory"
	"github.com/arus-platform/arus/ticketing/messages"
)

// Refund states: requested by a cashier or the merchant, then approved or
// rejected; an approved refund is refunded when the payment service
// reports the money returned.
const (
	RefundRequested = "requested"
	RefundApproved  = "approved"
	RefundRejected  = "rejected"
	RefundRefunded  = "refunded"
)

// RefundStatuses lists every refund state.
var RefundStatuses = []string{RefundRequested, RefundApproved, RefundRejected, RefundRefunded}

// Refund kinds.
const (
	// RefundFull returns the money left on the order and revokes every
	// valid ticket.
	RefundFull = "full"
	// RefundTickets returns the price of the tickets named and revokes
	// them.
	RefundTickets = "tickets"
	// RefundPartial returns an amount and revokes nothing (a goodwill
	// refund).
	RefundPartial = "partial"
)

// Refund is a request to return money of a paid order.
type Refund struct {
	ID             string    `json:"id"`
	OrderID        string    `json:"order_id"`
	EventID        string    `json:"event_id"`
	MerchantID     string    `json:"merchant_id"`
	Kind           string    `json:"kind"`
	Amount         int64     `json:"amount"`
	TicketIDs      []string  `json:"ticket_ids"`
	Reason         string    `json:"reason"`
	Status         string    `json:"status"`
	RequestedBy    string    `json:"requested_by"`
	DecidedBy      string    `json:"decided_by,omitempty"`
	DecisionReason string    `json:"decision_reason,omitempty"`
	RequestedAt    time.Time `json:"requested_at"`
	DecidedAt      time.Time `json:"decided_at,omitzero"`
	RefundedAt     time.Time `json:"refunded_at,omitzero"`
}

// RefundInput is what requesting a refund takes.
type RefundInput struct {
	Kind string `json:"kind"`
	// Amount is for a partial refund only.
	Amount int64 `json:"amount,omitempty"`
	// TicketIDs is for a refund of tickets only.
	TicketIDs []string `json:"ticket_ids,omitempty"`
	Reason    string   `json:"reason"`
}

const refundColumns = `id, order_id, event_id, merchant_id, kind, amount, ticket_ids, reason, status, requested_by, decided_by,
	decision_reason, requested_at, decided_at, refunded_at`

func scanRefund(sc interface{ Scan(...any) error }) (Refund, error) {
	var r Refund
	var tickets string
	var requested, decided, refunded int64
	err := sc.Scan(&r.ID, &r.OrderID, &r.EventID, &r.MerchantID, &r.Kind, &r.Amount, &tickets, &r.Reason, &r.Status, &r.RequestedBy,
		&r.DecidedBy, &r.DecisionReason, &requested, &decided, &refunded)
	if err != nil {
		return r, err
	}
	r.TicketIDs = []string{}
	if err := json.Unmarshal([]byte(tickets), &r.TicketIDs); err != nil {
		return r, fmt.Errorf("ticket ids of refund %s: %w", r.ID, err)
	}
	r.RequestedAt, r.DecidedAt, r.RefundedAt = fromMicros(requested), fromMicros(decided), fromMicros(refunded)
	return r, nil
}

// RequestRefund records a refund request for a paid order.
func (s *Service) RequestRefund(ctx context.Context, sc Scope, orderID, by string, in RefundInput) (Refund, error) {
	var c checker
	c.oneOf("kind", in.Kind, []string{RefundFull, RefundTickets, RefundPartial})
	c.text("reason", in.Reason, 1, 500)
	if in.Kind != RefundPartial && in.Amount != 0 {
		c.Add("amount", "only a partial refund names an amount; a %s refund's amount follows from its tickets", in.Kind)
	}
	if in.Kind != RefundTickets && len(in.TicketIDs) > 0 {
		c.Add("ticket_ids", "only a refund of tickets names tickets")
	}
	if in.Kind == RefundTickets && len(in.TicketIDs) == 0 {
		c.Add("ticket_ids", "a refund of tickets names at least one ticket")
	}
	if err := c.err(); err != nil {
		return Refund{}, err
	}
	o, err := s.Order(ctx, sc, orderID)
	if err != nil {
		return Refund{}, err
	}
	if o.Status != OrderValidated && o.Status != OrderPartiallyRefunded {
		return Refund{}, invalid.Refuse(ErrConflict, "order_not_paid", "order %s is %s; only a paid order can be refunded", o.Number, o.Status)
	}
	pending, err := s.pendingRefunds(ctx, s.db, o.ID)
	if err != nil {
		return Refund{}, err
	}
	left := o.PaymentReceived - o.Refunded - pending
	r := Refund{ID: newID("ref"), OrderID: o.ID, EventID: o.EventID, MerchantID: o.MerchantID, Kind: in.Kind, Reason: strings.TrimSpace(in.Reason),
		Status: RefundRequested, RequestedBy: by, RequestedAt: s.cfg.Now().UTC().Truncate(time.Microsecond), TicketIDs: []string{}}
	switch in.Kind {
	case RefundFull:
		for _, t := range o.Tickets {
			if t.Status == TicketValid {
				r.TicketIDs = append(r.TicketIDs, t.ID)
			}
		}
		r.Amount = left
	case RefundTickets:
		for i, id := range in.TicketIDs {
			j := slices.IndexFunc(o.Tickets, func(t Ticket) bool { return t.ID == id })
			switch {
			case j < 0:
				c.Add(fmt.Sprintf("ticket_ids[%d]", i), "order %s has no ticket %s", o.Number, id)
			case o.Tickets[j].Status != TicketValid:
				c.Add(fmt.Sprintf("ticket_ids[%d]", i), "ticket %s is %s", id, o.Tickets[j].Status)
			case slices.Contains(r.TicketIDs, id):
				c.Add(fmt.Sprintf("ticket_ids[%d]", i), "ticket %s is named twice", id)
			default:
				r.TicketIDs = append(r.TicketIDs, id)
				r.Amount += o.Tickets[j].Price
			}
		}
	case RefundPartial:
		r.Amount = in.Amount
	}
	if r.Amount < 1 || r.Amount > left {
		c.Add("amount", "%d rupiah: must be from 1 to the %d left to refund on order %s", r.Amount, left, o.Number)
	}
	if err := c.err(); err != nil {
		return Refund{}, err
	}
	if err := s.insertRefund(ctx, s.db, r); err != nil {
		return Refund{}, err
	}
	return r, nil
}

func (s *Service) insertRefund(ctx context.Context, q execer, r Refund) error {
	tickets, err := json.Marshal(r.TicketIDs)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, s.db.Rebind(`INSERT INTO refunds (id, order_id, event_id, merchant_id, kind, amount, ticket_ids, reason, status,
		requested_by, decided_by, requested_at, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.OrderID, r.EventID, r.MerchantID, r.Kind, r.Amount, string(tickets), r.Reason, r.Status, r.RequestedBy, r.DecidedBy,
		micros(r.RequestedAt), micros(r.DecidedAt))
	if err != nil {
		return fmt.Errorf("ticketing: record refund: %w", err)
	}
	return nil
}

// pendingRefunds is the amount of an order's refunds requested or
// approved and not yet refunded.
func (s *Service) pendingRefunds(ctx context.Context, q querier, order string) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE order_id = ? AND status IN (?, ?)`),
		order, RefundRequested, RefundApproved).Scan(&n)
	return n, err
}

// Refund returns one refund.
func (s *Service) Refund(ctx context.Context, sc Scope, id string) (Refund, error) {
	return s.refundTx(ctx, s.db, sc, id)
}

func (s *Service) refundTx(ctx context.Context, q querier, sc Scope, id string) (Refund, error) {
	r, err := scanRefund(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+refundColumns+` FROM refunds WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sc.Allows(r.MerchantID)) {
		return Refund{}, invalid.Refuse(ErrNotFound, "refund_unknown", "refund %s", id)
	}
	if err != nil {
		return Refund{}, fmt.Errorf("ticketing: refund %s: %w", id, err)
	}
	return r, nil
}

// RefundFilter narrows [Service.Refunds].
type RefundFilter struct {
	OrderID string
	Status  string
	Limit   int
}

// Refunds lists the refunds in the scope, newest first.
func (s *Service) Refunds(ctx context.Context, sc Scope, f RefundFilter) ([]Refund, error) {
	where, args := sc.filter("merchant_id")
	if f.OrderID != "" {
		where += " AND order_id = ?"
		args = append(args, f.OrderID)
	}
	if f.Status != "" {
		where += " AND status = ?"
		args = append(args, f.Status)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+refundColumns+` FROM refunds WHERE `+where+` ORDER BY requested_at DESC, id LIMIT `+fmt.Sprint(f.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("ticketing: refunds: %w", err)
	}
	defer rows.Close()
	out := []Refund{}
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, fmt.Errorf("ticketing: refunds: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ApproveRefund approves a requested refund. In one transaction its
// tickets are revoked and TicketsRevoked is published before
// RefundApproved, so the gate revokes access before the payment service
// moves money. The tickets go back to the inventory after the commit (the
// sweeper retries when that fails).
func (s *Service) ApproveRefund(ctx context.Context, sc Scope, id, by string) (Refund, error) {
	r, err := s.Refund(ctx, sc, id)
	if err != nil {
		return Refund{}, err
	}
	if r.Status != RefundRequested {
		return Refund{}, invalid.Refuse(ErrConflict, "refund_not_requested", "refund %s is %s, not requested", id, r.Status)
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE refunds SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = ?`),
			RefundApproved, by, micros(s.cfg.Now()), id, RefundRequested)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return invalid.Refuse(ErrConflict, "refund_decided", "refund %s was decided meanwhile", id)
		}
		r.Status, r.DecidedBy = RefundApproved, by
		return s.approveTx(ctx, tx, r)
	})
	if err != nil {
		return Refund{}, err
	}
	if err := s.returnTickets(ctx, r.ID); err != nil {
		s.log.Warn("ticketing: return a refund's tickets to the inventory; the sweeper tries again", "refund_id", r.ID, "err", err)
	}
	return s.Refund(ctx, sc, id)
}

// approveTx revokes an approved refund's tickets and publishes
// TicketsRevoked, then RefundApproved, in tx.
func (s *Service) approveTx(ctx context.Context, tx *sql.Tx, r Refund) error {
	o, err := s.orderTx(ctx, tx, Everything, r.OrderID)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	var msgs []any
	if len(r.TicketIDs) > 0 {
		for _, t := range r.TicketIDs {
			res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE tickets SET status = ?, revoked_at = ? WHERE id = ? AND order_id = ? AND status = ?`),
				TicketRevoked, micros(now), t, r.OrderID, TicketValid)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return invalid.Refuse(ErrConflict, "refund_ticket_invalid", "ticket %s of refund %s is no longer valid", t, r.ID)
			}
		}
		msgs = append(msgs, messages.TicketsRevoked{Type: messages.TypeTicketsRevoked, OrderID: r.OrderID, EventID: r.EventID,
			TicketIDs: r.TicketIDs, Reason: "refund " + r.ID + ": " + r.Reason, At: now})
	}
	msgs = append(msgs, messages.RefundApproved{Type: messages.TypeRefundApproved, RefundID: r.ID, OrderID: r.OrderID, PaymentID: o.PaymentID,
		Amount: r.Amount, TicketIDs: r.TicketIDs, Reason: r.Reason, Buyer: o.Buyer, At: now})
	if len(r.TicketIDs) == 0 {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE refunds SET returned = 1 WHERE id = ?`), r.ID); err != nil {
			return err
		}
	}
	return s.publish(ctx, tx, r.OrderID, msgs...)
}

// RejectRefund rejects a requested refund, saying why.
func (s *Service) RejectRefund(ctx context.Context, sc Scope, id, by, reason string) (Refund, error) {
	var c checker
	c.text("reason", reason, 1, 500)
	if err := c.err(); err != nil {
		return Refund{}, err
	}
	r, err := s.Refund(ctx, sc, id)
	if err != nil {
		return Refund{}, err
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE refunds SET status = ?, decided_by = ?, decision_reason = ?, decided_at = ?
		WHERE id = ? AND status = ?`), RefundRejected, by, strings.TrimSpace(reason), micros(s.cfg.Now()), id, RefundRequested)
	if err != nil {
		return Refund{}, fmt.Errorf("ticketing: reject refund: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Refund{}, invalid.Refuse(ErrConflict, "refund_not_requested", "refund %s is %s, not requested", id, r.Status)
	}
	return s.Refund(ctx, sc, id)
}

// returnTickets gives an approved refund's revoked tickets back to the
// inventory. The inventory's Return is idempotent on the refund id, so the
// approval and the sweeper may both try without returning anything twice.
func (s *Service) returnTickets(ctx context.Context, refundID string) error {
	r, err := s.Refund(ctx, Everything, refundID)
	if err != nil {
		return err
	}
	o, err := s.Order(ctx, Everything, r.OrderID)
	if err != nil {
		return err
	}
	perArea := map[string]int{}
	for _, t := range o.Tickets {
		if slices.Contains(r.TicketIDs, t.ID) {
			perArea[t.AreaID]++
		}
	}
	for area, n := range perArea {
		if err := s.inv.Return(ctx, inventory.AreaID{Event: o.EventID, Area: area}, o.ID, refundID, n); err != nil {
			return err
		}
	}
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`UPDATE refunds SET returned = 1 WHERE id = ?`), refundID)
	return err
}

// returnRefunded returns the tickets of approved refunds whose return
// failed before.
func (s *Service) returnRefunded(ctx context.Context) error {
	ids, err := s.strings(ctx, `SELECT id FROM refunds WHERE returned = 0 AND status IN (?, ?) ORDER BY decided_at LIMIT 100`, RefundApproved, RefundRefunded)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if err := s.returnTickets(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("ticketing: return tickets of refund %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// CancelEvent cancels an event. Every paid order gets a full refund,
// approved at once (TicketsRevoked then RefundApproved per order), and
// every pending order is canceled and its tickets released.
func (s *Service) CancelEvent(ctx context.Context, id, by, reason string) (Event, error) {
	var c checker
	c.text("reason", reason, 1, 500)
	if err := c.err(); err != nil {
		return Event{}, err
	}
	var refunds []string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.setStatus(ctx, tx, id, []string{StatusDraft, StatusWaitingForApproval, StatusApproved, StatusOnSale, StatusSaleClosed},
			StatusCanceled, strings.TrimSpace(reason)); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT `+orderColumns+` FROM orders WHERE event_id = ? AND status IN (?, ?)`),
			id, OrderValidated, OrderPartiallyRefunded)
		if err != nil {
			return err
		}
		var paid []Order
		for rows.Next() {
			o, err := scanOrder(rows)
			if err != nil {
				rows.Close()
				return err
			}
			paid = append(paid, o)
		}
		rows.Close()
		now := s.cfg.Now().UTC().Truncate(time.Microsecond)
		for _, o := range paid {
			pending, err := s.pendingRefunds(ctx, tx, o.ID)
			if err != nil {
				return err
			}
			tickets, err := s.tickets(ctx, tx, o.ID)
			if err != nil {
				return err
			}
			r := Refund{ID: newID("ref"), OrderID: o.ID, EventID: o.EventID, MerchantID: o.MerchantID, Kind: RefundFull,
				Amount: o.PaymentReceived - o.Refunded - pending, Reason: "event canceled: " + strings.TrimSpace(reason),
				Status: RefundApproved, RequestedBy: by, DecidedBy: by, RequestedAt: now, DecidedAt: now, TicketIDs: []string{}}
			for _, t := range tickets {
				if t.Status == TicketValid {
					r.TicketIDs = append(r.TicketIDs, t.ID)
				}
			}
			if r.Amount <= 0 && len(r.TicketIDs) == 0 {
				continue
			}
			if err := s.insertRefund(ctx, tx, r); err != nil {
				return err
			}
			if err := s.approveTx(ctx, tx, r); err != nil {
				return err
			}
			refunds = append(refunds, r.ID)
		}
		return nil
	})
	if err != nil {
		return Event{}, s.notFoundOr(ctx, id, err)
	}
	s.log.Info("ticketing: event canceled; paid orders refunded", "event_id", id, "refunds", len(refunds))
	pending, err := s.Orders(ctx, Everything, OrderFilter{EventID: id, Status: OrderPending, Limit: 1000})
	if err != nil {
		return Event{}, err
	}
	for _, o := range pending {
		o.Lines, err = s.lines(ctx, s.db, o.ID)
		if err != nil {
			return Event{}, err
		}
		if err := s.closeOrder(ctx, o, OrderCanceled, "event canceled"); err != nil {
			return Event{}, err
		}
	}
	for _, r := range refunds {
		if err := s.returnTickets(ctx, r); err != nil {
			s.log.Warn("ticketing: return a refund's tickets to the inventory; the sweeper tries again", "refund_id", r, "err", err)
		}
	}
	return s.Event(ctx, Everything, id)
}
