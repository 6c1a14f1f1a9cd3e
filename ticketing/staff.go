package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing/messages"
)

// Staff states.
const (
	StaffNone     = "none"
	StaffActive   = "active"
	StaffOnBreak  = "on_break"
	StaffFinished = "finished"
)

// StaffStatuses lists every staff state; "none" is the original's
// "No Status".
var StaffStatuses = []string{StaffNone, StaffActive, StaffOnBreak, StaffFinished}

// Staff is a person working an event in a work window. QRSecret is what
// their staff QR code carries; only callers who see the event's merchant get it.
type Staff struct {
	ID         string    `json:"id"`
	EventID    string    `json:"event_id"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	WorkStarts time.Time `json:"work_starts"`
	WorkEnds   time.Time `json:"work_ends"`
	Status     string    `json:"status"`
	QRSecret   string    `json:"qr_secret"`
	// Pass is the signed staff pass the gate made for the work window:
	// what the staff member's QR code shows and the gates verify. Empty
	// until the event's gate granted it.
	Pass      string    `json:"pass,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// StaffInput is what adding or editing an event's staff member takes.
type StaffInput struct {
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	WorkStarts time.Time `json:"work_starts"`
	WorkEnds   time.Time `json:"work_ends"`
	// Status defaults to "none".
	Status string `json:"status"`
}

func (in *StaffInput) validate() error {
	var c checker
	c.text("name", in.Name, 1, 100)
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email {
		c.Add("email", "%q is not an e-mail address", in.Email)
	}
	c.window("work_starts", "work_ends", in.WorkStarts, in.WorkEnds)
	if in.Status == "" {
		in.Status = StaffNone
	}
	c.oneOf("status", in.Status, StaffStatuses)
	return c.err()
}

// Schedule states.
const (
	SchedulePlanned  = "planned"
	ScheduleProgress = "progress"
	ScheduleDone     = "done"
	ScheduleCanceled = "canceled"
)

// ScheduleStatuses lists every schedule state.
var ScheduleStatuses = []string{SchedulePlanned, ScheduleProgress, ScheduleDone, ScheduleCanceled}

// Schedule is a slot of an event's staff plan, approved by someone.
type Schedule struct {
	ID        string    `json:"id"`
	EventID   string    `json:"event_id"`
	Name      string    `json:"name"`
	Starts    time.Time `json:"starts"`
	Ends      time.Time `json:"ends"`
	Approver  string    `json:"approver"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// ScheduleInput is what adding or editing a schedule takes.
type ScheduleInput struct {
	Name     string    `json:"name"`
	Starts   time.Time `json:"starts"`
	Ends     time.Time `json:"ends"`
	Approver string    `json:"approver"`
	// Status defaults to "planned".
	Status string `json:"status"`
}

func (in *ScheduleInput) validate() error {
	var c checker
	c.text("name", in.Name, 1, 100)
	c.window("starts", "ends", in.Starts, in.Ends)
	c.text("approver", in.Approver, 0, 100)
	if in.Status == "" {
		in.Status = SchedulePlanned
	}
	c.oneOf("status", in.Status, ScheduleStatuses)
	return c.err()
}

// AddStaff adds a staff member to an event, with a fresh QR secret.
func (s *Service) AddStaff(ctx context.Context, sc Scope, event string, in StaffInput) (Staff, error) {
	if err := in.validate(); err != nil {
		return Staff{}, err
	}
	if _, err := s.Event(ctx, sc, event); err != nil {
		return Staff{}, err
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	st := Staff{ID: newID("stf"), EventID: event, Name: strings.TrimSpace(in.Name), Email: in.Email, WorkStarts: in.WorkStarts.UTC(),
		WorkEnds: in.WorkEnds.UTC(), Status: in.Status, QRSecret: secret(16), CreatedAt: now}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO staff (id, event_id, name, email, work_starts_at, work_ends_at, status, qr_secret, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), st.ID, st.EventID, st.Name, st.Email, micros(st.WorkStarts), micros(st.WorkEnds), st.Status, st.QRSecret, micros(now)); err != nil {
			return err
		}
		return s.publishStaff(ctx, tx, staffChanged(messages.TypeStaffAssigned, st))
	})
	if err != nil {
		return Staff{}, fmt.Errorf("ticketing: add staff: %w", err)
	}
	return s.StaffMember(ctx, sc, event, st.ID)
}

// UpdateStaff edits a staff member; the QR secret stays.
func (s *Service) UpdateStaff(ctx context.Context, sc Scope, event, id string, in StaffInput) (Staff, error) {
	if err := in.validate(); err != nil {
		return Staff{}, err
	}
	st, err := s.StaffMember(ctx, sc, event, id)
	if err != nil {
		return Staff{}, err
	}
	st.Name, st.Email, st.WorkStarts, st.WorkEnds, st.Status = strings.TrimSpace(in.Name), in.Email, in.WorkStarts.UTC(), in.WorkEnds.UTC(), in.Status
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE staff SET name = ?, email = ?, work_starts_at = ?, work_ends_at = ?, status = ? WHERE id = ?`),
			st.Name, st.Email, micros(st.WorkStarts), micros(st.WorkEnds), st.Status, id); err != nil {
			return err
		}
		return s.publishStaff(ctx, tx, staffChanged(messages.TypeStaffAssigned, st))
	})
	if err != nil {
		return Staff{}, fmt.Errorf("ticketing: update staff: %w", err)
	}
	return s.StaffMember(ctx, sc, event, id)
}

