package ticketing

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/inventory"
	"github.com/arus-platform/arus/ticketing/messages"
)

// Order states. A placed order is pending: it holds its tickets until its
// hold expires. Its payment validates it (the tickets are issued) in one
// step; an order whose hold expires unpaid is expired, one whose payment
// failed or that its buyer or an operator dropped is canceled. Refunds
// then make a validated order partially_refunded or refunded.
const (
	OrderPending           = "pending"
	OrderValidated         = "validated"
	OrderExpired           = "expired"
	OrderCanceled          = "canceled"
	OrderPartiallyRefunded = "partially_refunded"
	OrderRefunded          = "refunded"
)

// OrderStatuses lists every order state.
var OrderStatuses = []string{OrderPending, OrderValidated, OrderExpired, OrderCanceled, OrderPartiallyRefunded, OrderRefunded}

// Limits of an order.
const (
	MaxLines           = 10
	MaxTicketsPerOrder = 20
)

// Order is a buyer's order with its lines and, once paid, its tickets.
type Order struct {
	ID string `json:"id"`
	// Number is the order's number as shown: the date in the event's time
	// zone, a sequence of the day, and four random digits
	// (2023-03-20-345-2612).
	Number     string          `json:"number"`
	EventID    string          `json:"event_id"`
	MerchantID string          `json:"merchant_id"`
	Buyer      messages.Buyer  `json:"buyer"`
	Method     string          `json:"method"`
	Lines      []messages.Line `json:"lines"`
	// Total is the price of the lines; PaymentReceived what the payment
	// service reported paid; Refunded what was returned.
	Total           int64  `json:"total"`
	PaymentReceived int64  `json:"payment_received"`
	Refunded        int64  `json:"refunded"`
	PaymentID       string `json:"payment_id,omitempty"`
	Checkout        bool   `json:"checkout"`
	Paid            bool   `json:"paid"`
	Status          string `json:"status"`
	// Reason says why an order was canceled or expired, or what became of
	// a late payment.
	Reason         string    `json:"reason,omitempty"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	HoldExpires    time.Time `json:"hold_expires"`
	PlacedAt       time.Time `json:"placed_at"`
	PaidAt         time.Time `json:"paid_at,omitzero"`
	ClosedAt       time.Time `json:"closed_at,omitzero"`
	Tickets        []Ticket  `json:"tickets"`
}

// Ticket is one admission of a paid order. Code is the ticketing
// service's reference of it; Pass, once the gate granted access, the
// signed payload its QR code carries.
type Ticket struct {
	ID       string `json:"id"`
	OrderID  string `json:"order_id"`
	EventID  string `json:"event_id"`
	AreaID   string `json:"area_id"`
	AreaName string `json:"area_name"`
	Price    int64  `json:"price"`
	Code     string `json:"code"`
	// Pass is the signed QR payload the gate made for the ticket: what its
	// QR code shows and the gates verify. Empty until the gate granted
	// access (or where no gate runs).
	Pass      string    `json:"pass,omitempty"`
	Status    string    `json:"status"`
	IssuedAt  time.Time `json:"issued_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Ticket states.
const (
	TicketValid   = "valid"
	TicketRevoked = "revoked"
)

// LineInput is one area and quantity of an order to place.
type LineInput struct {
	AreaID   string `json:"area_id"`
	Quantity int    `json:"quantity"`
}

// OrderInput is what placing an order takes.
type OrderInput struct {
	EventID string         `json:"event_id"`
	Lines   []LineInput    `json:"lines"`
	Buyer   messages.Buyer `json:"buyer"`
	// Method is a payment method's name (CASH, ONLINE).
	Method string `json:"method"`
	// AdmissionToken is the waiting room's admission, required while the
	// event's waiting room is on; one token places one order.
	AdmissionToken string `json:"admission_token,omitempty"`
	// IdempotencyKey makes placing the order safe to repeat: the same key
	// returns the order it placed.
	IdempotencyKey string `json:"-"`
}

func (in *OrderInput) validate() error {
	var c checker
	c.text("event_id", in.EventID, 1, 64)
	switch {
	case len(in.Lines) == 0:
		c.Add("lines", "an order needs at least one line")
	case len(in.Lines) > MaxLines:
		c.Add("lines", "%d lines: at most %d", len(in.Lines), MaxLines)
	}
	total, seen := 0, map[string]bool{}
	for i, l := range in.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		c.text(f+".area_id", l.AreaID, 1, 64)
		if seen[l.AreaID] {
			c.Add(f+".area_id", "area %s is in two lines; put its tickets in one", l.AreaID)
		}
		seen[l.AreaID] = true
		if l.Quantity < 1 {
			c.Add(f+".quantity", "%d: must be at least 1", l.Quantity)
		}
		total += l.Quantity
	}
	if total > MaxTicketsPerOrder {
		c.Add("lines", "%d tickets: at most %d per order", total, MaxTicketsPerOrder)
	}
	c.text("buyer.name", in.Buyer.Name, 1, 100)
	if a, err := mail.ParseAddress(in.Buyer.Email); err != nil || a.Address != in.Buyer.Email {
		c.Add("buyer.email", "%q is not an e-mail address", in.Buyer.Email)
	}
	c.text("buyer.phone", in.Buyer.Phone, 0, 30)
	if in.Buyer.Lang == "" {
		in.Buyer.Lang = "id"
	}
	c.oneOf("buyer.lang", in.Buyer.Lang, []string{"id", "en"})
	c.text("method", in.Method, 1, 40)
	c.text("idempotency_key", in.IdempotencyKey, 0, 200)
	c.text("admission_token", in.AdmissionToken, 0, 1000)
	return c.err()
}

