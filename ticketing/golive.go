package ticketing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/inventory"
	"github.com/arus-platform/arus/ticketing/messages"
)

// GoLiveSaga is the name of the go-live saga's definition.
const GoLiveSaga = "ticketing.go_live"

// goLiveTimeout bounds each step's wait for its answer. It outlasts a
// restart of the service that answers: on Kafka the partitions of a
// process killed mid-step stay with it until its group session expires
// (45 s by default) and the group rebalances, and the answer comes only
// then.
const goLiveTimeout = 2 * time.Minute

// goLiveData is the go-live saga's data: what its commands carry.
type goLiveData struct {
	EventID    string                  `json:"event_id"`
	MerchantID string                  `json:"merchant_id"`
	Areas      []messages.Area         `json:"areas"`
	SaleStart  time.Time               `json:"sale_start"`
	SaleEnd    time.Time               `json:"sale_end"`
	Starts     time.Time               `json:"starts"`
	Ends       time.Time               `json:"ends"`
	TimeZone   string                  `json:"time_zone"`
	Staff      []messages.StaffChanged `json:"staff,omitempty"`
	// GateStub is set from the gate's answer.
	GateStub bool `json:"gate_stub,omitempty"`
}

// GoLive is the saga that takes an approved event on sale over the
// original deployment's five topics:
//
//	ticketing.create (CreateInventory)     → ticketing.created (InventoryCreated)
//	acl.server.create (CreateACLServer)    → acl.server.prepared (ACLServerPrepared)
//	ticketing.status.update (StatusUpdate) → ticketing.created (the StatusUpdate applied)
//
// The ticketing service prepares the inventory (each area's capacity) and
// applies the status; the gate prepares the event's access-control server.
// When a step fails, the steps before it are undone in reverse order (the
// gate drops the server, the inventory's capacities go to zero) and the
// event stays approved with the reason shown on it. Give GoLive to the
// [saga.Orchestrator] the service is configured with.
var GoLive = saga.Definition{
	Name: GoLiveSaga,
	Steps: []saga.Step{
		{
			Name:         "inventory",
			Command:      saga.Command{Topic: messages.TopicCreate, Build: buildCreateInventory},
			Compensation: saga.Command{Topic: messages.TopicCreate, Build: buildCreateInventory},
			ReplyTopic:   messages.TopicCreated,
			Timeout:      goLiveTimeout,
		},
		{
			Name:         "acl_server",
			Command:      saga.Command{Topic: messages.TopicACLCreate, Build: buildCreateACLServer},
			Compensation: saga.Command{Topic: messages.TopicACLCreate, Build: buildCreateACLServer},
			ReplyTopic:   messages.TopicACLPrepared,
			Timeout:      goLiveTimeout,
			Update:       noteGate,
		},
		{
			Name:       "on_sale",
			Command:    saga.Command{Topic: messages.TopicStatusUpdate, Build: buildStatusUpdate},
			ReplyTopic: messages.TopicCreated,
			Timeout:    goLiveTimeout,
		},
	},
}

func decodeGoLive(data []byte) (goLiveData, error) {
	var d goLiveData
	if err := json.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("go-live data: %w", err)
	}
	return d, nil
}

func jsonRecord(key string, v any) (*stream.Record, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &stream.Record{Key: []byte(key), Value: b}, nil
}

func buildCreateInventory(data []byte) (*stream.Record, error) {
	d, err := decodeGoLive(data)
	if err != nil {
		return nil, err
	}
	return jsonRecord(d.EventID, messages.CreateInventory{Type: messages.TypeCreateInventory, EventID: d.EventID,
		MerchantID: d.MerchantID, Areas: d.Areas, SaleStart: d.SaleStart, SaleEnd: d.SaleEnd})
}

func buildCreateACLServer(data []byte) (*stream.Record, error) {
	d, err := decodeGoLive(data)
	if err != nil {
		return nil, err
	}
	return jsonRecord(d.EventID, messages.CreateACLServer{Type: messages.TypeCreateACLServer, EventID: d.EventID,
		MerchantID: d.MerchantID, Areas: d.Areas, Starts: d.Starts, Ends: d.Ends, TimeZone: d.TimeZone, Staff: d.Staff})
}

func buildStatusUpdate(data []byte) (*stream.Record, error) {
	d, err := decodeGoLive(data)
	if err != nil {
		return nil, err
	}
	return jsonRecord(d.EventID, messages.StatusUpdate{Type: messages.TypeStatusUpdate, EventID: d.EventID,
		Status: StatusOnSale, GateStub: d.GateStub})
}

// noteGate keeps in the saga's data whether the gate's answer came from
// the stub.
func noteGate(data []byte, reply *stream.Record) ([]byte, error) {
	d, err := decodeGoLive(data)
	if err != nil {
		return nil, err
	}
	var p messages.ACLServerPrepared
	if err := json.Unmarshal(reply.Value, &p); err != nil {
		return nil, fmt.Errorf("acl.server.prepared: %w", err)
	}
	d.GateStub = p.Stub
	return json.Marshal(d)
}