// StaffMember returns one staff member of an event.
func (s *Service) StaffMember(ctx context.Context, sc Scope, event, id string) (Staff, error) {
	list, err := s.StaffOf(ctx, sc, event)
	if err != nil {
		return Staff{}, err
	}
	for _, st := range list {
		if st.ID == id {
			return st, nil
		}
	}
	return Staff{}, invalid.Refuse(ErrNotFound, "staff_unknown", "staff %s of event %s", id, event)
}

// StaffOf lists an event's staff by name.
func (s *Service) StaffOf(ctx context.Context, sc Scope, event string) ([]Staff, error) {
	if _, err := s.Event(ctx, sc, event); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, event_id, name, email, work_starts_at, work_ends_at, status, qr_secret, pass, created_at
		FROM staff WHERE event_id = ? ORDER BY name, id`), event)
	if err != nil {
		return nil, fmt.Errorf("ticketing: staff: %w", err)
	}
	defer rows.Close()
	out := []Staff{}
	for rows.Next() {
		var st Staff
		var starts, ends, created int64
		if err := rows.Scan(&st.ID, &st.EventID, &st.Name, &st.Email, &starts, &ends, &st.Status, &st.QRSecret, &st.Pass, &created); err != nil {
			return nil, err
		}
		st.WorkStarts, st.WorkEnds, st.CreatedAt = fromMicros(starts), fromMicros(ends), fromMicros(created)
		out = append(out, st)
	}
	return out, rows.Err()
}

// DeleteStaff removes a staff member; the gate revokes their pass.
func (s *Service) DeleteStaff(ctx context.Context, sc Scope, event, id string) error {
	st, err := s.StaffMember(ctx, sc, event, id)
	if err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM staff WHERE id = ? AND event_id = ?`), id, event); err != nil {
			return err
		}
		return s.publishStaff(ctx, tx, staffChanged(messages.TypeStaffRemoved, st))
	})
	if err != nil {
		return fmt.Errorf("ticketing: delete staff: %w", err)
	}
	return nil
}

// staffChanged is the message that tells the gate about a staff member.
func staffChanged(typ string, st Staff) messages.StaffChanged {
	return messages.StaffChanged{Type: typ, EventID: st.EventID, StaffID: st.ID, Name: st.Name, Email: st.Email, WorkStarts: st.WorkStarts,
		WorkEnds: st.WorkEnds, Status: st.Status, At: time.Now().UTC()}
}

// publishStaff writes a staff change to TopicStaff through the outbox,
// keyed by event id, in tx.
func (s *Service) publishStaff(ctx context.Context, tx *sql.Tx, m messages.StaffChanged) error {
	m.At = s.cfg.Now().UTC()
	r, err := jsonRecord(m.EventID, m)
	if err != nil {
		return err
	}
	r.Topic = messages.TopicStaff
	return s.outbox.Write(ctx, tx, r)
}

