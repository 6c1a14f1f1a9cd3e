package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
)

// Event states. An event is drafted by its merchant, sent for approval,
// approved by the platform, taken on sale by the go-live saga, and then
// moves on with time: its sale closes at the end of the sale window, and it
// ends when it is over. An event whose sale window passes with nothing sold
// is expired; a canceled event refunds every paid order.
const (
	StatusDraft              = "draft"
	StatusWaitingForApproval = "waiting_for_approval"
	StatusApproved           = "approved"
	StatusOnSale             = "on_sale"
	StatusSaleClosed         = "sale_closed"
	StatusEnded              = "ended"
	StatusExpired            = "expired"
	StatusCanceled           = "canceled"
)

// EventStatuses lists every event state in order.
var EventStatuses = []string{StatusDraft, StatusWaitingForApproval, StatusApproved, StatusOnSale, StatusSaleClosed,
	StatusEnded, StatusExpired, StatusCanceled}

// Event is an event with its areas.
type Event struct {
	ID         string `json:"id"`
	MerchantID string `json:"merchant_id"`
	// Code is four digits shown before the name ("0417 Java Jazz").
	Code        string    `json:"code"`
	Name        string    `json:"name"`
	Venue       string    `json:"venue"`
	Address     string    `json:"address"`
	Description string    `json:"description"`
	Starts      time.Time `json:"starts"`
	Ends        time.Time `json:"ends"`
	SaleStarts  time.Time `json:"sale_starts"`
	SaleEnds    time.Time `json:"sale_ends"`
	TimeZone    string    `json:"time_zone"`
	Status      string    `json:"status"`
	// StatusReason says why the event is in its state, or why its last
	// go-live failed.
	StatusReason string      `json:"status_reason,omitempty"`
	ApprovedBy   string      `json:"approved_by,omitempty"`
	GoLive       GoLiveState `json:"go_live"`
	Areas        []Area      `json:"areas"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
}

// GoLiveState is the state of an event's go-live saga.
type GoLiveState struct {
	// SagaID is the last go-live saga's id; empty before approval.
	SagaID string `json:"saga_id,omitempty"`
	// State is running, completed, compensated or failed.
	State    string `json:"state,omitempty"`
	Attempts int    `json:"attempts"`
	// GateStub is true when the gate that prepared the event's
	// access-control server was the stub that only acknowledges.
	GateStub bool `json:"gate_stub"`
}

// Title is the code and name, as lists show them.
func (e Event) Title() string { return e.Code + " " + e.Name }

// Area is a part of an event's venue with its own capacity and price.
type Area struct {
	ID       string `json:"id"`
	EventID  string `json:"event_id"`
	Name     string `json:"name"`
	Capacity int    `json:"capacity"`
	// Price is whole rupiah per ticket.
	Price     int64     `json:"price"`
	CreatedAt time.Time `json:"created_at"`
}

// EventInput is what creating or editing an event takes.
type EventInput struct {
	MerchantID  string    `json:"merchant_id"`
	Name        string    `json:"name"`
	Venue       string    `json:"venue"`
	Address     string    `json:"address"`
	Description string    `json:"description"`
	Starts      time.Time `json:"starts"`
	Ends        time.Time `json:"ends"`
	SaleStarts  time.Time `json:"sale_starts"`
	SaleEnds    time.Time `json:"sale_ends"`
	// TimeZone is an IANA name; default Asia/Jakarta.
	TimeZone string `json:"time_zone"`
}

func (in *EventInput) validate() error {
	var c checker
	c.text("merchant_id", in.MerchantID, 1, 64)
	c.text("name", in.Name, 1, 200)
	c.text("venue", in.Venue, 1, 200)
	c.text("address", in.Address, 1, 500)
	c.text("description", in.Description, 0, 5000)
	c.window("starts", "ends", in.Starts, in.Ends)
	c.window("sale_starts", "sale_ends", in.SaleStarts, in.SaleEnds)
	if !in.SaleEnds.IsZero() && !in.Ends.IsZero() && in.SaleEnds.After(in.Ends) {
		c.Add("sale_ends", "must not be after the event ends")
	}
	if in.TimeZone == "" {
		in.TimeZone = DefaultTimeZone
	}
	if _, err := time.LoadLocation(in.TimeZone); err != nil || in.TimeZone == "Local" {
		c.Add("time_zone", "%q is not an IANA time zone such as Asia/Jakarta", in.TimeZone)
	}
	return c.err()
}

// AreaInput is what adding or editing an area takes.
type AreaInput struct {
	Name     string `json:"name"`
	Capacity int    `json:"capacity"`
	Price    int64  `json:"price"`
}

func (in AreaInput) validate() error {
	var c checker
	c.text("name", in.Name, 1, 100)
	if in.Capacity < 1 || in.Capacity > 1_000_000 {
		c.Add("capacity", "%d: must be from 1 to 1,000,000", in.Capacity)
	}
	if in.Price < 0 || in.Price > 1_000_000_000 {
		c.Add("price", "%d: must be from 0 to 1,000,000,000 rupiah", in.Price)
	}
	return c.err()
}

const eventColumns = `id, merchant_id, code, name, venue, address, description, starts_at, ends_at, sale_starts_at, sale_ends_at,
	time_zone, status, status_reason, approved_by, go_live_saga, go_live_state, go_live_attempts, gate_stub, created_at, updated_at`

func scanEvent(sc interface{ Scan(...any) error }) (Event, error) {
	var e Event
	var starts, ends, saleStarts, saleEnds, created, updated int64
	var stub int
	err := sc.Scan(&e.ID, &e.MerchantID, &e.Code, &e.Name, &e.Venue, &e.Address, &e.Description, &starts, &ends, &saleStarts, &saleEnds,
		&e.TimeZone, &e.Status, &e.StatusReason, &e.ApprovedBy, &e.GoLive.SagaID, &e.GoLive.State, &e.GoLive.Attempts, &stub, &created, &updated)
	e.Starts, e.Ends, e.SaleStarts, e.SaleEnds = fromMicros(starts), fromMicros(ends), fromMicros(saleStarts), fromMicros(saleEnds)
	e.CreatedAt, e.UpdatedAt, e.GoLive.GateStub = fromMicros(created), fromMicros(updated), stub == 1
	e.Areas = []Area{}
	return e, err
}

// CreateEvent drafts an event for a merchant in the scope, with a fresh
// 4-digit code.
func (s *Service) CreateEvent(ctx context.Context, sc Scope, in EventInput) (Event, error) {
	if err := in.validate(); err != nil {
		return Event{}, err
	}
	if _, err := s.Merchant(ctx, sc, in.MerchantID); errors.Is(err, ErrNotFound) {
		return Event{}, invalid.New(ErrInvalid, "merchant_id", "no merchant %s", in.MerchantID)
	} else if err != nil {
		return Event{}, err
	}
	id := newID("evt")
	now := micros(s.cfg.Now())
	for attempt := 0; ; attempt++ {
		code := fmt.Sprintf("%04d", rand.IntN(10000))
		_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO events (id, merchant_id, code, name, venue, address, description,
			starts_at, ends_at, sale_starts_at, sale_ends_at, time_zone, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			id, in.MerchantID, code, strings.TrimSpace(in.Name), strings.TrimSpace(in.Venue), strings.TrimSpace(in.Address), in.Description,
			micros(in.Starts), micros(in.Ends), micros(in.SaleStarts), micros(in.SaleEnds), in.TimeZone, StatusDraft, now, now)
		if store.IsUniqueViolation(err) && attempt < 50 {
			continue // the code is taken: draw another
		}
		if err != nil {
			return Event{}, fmt.Errorf("ticketing: create event: %w", err)
		}
		return s.Event(ctx, sc, id)
	}
}

// UpdateEvent edits an event while it is a draft or waits for approval;
// the merchant cannot change.
func (s *Service) UpdateEvent(ctx context.Context, sc Scope, id string, in EventInput) (Event, error) {
	e, err := s.Event(ctx, sc, id)
	if err != nil {
		return Event{}, err
	}
	if in.MerchantID == "" {
		in.MerchantID = e.MerchantID
	}
	if err := in.validate(); err != nil {
		return Event{}, err
	}
	if in.MerchantID != e.MerchantID {
		return Event{}, invalid.New(ErrInvalid, "merchant_id", "an event cannot move to another merchant")
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE events SET name = ?, venue = ?, address = ?, description = ?, starts_at = ?, ends_at = ?,
		sale_starts_at = ?, sale_ends_at = ?, time_zone = ?, updated_at = ? WHERE id = ? AND status IN (?, ?)`),
		strings.TrimSpace(in.Name), strings.TrimSpace(in.Venue), strings.TrimSpace(in.Address), in.Description, micros(in.Starts), micros(in.Ends),
		micros(in.SaleStarts), micros(in.SaleEnds), in.TimeZone, micros(s.cfg.Now()), id, StatusDraft, StatusWaitingForApproval)
	if err != nil {
		return Event{}, fmt.Errorf("ticketing: update event: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Event{}, invalid.Refuse(ErrConflict, "event_not_editable", "event %s is %s; only a draft or an event waiting for approval can be edited", id, e.Status)
	}
	return s.Event(ctx, sc, id)
}