// StartGoLive starts the go-live saga of an approved event that is not
// going live already: after approval, or again after a go-live failed.
func (s *Service) StartGoLive(ctx context.Context, id string) (Event, error) {
	e, err := s.Event(ctx, Everything, id)
	if err != nil {
		return Event{}, err
	}
	if e.Status != StatusApproved {
		return Event{}, invalid.Refuse(ErrConflict, "event_not_approved", "event %s is %s; only an approved event goes on sale", id, e.Status)
	}
	if len(e.Areas) == 0 {
		return Event{}, invalid.Refuse(ErrConflict, "event_without_areas", "event %s has no areas", id)
	}
	sagaID := fmt.Sprintf("%s.go_live.%d", id, e.GoLive.Attempts+1)
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE events SET go_live_saga = ?, go_live_state = ?, go_live_attempts = go_live_attempts + 1,
		status_reason = '', updated_at = ? WHERE id = ? AND status = ? AND go_live_attempts = ? AND go_live_state <> ?`),
		sagaID, string(saga.StateRunning), micros(s.cfg.Now()), id, StatusApproved, e.GoLive.Attempts, string(saga.StateRunning))
	if err != nil {
		return Event{}, fmt.Errorf("ticketing: go live %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Event{}, invalid.Refuse(ErrConflict, "event_going_live", "event %s is going live already", id)
	}
	d := goLiveData{EventID: e.ID, MerchantID: e.MerchantID, SaleStart: e.SaleStarts, SaleEnd: e.SaleEnds,
		Starts: e.Starts, Ends: e.Ends, TimeZone: e.TimeZone}
	for _, a := range e.Areas {
		d.Areas = append(d.Areas, messages.Area{AreaID: a.ID, Name: a.Name, Capacity: a.Capacity, Price: a.Price})
	}
	staff, err := s.StaffOf(ctx, Everything, id)
	if err != nil {
		return Event{}, err
	}
	for _, st := range staff {
		d.Staff = append(d.Staff, staffChanged(messages.TypeStaffAssigned, st))
	}
	data, err := json.Marshal(d)
	if err != nil {
		return Event{}, err
	}
	if _, err := s.cfg.Sagas.Start(ctx, GoLiveSaga, sagaID, data); err != nil && !errors.Is(err, saga.ErrExists) {
		_, _ = s.db.ExecContext(ctx, s.db.Rebind(`UPDATE events SET go_live_state = ?, status_reason = ? WHERE id = ?`),
			string(saga.StateFailed), "go-live could not start: "+err.Error(), id)
		return Event{}, fmt.Errorf("ticketing: go live %s: %w", id, err)
	}
	s.log.Info("ticketing: go-live saga started", "event_id", id, "saga_id", sagaID)
	return s.Event(ctx, Everything, id)
}

// handleGoLive is the ticketing service's part of the go-live saga: it
// prepares (or, compensating, withdraws) the inventory, and applies the
// status update. It answers through the outbox, in the inbox's
// transaction.
func (s *Service) handleGoLive(ctx context.Context, r *stream.Record) error {
	tx, err := handlerTx(ctx)
	if err != nil {
		return err
	}
	if saga.ID(r) == "" {
		return consume.Permanent(fmt.Errorf("ticketing: %s record %s carries no saga id", r.Topic, r.Key))
	}
	reply := func(rec *stream.Record, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		rec.Value = b
		return s.outbox.Write(ctx, tx, rec)
	}
	switch r.Topic {
	case messages.TopicCreate:
		var m messages.CreateInventory
		if err := json.Unmarshal(r.Value, &m); err != nil {
			return consume.Permanent(fmt.Errorf("ticketing: %s: %w", r.Topic, err))
		}
		answer := messages.InventoryCreated{Type: messages.TypeInventoryCreated, EventID: m.EventID, OK: true}
		if saga.IsCompensation(r) {
			// Withdraw: nothing can be sold before the event is on sale,
			// so every capacity can go to zero.
			for _, a := range m.Areas {
				if err := s.inv.SetCapacity(ctx, inventory.AreaID{Event: m.EventID, Area: a.AreaID}, 0); err != nil &&
					!errors.Is(err, inventory.ErrNoCapacity) {
					answer.OK, answer.Reason = false, err.Error()
					return reply(saga.Failure(r, answer.Reason), answer)
				}
			}
			s.log.Info("ticketing: go-live undone: the event's inventory is withdrawn", "event_id", m.EventID, "saga_id", saga.ID(r))
			return reply(saga.Success(r, nil), answer)
		}
		var status string
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT status FROM events WHERE id = ?`), m.EventID).Scan(&status); err != nil {
			answer.OK, answer.Reason = false, fmt.Sprintf("event %s: %v", m.EventID, err)
			return reply(saga.Failure(r, answer.Reason), answer)
		}
		if status != StatusApproved {
			answer.OK, answer.Reason = false, fmt.Sprintf("event %s is %s, not approved", m.EventID, status)
			return reply(saga.Failure(r, answer.Reason), answer)
		}
		for _, a := range m.Areas {
			if err := s.inv.SetCapacity(ctx, inventory.AreaID{Event: m.EventID, Area: a.AreaID}, a.Capacity); err != nil {
				answer.OK, answer.Reason = false, fmt.Sprintf("area %s: %v", a.Name, err)
				return reply(saga.Failure(r, answer.Reason), answer)
			}
		}
		return reply(saga.Success(r, nil), answer)
	case messages.TopicStatusUpdate:
		var m messages.StatusUpdate
		if err := json.Unmarshal(r.Value, &m); err != nil {
			return consume.Permanent(fmt.Errorf("ticketing: %s: %w", r.Topic, err))
		}
		if m.Status != StatusOnSale {
			return reply(saga.Failure(r, fmt.Sprintf("status %q cannot be set by the go-live saga", m.Status)), m)
		}
		if err := s.setStatus(ctx, tx, m.EventID, []string{StatusApproved}, StatusOnSale, ""); err != nil {
			return reply(saga.Failure(r, err.Error()), m)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE events SET gate_stub = ? WHERE id = ?`), boolInt(m.GateStub), m.EventID); err != nil {
			return err
		}
		if m.GateStub {
			s.log.Warn("ticketing: event on sale; its access-control server is the gate stub, which only acknowledges", "event_id", m.EventID)
		} else {
			s.log.Info("ticketing: event on sale", "event_id", m.EventID)
		}
		return reply(saga.Success(r, nil), m)
	}
	return consume.Permanent(fmt.Errorf("ticketing: unexpected topic %s", r.Topic))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// followGoLive records how every running go-live saga ended: completed, or
// compensated or failed with its reason shown on the event.
func (s *Service) followGoLive(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, go_live_saga FROM events WHERE go_live_state = ?`), string(saga.StateRunning))
	if err != nil {
		return fmt.Errorf("ticketing: follow go-live: %w", err)
	}
	type running struct{ event, saga string }
	var rs []running
	for rows.Next() {
		var r running
		if err := rows.Scan(&r.event, &r.saga); err != nil {
			rows.Close()
			return err
		}
		rs = append(rs, r)
	}
	rows.Close()
	var errs []error
	for _, r := range rs {
		in, err := s.cfg.Sagas.Get(ctx, r.saga)
		if err != nil {
			errs = append(errs, fmt.Errorf("ticketing: go-live of %s: %w", r.event, err))
			continue
		}
		if in.State.Active() {
			continue
		}
		reason := ""
		if in.State != saga.StateCompleted {
			reason = "go-live " + string(in.State) + ": " + in.Error
			s.log.Warn("ticketing: go-live did not complete; the event stays approved", "event_id", r.event, "saga_id", r.saga,
				"state", in.State, "reason", in.Error)
		}
		_, err = s.db.ExecContext(ctx, s.db.Rebind(`UPDATE events SET go_live_state = ?,
			status_reason = CASE WHEN status = ? THEN ? ELSE status_reason END, updated_at = ? WHERE id = ? AND go_live_saga = ?`),
			string(in.State), StatusApproved, reason, micros(s.cfg.Now()), r.event, r.saga)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// advanceEvents moves events on with time: an event whose sale window
// passed before it went on sale, or with nothing sold, is expired; a sale
// window that passed with tickets sold closes the sale; an event that is
// over has ended.
func (s *Service) advanceEvents(ctx context.Context) error {
	now := micros(s.cfg.Now())
	q := func(query string, args ...any) error {
		_, err := s.db.ExecContext(ctx, s.db.Rebind(query), args...)
		return err
	}
	sold := `EXISTS (SELECT 1 FROM orders o WHERE o.event_id = events.id AND o.paid = 1)`
	return errors.Join(
		q(`UPDATE events SET status = ?, status_reason = ?, updated_at = ? WHERE status IN (?, ?, ?) AND sale_ends_at <= ?`,
			StatusExpired, "the sale window passed before the event went on sale", now,
			StatusDraft, StatusWaitingForApproval, StatusApproved, now),
		q(`UPDATE events SET status = ?, status_reason = ?, updated_at = ? WHERE status = ? AND sale_ends_at <= ? AND NOT `+sold,
			StatusExpired, "the sale window passed with no ticket sold", now, StatusOnSale, now),
		q(`UPDATE events SET status = ?, updated_at = ? WHERE status = ? AND sale_ends_at <= ? AND `+sold,
			StatusSaleClosed, now, StatusOnSale, now),
		q(`UPDATE events SET status = ?, updated_at = ? WHERE status = ? AND ends_at <= ?`, StatusEnded, now, StatusSaleClosed, now),
	)
}

// reasonText trims a reason for storage.
func reasonText(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
