package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arus-platform/arus/eventsource"
)

// Event types of a pass's stream, "pass/<event>/<pass>".
const (
	evIssued    = "pass.issued"
	evRevoked   = "pass.revoked"
	evBlocked   = "pass.blocked"
	evUnblocked = "pass.unblocked"
	evScanned   = "pass.scanned"
	// evRenewed gives an issued pass a new window (a staff member's work
	// window changed) and makes it valid again unless blocked.
	evRenewed = "pass.renewed"
)

// Pass statuses in the access list.
const (
	StatusValid    = "valid"
	StatusRevoked  = "revoked"
	StatusCanceled = "canceled"
	StatusBlocked  = "blocked"
)

func streamID(eventID, passID string) string { return "pass/" + eventID + "/" + passID }

type issuedData struct {
	EventID string `json:"event_id"`
	PassID  string `json:"pass_id"`
	Kind    string `json:"kind"`
	OrderID string `json:"order_id,omitempty"`
	// BuyerID is the user who bought the ticket, when signed in.
	BuyerID string `json:"buyer_id,omitempty"`
	// Number is the order's number and BuyerName the buyer's name, by
	// which a supervisor finds the pass; empty for a staff pass and for a
	// ticket issued before the gate kept them.
	Number    string `json:"number,omitempty"`
	BuyerName string `json:"buyer_name,omitempty"`
	// StaffName is a staff pass's staff member's name, found as a buyer's
	// name is; Email is the buyer's or the staff member's e-mail address,
	// which a search matches whole but never returns. Both are empty for
	// a pass issued before the gate kept them. A renewal carries the
	// staff member's latest.
	StaffName string    `json:"staff_name,omitempty"`
	Email     string    `json:"email,omitempty"`
	AreaID    string    `json:"area_id"`
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
}