// PlaceOrder holds the tickets of an order in the inventory and records
// the order with its OrderPlaced message in one transaction. It returns
// the order and whether it was placed now (false: the idempotency key
// named an order placed before). It fails with ErrSoldOut when an area has
// too few free tickets; nothing is then held. While the event's waiting
// room is on, the order needs an admission token that the room gave for the
// event, unexpired and unused (else ErrInvalid naming admission_token); the
// order spends it in its transaction.
func (s *Service) PlaceOrder(ctx context.Context, in OrderInput) (Order, bool, error) {
	if err := in.validate(); err != nil {
		return Order{}, false, err
	}
	pre, err := s.placing(ctx, in)
	if err != nil {
		return Order{}, false, err
	}
	if pre.keyOrder != "" {
		if o, err := s.orderByKey(ctx, in); err == nil || !errors.Is(err, ErrNotFound) {
			return o, false, err
		}
	}
	if !pre.method {
		return Order{}, false, invalid.New(ErrInvalid, "method", "%q is not a payment method", in.Method)
	}
	if pre.event.ID == "" {
		return Order{}, false, invalid.New(ErrInvalid, "event_id", "no event %s", in.EventID)
	}
	e := pre.event
	now := s.cfg.Now()
	switch {
	case e.Status != StatusOnSale:
		return Order{}, false, invalid.Refuse(ErrConflict, "event_not_on_sale", "event %s is %s, not on sale", e.ID, e.Status)
	case now.Before(e.SaleStarts):
		return Order{}, false, invalid.Refuse(ErrConflict, "sale_not_started", "the sale of event %s starts at %s", e.ID, e.SaleStarts.Format(time.RFC3339))
	case !now.Before(e.SaleEnds):
		return Order{}, false, invalid.Refuse(ErrConflict, "sale_ended", "the sale of event %s ended at %s", e.ID, e.SaleEnds.Format(time.RFC3339))
	}
	var admission string
	if pre.waitroom {
		if admission, err = s.admissionTicket(ctx, e.ID, in.AdmissionToken); err != nil {
			return Order{}, false, err
		}
	}
	// An order placed with an idempotency key has an id drawn from the key:
	// a request repeated after a crash between its holds and its commit
	// takes the holds it left behind again (Hold is idempotent per order)
	// instead of leaving them to block tickets until their expiry.
	id := newID("ord")
	if in.IdempotencyKey != "" {
		sum := sha256.Sum256([]byte("order idempotency key\x00" + in.IdempotencyKey))
		id = "ord_" + hex.EncodeToString(sum[:10])
	}
	o := Order{ID: id, EventID: e.ID, MerchantID: e.MerchantID, Buyer: in.Buyer, Method: in.Method,
		Checkout: true, Status: OrderPending, IdempotencyKey: in.IdempotencyKey, Tickets: []Ticket{}}
	var c checker
	for i, l := range in.Lines {
		j := slices.IndexFunc(e.Areas, func(a Area) bool { return a.ID == l.AreaID })
		if j < 0 {
			c.Add(fmt.Sprintf("lines[%d].area_id", i), "event %s has no area %s", e.ID, l.AreaID)
			continue
		}
		a := e.Areas[j]
		o.Lines = append(o.Lines, messages.Line{AreaID: a.ID, AreaName: a.Name, Quantity: l.Quantity, UnitPrice: a.Price})
		o.Total += int64(l.Quantity) * a.Price
	}
	if err := c.err(); err != nil {
		return Order{}, false, err
	}
	// Hold every line; on any refusal give back what was held.
	var held []messages.Line
	for _, l := range o.Lines {
		h, err := s.inv.Hold(ctx, inventory.AreaID{Event: e.ID, Area: l.AreaID}, o.ID, l.Quantity)
		if err != nil {
			s.releaseLines(ctx, o.EventID, o.ID, held)
			if errors.Is(err, inventory.ErrSoldOut) {
				return Order{}, false, invalid.Refuse(ErrSoldOut, "sold_out", "area %s: %s", l.AreaName, err.Error())
			}
			return Order{}, false, fmt.Errorf("ticketing: hold %s: %w", l.AreaName, err)
		}
		held = append(held, l)
		if o.HoldExpires.IsZero() || h.ExpiresAt.Before(o.HoldExpires) {
			o.HoldExpires = h.ExpiresAt
		}
	}
	o.PlacedAt = now.UTC().Truncate(time.Microsecond)
	o.HoldExpires = o.HoldExpires.UTC().Truncate(time.Microsecond)
	// Orders placed at once share a commit (store.Group), each under its
	// own savepoint.
	err = s.orders.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.insertOrder(ctx, tx, &o, e, now); err != nil {
			return err
		}
		if admission != "" {
			if err := s.useAdmission(ctx, tx, o.EventID, admission, o.ID); err != nil {
				return err
			}
		}
		return s.publish(ctx, tx, o.ID, messages.OrderPlaced{Type: messages.TypeOrderPlaced, OrderID: o.ID, Number: o.Number,
			EventID: o.EventID, EventName: e.Title(), MerchantID: o.MerchantID, Buyer: o.Buyer, Lines: o.Lines, Total: o.Total,
			Method: o.Method, HoldExpires: o.HoldExpires, PlacedAt: o.PlacedAt, IdempotencyID: o.IdempotencyKey})
	})
	if err != nil {
		if store.IsUniqueViolation(err) && in.IdempotencyKey != "" {
			// The same key placed an order meanwhile: the holds, shared
			// through the order's id, are that order's now.
			prev, perr := s.orderByKey(ctx, in)
			return prev, false, perr
		}
		s.releaseLines(ctx, o.EventID, o.ID, held)
		return Order{}, false, fmt.Errorf("ticketing: place order: %w", err)
	}
	return o, true, nil
}