// Event returns an event with its areas.
func (s *Service) Event(ctx context.Context, sc Scope, id string) (Event, error) {
	return s.eventTx(ctx, s.db.Reader(), sc, id)
}

func (s *Service) eventTx(ctx context.Context, q querier, sc Scope, id string) (Event, error) {
	e, err := scanEvent(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+eventColumns+` FROM events WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sc.Allows(e.MerchantID)) {
		return Event{}, invalid.Refuse(ErrNotFound, "event_unknown", "event %s", id)
	}
	if err != nil {
		return Event{}, fmt.Errorf("ticketing: event %s: %w", id, err)
	}
	if e.Areas, err = s.areas(ctx, q, id); err != nil {
		return Event{}, err
	}
	return e, nil
}

// EventFilter narrows [Service.Events].
type EventFilter struct {
	MerchantID string
	Status     string
}

// Events lists the events in the scope, newest first, with their areas.
func (s *Service) Events(ctx context.Context, sc Scope, f EventFilter) ([]Event, error) {
	where, args := sc.filter("merchant_id")
	if f.MerchantID != "" {
		where += " AND merchant_id = ?"
		args = append(args, f.MerchantID)
	}
	if f.Status != "" {
		where += " AND status = ?"
		args = append(args, f.Status)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+eventColumns+` FROM events WHERE `+where+` ORDER BY created_at DESC, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("ticketing: events: %w", err)
	}
	out := []Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("ticketing: events: %w", err)
		}
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ticketing: events: %w", err)
	}
	for i := range out {
		if out[i].Areas, err = s.areas(ctx, s.db, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Service) areas(ctx context.Context, q querier, event string) ([]Area, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT id, event_id, name, capacity, price, created_at FROM areas WHERE event_id = ? ORDER BY created_at, id`), event)
	if err != nil {
		return nil, fmt.Errorf("ticketing: areas of %s: %w", event, err)
	}
	defer rows.Close()
	out := []Area{}
	for rows.Next() {
		var a Area
		var created int64
		if err := rows.Scan(&a.ID, &a.EventID, &a.Name, &a.Capacity, &a.Price, &created); err != nil {
			return nil, err
		}
		a.CreatedAt = fromMicros(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeleteEvent removes a draft event and its areas, staff and schedules.
func (s *Service) DeleteEvent(ctx context.Context, sc Scope, id string) error {
	e, err := s.Event(ctx, sc, id)
	if err != nil {
		return err
	}
	if e.Status != StatusDraft {
		return invalid.Refuse(ErrConflict, "event_not_deletable", "event %s is %s; only a draft can be deleted (cancel it instead)", id, e.Status)
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"areas", "staff", "schedules"} {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM `+table+` WHERE event_id = ?`), id); err != nil {
				return fmt.Errorf("ticketing: delete event: %w", err)
			}
		}
		_, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM events WHERE id = ? AND status = ?`), id, StatusDraft)
		return err
	})
}

// editable returns the event when its areas may change: a draft or an
// event waiting for approval.
func (s *Service) editable(ctx context.Context, sc Scope, id string) (Event, error) {
	e, err := s.Event(ctx, sc, id)
	if err != nil {
		return Event{}, err
	}
	if e.Status != StatusDraft && e.Status != StatusWaitingForApproval {
		return Event{}, invalid.Refuse(ErrConflict, "event_areas_fixed", "event %s is %s; areas change only before approval", id, e.Status)
	}
	return e, nil
}

// AddArea adds an area to an event before its approval.
func (s *Service) AddArea(ctx context.Context, sc Scope, event string, in AreaInput) (Area, error) {
	if err := in.validate(); err != nil {
		return Area{}, err
	}
	if _, err := s.editable(ctx, sc, event); err != nil {
		return Area{}, err
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	a := Area{ID: newID("area"), EventID: event, Name: strings.TrimSpace(in.Name), Capacity: in.Capacity, Price: in.Price, CreatedAt: now}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO areas (id, event_id, name, capacity, price, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		a.ID, a.EventID, a.Name, a.Capacity, a.Price, micros(now))
	if store.IsUniqueViolation(err) {
		return Area{}, invalid.New(ErrInvalid, "name", "the event has an area named %q", a.Name)
	}
	if err != nil {
		return Area{}, fmt.Errorf("ticketing: add area: %w", err)
	}
	return a, nil
}

// UpdateArea edits an area before the event's approval.
func (s *Service) UpdateArea(ctx context.Context, sc Scope, event, area string, in AreaInput) (Area, error) {
	if err := in.validate(); err != nil {
		return Area{}, err
	}
	e, err := s.editable(ctx, sc, event)
	if err != nil {
		return Area{}, err
	}
	i := slices.IndexFunc(e.Areas, func(a Area) bool { return a.ID == area })
	if i < 0 {
		return Area{}, invalid.Refuse(ErrNotFound, "area_unknown", "area %s of event %s", area, event)
	}
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`UPDATE areas SET name = ?, capacity = ?, price = ? WHERE id = ?`),
		strings.TrimSpace(in.Name), in.Capacity, in.Price, area)
	if store.IsUniqueViolation(err) {
		return Area{}, invalid.New(ErrInvalid, "name", "the event has an area named %q", in.Name)
	}
	if err != nil {
		return Area{}, fmt.Errorf("ticketing: update area: %w", err)
	}
	a := e.Areas[i]
	a.Name, a.Capacity, a.Price = strings.TrimSpace(in.Name), in.Capacity, in.Price
	return a, nil
}

// DeleteArea removes an area before the event's approval.
func (s *Service) DeleteArea(ctx context.Context, sc Scope, event, area string) error {
	if _, err := s.editable(ctx, sc, event); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM areas WHERE id = ? AND event_id = ?`), area, event)
	if err != nil {
		return fmt.Errorf("ticketing: delete area: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return invalid.Refuse(ErrNotFound, "area_unknown", "area %s of event %s", area, event)
	}
	return nil
}