type statusData struct {
	EventID string `json:"event_id"`
	PassID  string `json:"pass_id"`
	Status  string `json:"status,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Scan is one scan as recorded: its decision, and for a scan recorded
// although it conflicts (forced, overridden), the conflict in Flag.
type Scan struct {
	ScanID    string    `json:"scan_id"`
	EventID   string    `json:"event_id"`
	PassID    string    `json:"pass_id"`
	AreaID    string    `json:"area_id"`
	GateID    string    `json:"gate_id"`
	ListID    string    `json:"list_id"`
	DeviceID  string    `json:"device_id,omitempty"`
	Direction string    `json:"direction"`
	At        time.Time `json:"at"`
	// OK is true when the person was let through (or, forced, already
	// was); Reason is why not otherwise.
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
	Forced bool   `json:"forced,omitempty"`
	// Flag is the reason a scan that was let through should not have
	// been (already_redeemed, revoked, ...), or "admitted" for a pass a
	// supervisor let through by its id, without the pass.
	Flag string `json:"flag,omitempty"`
	// Override is a supervisor's recorded reason for letting through (an
	// override of a refusal, or an admit by id).
	Override string `json:"override,omitempty"`
	// Counted is true when the scan moved the person inside or outside.
	Counted bool `json:"counted"`
	// Previous names the earlier entry a flagged duplicate conflicts with,
	// or a refusal already_redeemed refers to.
	Previous *Entry `json:"previous,omitempty"`
}

// Entry is where and when a pass last entered.
type Entry struct {
	GateID   string    `json:"gate_id"`
	DeviceID string    `json:"device_id,omitempty"`
	At       time.Time `json:"at"`
}

// passState is a pass folded from its stream.
type passState struct {
	Issued    bool
	Kind      string
	OrderID   string
	BuyerID   string
	Number    string
	BuyerName string
	StaffName string
	// Email is as the issued event holds it; the access list keeps it
	// lowercased (emailKey).
	Email     string
	AreaID    string
	Status    string
	NotBefore time.Time
	NotAfter  time.Time
	Inside    bool
	Entries   int
	Flagged   bool
	Last      *Entry
	Scans     map[string]bool
}

func (st *passState) apply(e eventsource.Event) error {
	switch e.Type {
	case evIssued:
		var d issuedData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		st.Issued, st.Kind, st.OrderID, st.BuyerID, st.AreaID, st.NotBefore, st.NotAfter = true, d.Kind, d.OrderID, d.BuyerID, d.AreaID, d.NotBefore, d.NotAfter
		st.Number, st.BuyerName, st.StaffName, st.Email = d.Number, d.BuyerName, d.StaffName, d.Email
		if st.Status == "" {
			st.Status = StatusValid
		}
	case evRenewed:
		var d issuedData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		st.Issued, st.Kind, st.AreaID, st.NotBefore, st.NotAfter = true, d.Kind, d.AreaID, d.NotBefore, d.NotAfter
		// A renewal written before the gate kept staff names and e-mail
		// addresses carries none: the pass keeps the ones it has.
		if d.StaffName != "" {
			st.StaffName = d.StaffName
		}
		if d.Email != "" {
			st.Email = d.Email
		}
		if st.Status != StatusBlocked {
			st.Status = StatusValid
		}
	case evRevoked, evBlocked, evUnblocked:
		var d statusData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return err
		}
		switch {
		case e.Type == evRevoked:
			st.Status = d.Status
		case e.Type == evBlocked && st.Status == StatusValid:
			st.Status = StatusBlocked
		case e.Type == evUnblocked && st.Status == StatusBlocked:
			st.Status = StatusValid
		}
	case evScanned:
		sc, err := scanOf(e.Data)
		if err != nil {
			return err
		}
		st.applyScan(sc)
	default:
		return fmt.Errorf("unknown event type %q", e.Type)
	}
	return nil
}

func (st *passState) applyScan(sc Scan) {
	if st.Scans == nil {
		st.Scans = map[string]bool{}
	}
	st.Scans[sc.ScanID] = true
	if st.AreaID == "" {
		st.AreaID = sc.AreaID
	}
	if sc.Flag != "" {
		st.Flagged = true
	}
	if !sc.OK || !sc.Counted {
		return
	}
	if sc.Direction == DirectionEntry {
		st.Inside = true
		st.Entries++
		st.Last = &Entry{GateID: sc.GateID, DeviceID: sc.DeviceID, At: sc.At}
	} else {
		st.Inside = false
	}
}

// project applies one event of the store to the access list.
func (s *Service) project(ctx context.Context, tx *sql.Tx, e eventsource.Event) error {
	eventID, passID, ok := splitStream(e.StreamID)
	if !ok {
		return nil
	}
	st, err := s.loadPassRow(ctx, tx, eventID, passID)
	if err != nil {
		return err
	}
	if err := st.apply(e); err != nil {
		return err
	}
	if e.Type == evScanned {
		var sc Scan
		if err := json.Unmarshal(e.Data, &sc); err != nil {
			return err
		}
		result := "ok"
		if !sc.OK {
			result = "rejected"
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO gate_scans (event_id, scan_id, pass_id, gate_id, list_id, device_id, direction, at_ns, result, reason, forced, flag, counted, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			eventID, sc.ScanID, passID, sc.GateID, sc.ListID, sc.DeviceID, sc.Direction, sc.At.UnixNano(), result, sc.Reason, boolInt(sc.Forced), sc.Flag, boolInt(sc.Counted), e.Position); err != nil {
			return err
		}
	} else {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO gate_changes (position, event_id, pass_id, area_id, status) VALUES (?, ?, ?, ?, ?)`),
			e.Position, eventID, passID, st.AreaID, st.Status); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM gate_passes WHERE event_id = ? AND pass_id = ?`), eventID, passID); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO gate_passes (event_id, pass_id, kind, order_id, buyer_id, order_number, buyer_name, staff_name, email, search_words, area_id, status, inside, entries, flagged, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		eventID, passID, st.Kind, st.OrderID, st.BuyerID, st.Number, st.BuyerName, st.StaffName, emailKey(st.Email), searchWords(st.Number, st.BuyerName, st.StaffName),
		st.AreaID, st.Status, boolInt(st.Inside), st.Entries, boolInt(st.Flagged), e.Position)
	return err
}

func (s *Service) loadPassRow(ctx context.Context, tx *sql.Tx, eventID, passID string) (passState, error) {
	var st passState
	var inside, flagged int
	err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT kind, order_id, buyer_id, order_number, buyer_name, staff_name, email, area_id, status, inside, entries, flagged FROM gate_passes WHERE event_id = ? AND pass_id = ?`), eventID, passID).
		Scan(&st.Kind, &st.OrderID, &st.BuyerID, &st.Number, &st.BuyerName, &st.StaffName, &st.Email, &st.AreaID, &st.Status, &inside, &st.Entries, &flagged)
	if errors.Is(err, sql.ErrNoRows) {
		return passState{}, nil
	}
	st.Issued = st.Kind != ""
	st.Inside, st.Flagged = inside == 1, flagged == 1
	return st, err
}

