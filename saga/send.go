package saga

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// sendBatch is the most records one produce call sends.
const sendBatch = 100

// resume queues again the waiting record of every active instance whose
// record was already sent: it may have been lost on the way while the
// orchestrator was down, and participants drop the copy by its arus-id.
func (o *Orchestrator) resume(ctx context.Context) error {
	var n int
	err := o.inTx(ctx, func(t *txn) error {
		rows, err := t.tx.QueryContext(ctx, o.db.Rebind(`UPDATE saga_instances SET pending = 1, version = version + 1, updated_at = ?
			WHERE state IN (?, ?) AND pending = 0 RETURNING id, step, out_id, out_topic`), t.now, StateRunning, StateCompensating)
		if err != nil {
			return fmt.Errorf("saga: resume: %w", err)
		}
		var events []struct {
			id string
			e  Event
		}
		for rows.Next() {
			var id string
			e := Event{Type: EventResend, Detail: "sent again: the orchestrator started while the saga waited for this reply"}
			if err := rows.Scan(&id, &e.Step, &e.RecordID, &e.Topic); err != nil {
				rows.Close()
				return fmt.Errorf("saga: resume: %w", err)
			}
			events = append(events, struct {
				id string
				e  Event
			}{id, e})
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("saga: resume: %w", err)
		}
		for _, ev := range events {
			if err := o.addEvent(ctx, t.tx, ev.id, t.now, ev.e); err != nil {
				return err
			}
		}
		n = len(events)
		t.queued = true
		return nil
	})
	if err == nil && n > 0 {
		o.log.Info("saga: resuming active sagas; their waiting commands are sent again", "count", n)
	}
	return err
}

// sendLoop produces the records waiting in outbox slots, when woken and
// every PollInterval, until ctx is done.
func (o *Orchestrator) sendLoop(ctx context.Context) {
	tick := time.NewTicker(o.cfg.PollInterval)
	defer tick.Stop()
	for {
		n, err := o.sendOnce(ctx)
		if err != nil && ctx.Err() == nil {
			o.log.Warn("saga: send waiting commands; trying again", "err", err)
		}
		if err == nil && n == sendBatch {
			continue // a full batch went out: there may be more
		}
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-tick.C:
		}
	}
}

// waiting is a record in an outbox slot, read for sending.
type waiting struct {
	id      string
	name    string
	version int64
	step    int
	out     outgoing
}

// sendOnce sends up to sendBatch waiting records and marks those stored as
// sent. It returns how many were stored.
func (o *Orchestrator) sendOnce(ctx context.Context) (int, error) {
	if o.db.Dialect == store.Postgres {
		// The row locks, held across the produce, keep two processes from
		// sending one record at once; a process that dies releases them.
		// The transaction outlives a cancelled ctx (a shutdown) so that what
		// was produced is marked sent; only the produce stops with ctx.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*o.cfg.ProduceTimeout)
		defer cancel()
		var n int
		err := o.db.InTx(tctx, func(tx *sql.Tx) error {
			ws, err := o.waitingRecords(tctx, tx, " FOR UPDATE SKIP LOCKED")
			if err != nil {
				return err
			}
			sentAt := micros(time.Now())
			stored := o.produce(ctx, ws)
			n = count(stored)
			return o.markSent(tctx, tx, ws, stored, sentAt)
		})
		return n, err
	}
	// On SQLite one process owns the store and this goroutine is its only
	// sender, so no transaction is held while producing: replies and reads
	// do not wait for the broker. An instance that moved on meanwhile is
	// told apart by its version when marking.
	ws, err := o.waitingRecords(ctx, o.db, "")
	if err != nil || len(ws) == 0 {
		return 0, err
	}
	// A participant may answer, and its reply be handled, before the
	// produce returns: the steps' send times are committed before their
	// records can go out, so that the reply finds them.
	sentAt := micros(time.Now())
	var stamped []bool
	err = o.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		stamped, err = o.stampSent(ctx, tx, ws, sentAt)
		return err
	})
	if err != nil {
		return 0, err
	}
	stored := o.produce(ctx, ws)
	// What was produced is marked even when ctx ends meanwhile (a shutdown),
	// so that it is not sent again needlessly.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.ProduceTimeout)
	defer cancel()
	return count(stored), o.db.InTx(mctx, func(tx *sql.Tx) error {
		if err := o.unstampSent(mctx, tx, ws, stamped, stored, sentAt); err != nil {
			return err
		}
		return o.markSent(mctx, tx, ws, stored, sentAt)
	})
}