// setStatus moves an event from one of the states in from to to, with a
// reason; it fails with ErrConflict when the event is in none of them.
func (s *Service) setStatus(ctx context.Context, q execer, id string, from []string, to, reason string) error {
	args := []any{to, reason, micros(s.cfg.Now()), id}
	for _, f := range from {
		args = append(args, f)
	}
	res, err := q.ExecContext(ctx, s.db.Rebind(`UPDATE events SET status = ?, status_reason = ?, updated_at = ? WHERE id = ? AND status IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(from)), ", ")+`)`), args...)
	if err != nil {
		return fmt.Errorf("ticketing: event %s: set status %s: %w", id, to, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return invalid.Refuse(ErrConflict, "event_not_in_state", "event %s is not %s", id, strings.Join(from, " or "))
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// SubmitEvent sends a draft for the platform's approval. It needs at
// least one area.
func (s *Service) SubmitEvent(ctx context.Context, sc Scope, id string) (Event, error) {
	e, err := s.Event(ctx, sc, id)
	if err != nil {
		return Event{}, err
	}
	if len(e.Areas) == 0 {
		return Event{}, invalid.New(ErrInvalid, "areas", "an event needs at least one area before approval")
	}
	if err := s.setStatus(ctx, s.db, id, []string{StatusDraft}, StatusWaitingForApproval, ""); err != nil {
		return Event{}, err
	}
	return s.Event(ctx, sc, id)
}

// RejectEvent sends an event waiting for approval back to draft, saying
// why.
func (s *Service) RejectEvent(ctx context.Context, id, reason string) (Event, error) {
	var c checker
	c.text("reason", reason, 1, 500)
	if err := c.err(); err != nil {
		return Event{}, err
	}
	if err := s.setStatus(ctx, s.db, id, []string{StatusWaitingForApproval}, StatusDraft, reason); err != nil {
		return Event{}, s.notFoundOr(ctx, id, err)
	}
	return s.Event(ctx, Everything, id)
}

// ApproveEvent approves an event waiting for approval (the platform does
// this) and starts its go-live saga.
func (s *Service) ApproveEvent(ctx context.Context, id, approver string) (Event, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE events SET status = ?, status_reason = '', approved_by = ?, updated_at = ?
		WHERE id = ? AND status = ?`), StatusApproved, approver, micros(s.cfg.Now()), id, StatusWaitingForApproval)
	if err != nil {
		return Event{}, fmt.Errorf("ticketing: approve event %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Event{}, s.notFoundOr(ctx, id, invalid.Refuse(ErrConflict, "event_not_waiting", "event %s is not waiting for approval", id))
	}
	return s.StartGoLive(ctx, id)
}

// notFoundOr returns ErrNotFound for an event that does not exist, else
// err.
func (s *Service) notFoundOr(ctx context.Context, id string, err error) error {
	if _, gerr := s.Event(ctx, Everything, id); errors.Is(gerr, ErrNotFound) {
		return gerr
	}
	return err
}