func splitStream(id string) (eventID, passID string, ok bool) {
	rest, ok := strings.CutPrefix(id, "pass/")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "/")
}

func (s *Service) resetAccess(ctx context.Context, tx *sql.Tx) error {
	for _, t := range []string{"gate_passes", "gate_scans", "gate_changes"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return err
		}
	}
	return nil
}

// Project brings the access list up to date with every event appended,
// by any process, and returns how many it applied.
func (s *Service) Project(ctx context.Context) (int, error) {
	return s.es.Project(ctx, s.proj)
}

// RunProjection keeps the access list up to date until ctx ends.
func (s *Service) RunProjection(ctx context.Context) error {
	return s.es.RunProjection(ctx, s.proj)
}

// Rebuild empties the access list (passes, scans, changes and counts of
// every event) and replays the whole log into it. The result equals the
// access list built as events came.
func (s *Service) Rebuild(ctx context.Context) (int, error) {
	return s.es.Rebuild(ctx, s.proj)
}

// loadPass folds a pass's stream: its state and version.
func (s *Service) loadPass(ctx context.Context, eventID, passID string) (passState, int64, error) {
	events, err := s.es.Load(ctx, streamID(eventID, passID), 0)
	if err != nil {
		return passState{}, 0, err
	}
	var st passState
	for _, e := range events {
		if err := st.apply(e); err != nil {
			return passState{}, 0, fmt.Errorf("gate: pass %s event %d: %w", passID, e.Version, err)
		}
	}
	return st, int64(len(events)), nil
}

func event(typ string, v any, at time.Time) eventsource.Event {
	b, _ := json.Marshal(v)
	return eventsource.Event{Type: typ, Data: b, Time: at}
}

func scanOf(data []byte) (Scan, error) {
	var sc Scan
	if err := json.Unmarshal(data, &sc); err != nil {
		return sc, fmt.Errorf("gate: scan event: %w", err)
	}
	return sc, nil
}

// RebuildEvent rebuilds one event's part of the access list: it reads
// the event's streams up to the projection's checkpoint, then, in one
// transaction that holds the checkpoint (and starts again if the
// checkpoint moved meanwhile), empties the event's passes, scans and
// changes and replays them. Other events are untouched. It returns the
// events replayed.
func (s *Service) RebuildEvent(ctx context.Context, eventID string) (int, error) {
	if _, err := s.Server(ctx, eventID); err != nil {
		return 0, err
	}
	prefix := "pass/" + eventID + "/"
	for attempt := 0; attempt < 10; attempt++ {
		upTo, err := s.es.Checkpoint(ctx, s.proj.Name)
		if err != nil {
			return 0, fmt.Errorf("gate: rebuild event %s: %w", eventID, err)
		}
		var events []eventsource.Event
		for after := int64(0); after < upTo; {
			batch, err := s.es.ReadAll(ctx, after, 1000)
			if err != nil {
				return 0, fmt.Errorf("gate: rebuild event %s: %w", eventID, err)
			}
			if len(batch) == 0 {
				break
			}
			for _, e := range batch {
				after = e.Position
				if e.Position <= upTo && strings.HasPrefix(e.StreamID, prefix) {
					events = append(events, e)
				}
			}
		}
		moved := false
		err = s.db.InTx(ctx, func(tx *sql.Tx) error {
			// Writing the checkpoint's row holds it: on PostgreSQL the
			// projection's batches wait for this transaction; on SQLite
			// every write transaction runs alone.
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE gate_checkpoints SET position = position WHERE projection = ?`), s.proj.Name); err != nil {
				return err
			}
			now, err := s.es.CheckpointTx(ctx, tx, s.proj.Name)
			if err != nil {
				return err
			}
			if now != upTo {
				moved = true
				return nil
			}
			for _, t := range []string{"gate_passes", "gate_scans", "gate_changes"} {
				if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM `+t+` WHERE event_id = ?`), eventID); err != nil {
					return err
				}
			}
			for _, e := range events {
				if err := s.project(ctx, tx, e); err != nil {
					return fmt.Errorf("event %d: %w", e.Position, err)
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("gate: rebuild event %s: %w", eventID, err)
		}
		if !moved {
			return len(events), nil
		}
	}
	return 0, fmt.Errorf("gate: rebuild event %s: the projection kept moving; try again", eventID)
}