func (s *Service) deleteOf(ctx context.Context, sc Scope, table, event, id string) error {
	if _, err := s.Event(ctx, sc, event); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM `+table+` WHERE id = ? AND event_id = ?`), id, event)
	if err != nil {
		return fmt.Errorf("ticketing: delete %s: %w", table, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return invalid.Refuse(ErrNotFound, "schedule_unknown", "schedules %s of event %s", id, event)
	}
	return nil
}

// AddSchedule adds a schedule to an event.
func (s *Service) AddSchedule(ctx context.Context, sc Scope, event string, in ScheduleInput) (Schedule, error) {
	if err := in.validate(); err != nil {
		return Schedule{}, err
	}
	if _, err := s.Event(ctx, sc, event); err != nil {
		return Schedule{}, err
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	sch := Schedule{ID: newID("sch"), EventID: event, Name: strings.TrimSpace(in.Name), Starts: in.Starts.UTC(), Ends: in.Ends.UTC(),
		Approver: strings.TrimSpace(in.Approver), Status: in.Status, CreatedAt: now}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO schedules (id, event_id, name, starts_at, ends_at, approver, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), sch.ID, sch.EventID, sch.Name, micros(sch.Starts), micros(sch.Ends), sch.Approver, sch.Status, micros(now))
	if err != nil {
		return Schedule{}, fmt.Errorf("ticketing: add schedule: %w", err)
	}
	return s.schedule(ctx, sch.ID, event)
}

// UpdateSchedule edits a schedule.
func (s *Service) UpdateSchedule(ctx context.Context, sc Scope, event, id string, in ScheduleInput) (Schedule, error) {
	if err := in.validate(); err != nil {
		return Schedule{}, err
	}
	if _, err := s.Event(ctx, sc, event); err != nil {
		return Schedule{}, err
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE schedules SET name = ?, starts_at = ?, ends_at = ?, approver = ?, status = ? WHERE id = ? AND event_id = ?`),
		strings.TrimSpace(in.Name), micros(in.Starts), micros(in.Ends), strings.TrimSpace(in.Approver), in.Status, id, event)
	if err != nil {
		return Schedule{}, fmt.Errorf("ticketing: update schedule: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Schedule{}, invalid.Refuse(ErrNotFound, "schedule_unknown", "schedule %s of event %s", id, event)
	}
	return s.schedule(ctx, id, event)
}

func (s *Service) schedule(ctx context.Context, id, event string) (Schedule, error) {
	var sch Schedule
	var starts, ends, created int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT id, event_id, name, starts_at, ends_at, approver, status, created_at FROM schedules
		WHERE id = ? AND event_id = ?`), id, event).Scan(&sch.ID, &sch.EventID, &sch.Name, &starts, &ends, &sch.Approver, &sch.Status, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Schedule{}, invalid.Refuse(ErrNotFound, "schedule_unknown", "schedule %s of event %s", id, event)
	}
	sch.Starts, sch.Ends, sch.CreatedAt = fromMicros(starts), fromMicros(ends), fromMicros(created)
	return sch, err
}

// Schedules lists an event's schedules by start.
func (s *Service) Schedules(ctx context.Context, sc Scope, event string) ([]Schedule, error) {
	if _, err := s.Event(ctx, sc, event); err != nil {
		return nil, err
	}
	ids, err := s.strings(ctx, `SELECT id FROM schedules WHERE event_id = ? ORDER BY starts_at, id`, event)
	if err != nil {
		return nil, err
	}
	out := []Schedule{}
	for _, id := range ids {
		sch, err := s.schedule(ctx, id, event)
		if err != nil {
			return nil, err
		}
		out = append(out, sch)
	}
	return out, nil
}

// DeleteSchedule removes a schedule.
func (s *Service) DeleteSchedule(ctx context.Context, sc Scope, event, id string) error {
	return s.deleteOf(ctx, sc, "schedules", event, id)
}