// stepColumnsOf names the saga_steps columns of a record kind: its send
// time, its record id and the time its reply was handled.
func stepColumnsOf(kind string) (sent, id, replied string) {
	if kind == KindCompensation {
		return "compensation_sent_at", "compensation_id", "compensated_at"
	}
	return "command_sent_at", "command_id", "replied_at"
}

// stampSent records at as the send time of the steps of ws whose record
// was never sent before, and reports which it stamped.
func (o *Orchestrator) stampSent(ctx context.Context, tx *sql.Tx, ws []waiting, at int64) ([]bool, error) {
	stamped := make([]bool, len(ws))
	for i, w := range ws {
		sent, id, _ := stepColumnsOf(w.out.Kind)
		res, err := tx.ExecContext(ctx, o.db.Rebind(`UPDATE saga_steps SET `+sent+` = ?
			WHERE saga_id = ? AND idx = ? AND `+id+` = ? AND `+sent+` = 0`), at, w.id, w.step, w.out.ID)
		if err != nil {
			return nil, fmt.Errorf("saga: stamp %s sent: %w", w.out.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("saga: stamp %s sent: %w", w.out.ID, err)
		}
		stamped[i] = n > 0
	}
	return stamped, nil
}

// unstampSent takes back the send times stampSent recorded for the records
// the broker did not store, unless a reply to the record was handled (the
// broker stored it after all).
func (o *Orchestrator) unstampSent(ctx context.Context, tx *sql.Tx, ws []waiting, stamped, stored []bool, at int64) error {
	for i, w := range ws {
		if !stamped[i] || stored[i] {
			continue
		}
		sent, id, replied := stepColumnsOf(w.out.Kind)
		if _, err := tx.ExecContext(ctx, o.db.Rebind(`UPDATE saga_steps SET `+sent+` = 0
			WHERE saga_id = ? AND idx = ? AND `+id+` = ? AND `+sent+` = ? AND `+replied+` = 0`), w.id, w.step, w.out.ID, at); err != nil {
			return fmt.Errorf("saga: unstamp %s sent: %w", w.out.ID, err)
		}
	}
	return nil
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func (o *Orchestrator) waitingRecords(ctx context.Context, q store.Querier, lock string) ([]waiting, error) {
	rows, err := q.QueryContext(ctx, o.db.Rebind(`SELECT id, name, version, step, out_kind, out_id, out_topic, out_key, out_value, out_headers
		FROM saga_instances WHERE pending = 1 ORDER BY updated_at LIMIT ?`+lock), sendBatch)
	if err != nil {
		return nil, fmt.Errorf("saga: read waiting commands: %w", err)
	}
	defer rows.Close()
	var ws []waiting
	for rows.Next() {
		var w waiting
		if err := rows.Scan(&w.id, &w.name, &w.version, &w.step, &w.out.Kind, &w.out.ID, &w.out.Topic,
			&w.out.Key, &w.out.Value, &w.out.Headers); err != nil {
			return nil, fmt.Errorf("saga: read waiting commands: %w", err)
		}
		ws = append(ws, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("saga: read waiting commands: %w", err)
	}
	return ws, nil
}

// produce sends the records and reports which were stored.
func (o *Orchestrator) produce(ctx context.Context, ws []waiting) []bool {
	stored := make([]bool, len(ws))
	var recs []*stream.Record
	var idx []int // index in ws of each record in recs
	for i, w := range ws {
		r, err := w.out.record()
		if err != nil {
			o.log.Error("saga: cannot send a stored command", "saga_id", w.id, "record_id", w.out.ID, "err", err)
			continue
		}
		recs = append(recs, r)
		idx = append(idx, i)
	}
	if len(recs) == 0 {
		return stored
	}
	pctx, cancel := context.WithTimeout(ctx, o.cfg.ProduceTimeout)
	defer cancel()
	err := o.broker.Produce(pctx, recs...)
	failed := make([]bool, len(recs))
	var pe *stream.ProduceError
	switch {
	case err == nil:
	case errors.As(err, &pe):
		for _, i := range pe.Failed {
			if i >= 0 && i < len(failed) {
				failed[i] = true
			}
		}
	default:
		for i := range failed {
			failed[i] = true
		}
	}
	if err != nil && ctx.Err() == nil {
		o.log.Warn("saga: produce commands; they stay queued", "err", err)
	}
	for j, i := range idx {
		stored[i] = !failed[j]
	}
	return stored
}

// markSent clears the slots of the records that were stored and starts
// their timeouts; sentAt, when the produce began, is the steps' send time.
// A slot whose instance moved on since it was read keeps its new record.
func (o *Orchestrator) markSent(ctx context.Context, tx *sql.Tx, ws []waiting, stored []bool, sentAt int64) error {
	now := time.Now()
	at := micros(now)
	for i, w := range ws {
		if !stored[i] {
			continue
		}
		wait := o.cfg.DefaultTimeout
		if def := o.defs[w.name]; def != nil && w.step < len(def.Steps) {
			wait = o.stepTimeout(def.Steps[w.step])
		}
		res, err := tx.ExecContext(ctx, o.db.Rebind(`UPDATE saga_instances SET pending = 0, deadline = ?, version = version + 1, updated_at = ?
			WHERE id = ? AND version = ?`), micros(now.Add(wait)), at, w.id, w.version)
		if err != nil {
			return fmt.Errorf("saga: mark %s sent: %w", w.out.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("saga: mark %s sent: %w", w.out.ID, err)
		}
		e := Event{Type: EventSent, Step: w.step, RecordID: w.out.ID, Topic: w.out.Topic}
		if n == 0 {
			e.Detail = "the saga had moved on by then"
		} else {
			col, _, _ := stepColumnsOf(w.out.Kind)
			if _, err := tx.ExecContext(ctx, o.db.Rebind(`UPDATE saga_steps SET `+col+` = ? WHERE saga_id = ? AND idx = ? AND `+col+` = 0`),
				sentAt, w.id, w.step); err != nil {
				return fmt.Errorf("saga: mark %s sent: %w", w.out.ID, err)
			}
		}
		if err := o.addEvent(ctx, tx, w.id, at, e); err != nil {
			return err
		}
	}
	return nil
}

// timeoutLoop fires timeouts every PollInterval until ctx is done.
func (o *Orchestrator) timeoutLoop(ctx context.Context) {
	tick := time.NewTicker(o.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := o.fireTimeouts(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("saga: check timeouts", "err", err)
		}
	}
}

// fireTimeouts handles the instances whose awaited reply is overdue, up to
// ten batches a round.
func (o *Orchestrator) fireTimeouts(ctx context.Context) error {
	for range 10 {
		now := micros(time.Now())
		rows, err := o.db.QueryContext(ctx, o.db.Rebind(`SELECT id FROM saga_instances
			WHERE deadline > 0 AND deadline <= ? AND pending = 0 ORDER BY deadline LIMIT ?`), now, sendBatch)
		if err != nil {
			return fmt.Errorf("saga: find timeouts: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("saga: find timeouts: %w", err)
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("saga: find timeouts: %w", err)
		}
		for _, id := range ids {
			err := o.inTx(ctx, func(t *txn) error {
				r, err := o.load(ctx, t.tx, id)
				if err != nil {
					return err
				}
				// Look again under the lock: a reply may have come first.
				if !r.State.Active() || r.Pending || r.Deadline == 0 || r.Deadline > t.now {
					return nil
				}
				return t.timeout(ctx, r)
			})
			if err != nil {
				return err
			}
		}
		if len(ids) < sendBatch {
			return nil
		}
	}
	return nil
}