// placement is what placing an order reads before it holds tickets.
type placement struct {
	// keyOrder is the id of the order the idempotency key placed, if any.
	keyOrder string
	// method: the payment method exists.
	method bool
	// event is the event with its areas; its ID is empty when there is
	// none.
	event Event
	// waitroom: the event's waiting room is on.
	waitroom bool
}

// placementColumns are the event's columns prefixed for the join with its
// areas.
var placementColumns = "e." + strings.ReplaceAll(strings.Join(strings.Fields(eventColumns), " "), ", ", ", e.")

// placing reads in one statement, from the store's readers, what placing an
// order checks first: the order its idempotency key placed, its payment
// method, its event with the areas, and the event's waiting room. A read
// that finds no event answers as the reads one by one did: the key's
// order, then the method, then the event.
func (s *Service) placing(ctx context.Context, in OrderInput) (placement, error) {
	rows, err := s.db.Reader().QueryContext(ctx, s.db.Rebind(`SELECT
		(SELECT id FROM orders WHERE idempotency_key = ? AND idempotency_key <> ''),
		(SELECT COUNT(*) FROM payment_methods WHERE name = ?),
		(SELECT enabled FROM waitroom_settings WHERE event_id = e.id),
		`+placementColumns+`, a.id, a.name, a.capacity, a.price, a.created_at
		FROM events e LEFT JOIN areas a ON a.event_id = e.id WHERE e.id = ? ORDER BY a.created_at, a.id`),
		in.IdempotencyKey, in.Method, in.EventID)
	if err != nil {
		return placement{}, fmt.Errorf("ticketing: place order: read event %s: %w", in.EventID, err)
	}
	defer rows.Close()
	var p placement
	found := false
	for rows.Next() {
		var key sql.NullString
		var methods int
		var room sql.NullInt64
		var areaID, areaName sql.NullString
		var capacity, price, created sql.NullInt64
		e, err := scanEvent(rowScanner(func(dest ...any) error {
			return rows.Scan(append(append([]any{&key, &methods, &room}, dest...), &areaID, &areaName, &capacity, &price, &created)...)
		}))
		if err != nil {
			return placement{}, fmt.Errorf("ticketing: place order: read event %s: %w", in.EventID, err)
		}
		if !found {
			found = true
			p = placement{keyOrder: key.String, method: methods > 0, event: e, waitroom: room.Valid && room.Int64 != 0}
		}
		if areaID.Valid {
			p.event.Areas = append(p.event.Areas, Area{ID: areaID.String, EventID: e.ID, Name: areaName.String,
				Capacity: int(capacity.Int64), Price: price.Int64, CreatedAt: fromMicros(created.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return placement{}, fmt.Errorf("ticketing: place order: read event %s: %w", in.EventID, err)
	}
	if found {
		return p, nil
	}
	// No event: the key and the method are read on their own.
	if in.IdempotencyKey != "" {
		err := s.db.Reader().QueryRowContext(ctx, s.db.Rebind(`SELECT id FROM orders WHERE idempotency_key = ? AND idempotency_key <> ''`), in.IdempotencyKey).Scan(&p.keyOrder)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return placement{}, fmt.Errorf("ticketing: order by idempotency key: %w", err)
		}
	}
	p.method, err = s.methodExists(ctx, in.Method)
	return p, err
}

// rowScanner adapts a function to the Scan of a row.
type rowScanner func(dest ...any) error

func (f rowScanner) Scan(dest ...any) error { return f(dest...) }

// orderByKey returns the order an idempotency key placed; ErrConflict when
// the key placed a different order.
func (s *Service) orderByKey(ctx context.Context, in OrderInput) (Order, error) {
	var id string
	// The second term lets SQLite and PostgreSQL use the partial index
	// orders_idempotency: without it every lookup reads the whole table.
	err := s.db.Reader().QueryRowContext(ctx, s.db.Rebind(`SELECT id FROM orders WHERE idempotency_key = ? AND idempotency_key <> ''`), in.IdempotencyKey).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, ErrNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("ticketing: order by idempotency key: %w", err)
	}
	o, err := s.Order(ctx, Everything, id)
	if err != nil {
		return Order{}, err
	}
	same := o.EventID == in.EventID && len(o.Lines) == len(in.Lines)
	for i := 0; same && i < len(in.Lines); i++ {
		j := slices.IndexFunc(o.Lines, func(l messages.Line) bool { return l.AreaID == in.Lines[i].AreaID })
		same = j >= 0 && o.Lines[j].Quantity == in.Lines[i].Quantity
	}
	if !same {
		return Order{}, invalid.Refuse(ErrConflict, "idempotency_key_reused", "idempotency key %q was used for order %s with other lines", in.IdempotencyKey, o.Number)
	}
	return o, nil
}

// zones keeps the time zones loaded (time.LoadLocation reads the zone's
// file at every call).
var zones sync.Map

// zone returns the named time zone, UTC when there is none by that name.
func zone(name string) *time.Location {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.UTC
	}
	zones.Store(name, loc)
	return loc
}

// insertOrder draws the order's number, the next of the day in the event's
// time zone, and inserts the order with its lines. On PostgreSQL this is
// one statement, where the steps one by one took three round trips in the
// shared transaction that the orders placed at once wait for.
func (s *Service) insertOrder(ctx context.Context, tx *sql.Tx, o *Order, e Event, now time.Time) error {
	day := now.In(zone(e.TimeZone)).Format(time.DateOnly)
	digits := fmt.Sprintf("%04d", rand.IntN(10000))
	orderArgs := []any{o.ID, o.EventID, o.MerchantID, o.Buyer.UserID, o.Buyer.Name, o.Buyer.Email, o.Buyer.Phone, o.Buyer.Lang,
		o.Method, o.Total, o.Status, o.IdempotencyKey, micros(o.HoldExpires), micros(o.PlacedAt)}
	const orderInsert = `INSERT INTO orders (id, number, event_id, merchant_id, buyer_user_id, buyer_name, buyer_email,
		buyer_phone, buyer_lang, method, total, status, idempotency_key, hold_expires_at, placed_at)`
	const dayUpsert = `INSERT INTO order_days (day, n) VALUES (?, 1) ON CONFLICT (day) DO UPDATE SET n = order_days.n + 1 RETURNING n`
	if s.db.Dialect == store.Postgres {
		var lines strings.Builder
		args := append([]any{day}, orderArgs...)
		args = append(args, digits)
		for i, l := range o.Lines {
			if i > 0 {
				lines.WriteString(", ")
			}
			lines.WriteString("(?, ?, ?, ?, ?)")
			args = append(args, o.ID, l.AreaID, l.AreaName, l.Quantity, l.UnitPrice)
		}
		// The arguments follow the marks in the text: the day, the order's
		// values, its digits, its lines.
		err := tx.QueryRowContext(ctx, s.db.Rebind(`WITH d AS (`+dayUpsert+`, day),
			o AS (`+orderInsert+`
				SELECT v.id, d.day || '-' || d.n || '-' || v.digits, v.event_id, v.merchant_id, v.buyer_user_id, v.buyer_name,
					v.buyer_email, v.buyer_phone, v.buyer_lang, v.method, v.total, v.status, v.idempotency_key, v.hold_expires_at, v.placed_at
				FROM d, (SELECT ?::text AS id, ?::text AS event_id, ?::text AS merchant_id, ?::text AS buyer_user_id, ?::text AS buyer_name,
					?::text AS buyer_email, ?::text AS buyer_phone, ?::text AS buyer_lang, ?::text AS method, ?::bigint AS total,
					?::text AS status, ?::text AS idempotency_key, ?::bigint AS hold_expires_at, ?::bigint AS placed_at, ?::text AS digits) v
				RETURNING number),
			l AS (INSERT INTO order_lines (order_id, area_id, area_name, quantity, unit_price) VALUES `+lines.String()+`)
			SELECT number FROM o`), args...).Scan(&o.Number)
		if err != nil {
			return fmt.Errorf("ticketing: insert order: %w", err)
		}
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.db.Rebind(dayUpsert), day).Scan(&n); err != nil {
		return fmt.Errorf("ticketing: order number: %w", err)
	}
	o.Number = fmt.Sprintf("%s-%d-%s", day, n, digits)
	if _, err := tx.ExecContext(ctx, s.db.Rebind(orderInsert+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		append([]any{o.ID, o.Number}, orderArgs[1:]...)...); err != nil {
		return err
	}
	for _, l := range o.Lines {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO order_lines (order_id, area_id, area_name, quantity, unit_price) VALUES (?, ?, ?, ?, ?)`),
			o.ID, l.AreaID, l.AreaName, l.Quantity, l.UnitPrice); err != nil {
			return err
		}
	}
	return nil
}

// publish writes a message to the orders topic through the outbox, keyed
// by order id, in tx.
func (s *Service) publish(ctx context.Context, tx *sql.Tx, orderID string, msgs ...any) error {
	recs := make([]*stream.Record, len(msgs))
	for i, m := range msgs {
		r, err := jsonRecord(orderID, m)
		if err != nil {
			return err
		}
		r.Topic = messages.TopicOrders
		recs[i] = r
	}
	return s.outbox.Write(ctx, tx, recs...)
}

// releaseLines gives back an order's holds; a failure only logs, since a
// hold frees its tickets at its expiry anyway.
func (s *Service) releaseLines(ctx context.Context, event, order string, lines []messages.Line) {
	for _, l := range lines {
		if err := s.inv.Release(ctx, inventory.AreaID{Event: event, Area: l.AreaID}, order); err != nil {
			s.log.Warn("ticketing: release a hold; it frees its tickets at its expiry", "order_id", order, "area_id", l.AreaID, "err", err)
		}
	}
}

const orderColumns = `id, number, event_id, merchant_id, buyer_user_id, buyer_name, buyer_email, buyer_phone, buyer_lang, method, total,
	payment_received, refunded, payment_id, checkout, paid, status, reason, idempotency_key, hold_expires_at, placed_at, paid_at, closed_at`

func scanOrder(sc interface{ Scan(...any) error }) (Order, error) {
	var o Order
	var checkout, paid int
	var hold, placed, paidAt, closed int64
	err := sc.Scan(&o.ID, &o.Number, &o.EventID, &o.MerchantID, &o.Buyer.UserID, &o.Buyer.Name, &o.Buyer.Email, &o.Buyer.Phone,
		&o.Buyer.Lang, &o.Method, &o.Total, &o.PaymentReceived, &o.Refunded, &o.PaymentID, &checkout, &paid, &o.Status, &o.Reason,
		&o.IdempotencyKey, &hold, &placed, &paidAt, &closed)
	o.Checkout, o.Paid = checkout == 1, paid == 1
	o.HoldExpires, o.PlacedAt, o.PaidAt, o.ClosedAt = fromMicros(hold), fromMicros(placed), fromMicros(paidAt), fromMicros(closed)
	return o, err
}

// Order returns an order with its lines and tickets, by id or number.
func (s *Service) Order(ctx context.Context, sc Scope, id string) (Order, error) {
	return s.orderTx(ctx, s.db, sc, id)
}

func (s *Service) orderTx(ctx context.Context, q querier, sc Scope, id string) (Order, error) {
	o, err := scanOrder(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+orderColumns+` FROM orders WHERE id = ? OR number = ?`), id, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sc.Allows(o.MerchantID)) {
		return Order{}, invalid.Refuse(ErrNotFound, "order_unknown", "order %s", id)
	}
	if err != nil {
		return Order{}, fmt.Errorf("ticketing: order %s: %w", id, err)
	}
	if o.Lines, err = s.lines(ctx, q, o.ID); err != nil {
		return Order{}, err
	}
	if o.Tickets, err = s.tickets(ctx, q, o.ID); err != nil {
		return Order{}, err
	}
	return o, nil
}

func (s *Service) lines(ctx context.Context, q querier, order string) ([]messages.Line, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT area_id, area_name, quantity, unit_price FROM order_lines WHERE order_id = ? ORDER BY area_name`), order)
	if err != nil {
		return nil, fmt.Errorf("ticketing: lines of %s: %w", order, err)
	}
	defer rows.Close()
	out := []messages.Line{}
	for rows.Next() {
		var l messages.Line
		if err := rows.Scan(&l.AreaID, &l.AreaName, &l.Quantity, &l.UnitPrice); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (s *Service) tickets(ctx context.Context, q querier, order string) ([]Ticket, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT id, order_id, event_id, area_id, area_name, price, code, pass, status, issued_at, revoked_at
		FROM tickets WHERE order_id = ? ORDER BY area_name, id`), order)
	if err != nil {
		return nil, fmt.Errorf("ticketing: tickets of %s: %w", order, err)
	}
	defer rows.Close()
	out := []Ticket{}
	for rows.Next() {
		var t Ticket
		var issued, revoked int64
		if err := rows.Scan(&t.ID, &t.OrderID, &t.EventID, &t.AreaID, &t.AreaName, &t.Price, &t.Code, &t.Pass, &t.Status, &issued, &revoked); err != nil {
			return nil, err
		}
		t.IssuedAt, t.RevokedAt = fromMicros(issued), fromMicros(revoked)
		out = append(out, t)
	}
	return out, rows.Err()
}

// OrderFilter narrows [Service.Orders].
type OrderFilter struct {
	EventID string
	Status  string
	// BuyerUserID keeps the orders a signed-in customer placed.
	BuyerUserID string
	// Limit is at most 1000; default 100.
	Limit int
}

// Orders lists the orders in the scope, newest first, without their lines
// and tickets.
func (s *Service) Orders(ctx context.Context, sc Scope, f OrderFilter) ([]Order, error) {
	where, args := sc.filter("merchant_id")
	if f.EventID != "" {
		where += " AND event_id = ?"
		args = append(args, f.EventID)
	}
	if f.Status != "" {
		where += " AND status = ?"
		args = append(args, f.Status)
	}
	if f.BuyerUserID != "" {
		where += " AND buyer_user_id = ?"
		args = append(args, f.BuyerUserID)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+orderColumns+` FROM orders WHERE `+where+` ORDER BY placed_at DESC, id LIMIT `+fmt.Sprint(f.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("ticketing: orders: %w", err)
	}
	defer rows.Close()
	out := []Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("ticketing: orders: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CancelOrder cancels a pending order (its buyer or an operator drops it)
// and gives its tickets back.
func (s *Service) CancelOrder(ctx context.Context, sc Scope, id, reason string) (Order, error) {
	var c checker
	c.text("reason", reason, 1, 500)
	if err := c.err(); err != nil {
		return Order{}, err
	}
	o, err := s.Order(ctx, sc, id)
	if err != nil {
		return Order{}, err
	}
	if o.Status != OrderPending {
		return Order{}, invalid.Refuse(ErrConflict, "order_not_pending", "order %s is %s; only a pending order can be canceled (refund a paid one)", o.Number, o.Status)
	}
	if err := s.closeOrder(ctx, o, OrderCanceled, reason); err != nil {
		return Order{}, err
	}
	return s.Order(ctx, sc, o.ID)
}

// closeOrder ends a pending order as expired or canceled, releases its
// holds, and publishes OrderExpired or OrderCanceled in one transaction.
// An order that is no longer pending is left alone.
func (s *Service) closeOrder(ctx context.Context, o Order, status, reason string) error {
	if status == OrderCanceled {
		s.releaseLines(ctx, o.EventID, o.ID, o.Lines)
	}
	typ := messages.TypeOrderCanceled
	if status == OrderExpired {
		typ = messages.TypeOrderExpired
	}
	now := s.cfg.Now().UTC()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE orders SET status = ?, reason = ?, closed_at = ? WHERE id = ? AND status = ?`),
			status, reasonText(reason), micros(now), o.ID, OrderPending)
		if err != nil {
			return fmt.Errorf("ticketing: close order %s: %w", o.Number, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return s.publish(ctx, tx, o.ID, messages.OrderClosed{Type: typ, OrderID: o.ID, Number: o.Number, EventID: o.EventID,
			Reason: reason, At: now, Buyer: o.Buyer})
	})
}

// expireOrders closes the pending orders whose hold ran out: the areas'
// expiry events are appended (Sweep) and each order becomes expired with
// its OrderExpired message.
func (s *Service) expireOrders(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+orderColumns+` FROM orders WHERE status = ? AND hold_expires_at <= ?
		ORDER BY hold_expires_at LIMIT 500`), OrderPending, micros(s.cfg.Now()))
	if err != nil {
		return fmt.Errorf("ticketing: expire orders: %w", err)
	}
	var due []Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return err
		}
		due = append(due, o)
	}
	rows.Close()
	swept := map[inventory.AreaID]bool{}
	var errs []error
	for _, o := range due {
		lines, err := s.lines(ctx, s.db, o.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, l := range lines {
			id := inventory.AreaID{Event: o.EventID, Area: l.AreaID}
			if !swept[id] {
				swept[id] = true
				if _, err := s.inv.Sweep(ctx, id); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err := s.closeOrder(ctx, o, OrderExpired, "the hold expired unpaid"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
