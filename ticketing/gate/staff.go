package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

// AllAreas is the area of a staff pass fed from the ticketing service's
// event staff: it lets in at every gate of the event.
const AllAreas = "*"

// StaffFinished is the staff status that ends a staff member's access.
const StaffFinished = "finished"

// ChangeStaff applies a change of the event's staff (the ticketing
// service's StaffChanged): an assigned staff member gets a signed pass for
// their work window, valid at every gate (AllAreas) while the window
// lasts, kept with their name and e-mail address for a supervisor's
// search; a removed one, or one whose status is finished, is revoked. The
// answer (StaffAccess, with the signed QR payload) is published on
// acl.staff in the change's transaction. A change of the work window
// takes effect at once online: the gate decides a staff pass by the
// window it holds, not the one signed in an older QR code.
func (s *Service) ChangeStaff(ctx context.Context, m messages.StaffChanged) (messages.StaffAccess, error) {
	return s.changeStaff(ctx, m, nil)
}

func (s *Service) changeStaff(ctx context.Context, m messages.StaffChanged, first once) (messages.StaffAccess, error) {
	if _, err := s.liveServer(ctx, m.EventID); err != nil {
		return messages.StaffAccess{}, err
	}
	if err := checkID("staff_id", m.StaffID); err != nil {
		return messages.StaffAccess{}, err
	}
	at := m.At
	if at.IsZero() {
		at = s.now()
	}
	st, _, err := s.loadPass(ctx, m.EventID, m.StaffID)
	if err != nil {
		return messages.StaffAccess{}, err
	}
	if st.Issued && st.Kind != "staff" {
		return messages.StaffAccess{}, invalid.New(ErrInvalid, "staff_id", "is the id of a ticket of event %s", m.EventID)
	}
	answer := messages.StaffAccess{EventID: m.EventID, StaffID: m.StaffID, At: at}
	var ev *eventsource.Event
	if m.Type == messages.TypeStaffRemoved || m.Status == StaffFinished {
		answer.Type = messages.TypeStaffRevoked
		if st.Issued && st.Status != StatusRevoked {
			e := event(evRevoked, statusData{EventID: m.EventID, PassID: m.StaffID, Status: StatusRevoked, Reason: "staff " + removedWord(m)}, at)
			ev = &e
		}
	} else {
		if m.WorkEnds.IsZero() || m.WorkStarts.IsZero() {
			return messages.StaffAccess{}, invalid.New(ErrInvalid, "work_starts", "a staff pass needs a work window")
		}
		if m.WorkEnds.Before(m.WorkStarts) {
			return messages.StaffAccess{}, invalid.New(ErrInvalid, "work_ends", "is before work_starts")
		}
		qr, err := s.SignPass(ctx, Pass{Kind: KindStaff, EventID: m.EventID, PassID: m.StaffID, AreaID: AllAreas, NotBefore: m.WorkStarts, NotAfter: m.WorkEnds})
		if err != nil {
			return messages.StaffAccess{}, err
		}
		answer.Type, answer.QR, answer.WorkStarts, answer.WorkEnds = messages.TypeStaffGranted, qr, m.WorkStarts.UTC(), m.WorkEnds.UTC()
		typ := evIssued
		if st.Issued {
			typ = evRenewed
		}
		e := event(typ, issuedData{EventID: m.EventID, PassID: m.StaffID, Kind: "staff", AreaID: AllAreas,
			StaffName: tidyName(m.Name), Email: strings.TrimSpace(m.Email), NotBefore: m.WorkStarts.UTC(), NotAfter: m.WorkEnds.UTC()}, at)
		ev = &e
	}
	answer.At = at
	b, err := json.Marshal(answer)
	if err != nil {
		return messages.StaffAccess{}, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if first != nil {
			if ok, err := first(tx); err != nil || !ok {
				return err
			}
		}
		if ev != nil {
			if _, err := s.es.AppendTx(ctx, tx, streamID(m.EventID, m.StaffID), eventsource.AnyVersion, *ev); err != nil {
				return err
			}
		}
		return s.outbox.Write(ctx, tx, &stream.Record{Topic: messages.TopicStaffAccess, Key: []byte(m.EventID), Value: b})
	})
	if err != nil {
		return messages.StaffAccess{}, fmt.Errorf("gate: staff %s of event %s: %w", m.StaffID, m.EventID, err)
	}
	s.es.Notify()
	return answer, nil
}

func removedWord(m messages.StaffChanged) string {
	if m.Type == messages.TypeStaffRemoved {
		return "removed"
	}
	return "finished"
}

// staffWindow is the window a staff pass is decided by: the one its
// stream holds now.
func staffWindow(st passState) Pass {
	return Pass{NotBefore: st.NotBefore, NotAfter: st.NotAfter}
}

// keepPendingStaff keeps a staff change for an event without a server,
// unless a later one of the staff member is kept already.
func (s *Service) keepPendingStaff(ctx context.Context, m messages.StaffChanged, raw []byte) error {
	if err := checkID("staff_id", m.StaffID); err != nil {
		return err
	}
	at := m.At
	if at.IsZero() {
		at = s.now()
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var prev int64
		err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT at_ns FROM gate_staff_pending WHERE event_id = ? AND staff_id = ?`), m.EventID, m.StaffID).Scan(&prev)
		switch {
		case err == nil && prev > at.UnixNano():
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("gate: pending staff: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM gate_staff_pending WHERE event_id = ? AND staff_id = ?`), m.EventID, m.StaffID); err != nil {
			return fmt.Errorf("gate: pending staff: %w", err)
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO gate_staff_pending (event_id, staff_id, message, at_ns) VALUES (?, ?, ?, ?)`),
			m.EventID, m.StaffID, string(raw), at.UnixNano())
		if err != nil {
			return fmt.Errorf("gate: pending staff: %w", err)
		}
		s.log.Info("gate: a staff change for an event without an access-control server is kept until it has one", "event_id", m.EventID, "staff_id", m.StaffID)
		return nil
	})
}

// prepareStaff gives passes to an event's staff when its server is
// prepared: the command's staff, and the changes kept meanwhile
// (keepPendingStaff), the later of the two per staff member.
func (s *Service) prepareStaff(ctx context.Context, eventID string, staff []messages.StaffChanged) error {
	latest := map[string]messages.StaffChanged{}
	var order []string
	add := func(m messages.StaffChanged) {
		m.EventID = eventID
		prev, ok := latest[m.StaffID]
		if !ok {
			order = append(order, m.StaffID)
		}
		if !ok || !m.At.Before(prev.At) {
			latest[m.StaffID] = m
		}
	}
	for _, m := range staff {
		add(m)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT message FROM gate_staff_pending WHERE event_id = ? ORDER BY at_ns`), eventID)
	if err != nil {
		return fmt.Errorf("gate: pending staff: %w", err)
	}
	var pending []string
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			rows.Close()
			return fmt.Errorf("gate: pending staff: %w", err)
		}
		pending = append(pending, raw)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("gate: pending staff: %w", err)
	}
	for _, raw := range pending {
		var m messages.StaffChanged
		if err := json.Unmarshal([]byte(raw), &m); err == nil {
			add(m)
		}
	}
	for _, id := range order {
		if _, err := s.ChangeStaff(ctx, latest[id]); err != nil {
			if !errors.Is(err, ErrInvalid) {
				return err
			}
			s.log.Warn("gate: a staff member of the event gets no pass", "event_id", eventID, "staff_id", id, "err", err)
		}
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM gate_staff_pending WHERE event_id = ?`), eventID); err != nil {
		return fmt.Errorf("gate: pending staff: %w", err)
	}
	return nil
}
