package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/arus-platform/arus/invalid"
)

// maxJoinBatch bounds the joins one transaction records.
const maxJoinBatch = 500

// joinQueue records the joins of a process's buyers in shared
// transactions: per event, one writer takes every join waiting (up to
// maxJoinBatch) in the order they arrived, gives them the next positions
// in that order and commits them together, until none waits. Buyers of a busy
// room share one commit, and one lock of the room's row, instead of
// queueing for it one by one; across processes that row's lock orders the
// batches.
type joinQueue struct {
	mu      sync.Mutex
	waiting map[string][]*joinRequest
	writing map[string]bool
}

type joinRequest struct {
	id, hash string
	err      error
	done     chan struct{}
}

// join records a queue ticket for event and returns once it is durable,
// or with the error that kept it from being recorded.
func (q *joinQueue) join(ctx context.Context, s *Service, event, id, hash string) error {
	req := &joinRequest{id: id, hash: hash, done: make(chan struct{})}
	q.mu.Lock()
	if q.waiting == nil {
		q.waiting, q.writing = map[string][]*joinRequest{}, map[string]bool{}
	}
	q.waiting[event] = append(q.waiting[event], req)
	start := !q.writing[event]
	q.writing[event] = true
	q.mu.Unlock()
	if start {
		// The writer records everyone's joins: none may fail because
		// the caller that started it went away.
		go q.write(context.WithoutCancel(ctx), s, event)
	}
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write records the event's waiting joins, a batch a transaction, until
// none waits.
func (q *joinQueue) write(ctx context.Context, s *Service, event string) {
	for {
		q.mu.Lock()
		batch := q.waiting[event]
		if len(batch) > maxJoinBatch {
			batch = batch[:maxJoinBatch]
		}
		q.waiting[event] = q.waiting[event][len(batch):]
		if len(batch) == 0 {
			delete(q.waiting, event)
			delete(q.writing, event)
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		err := s.writeJoins(ctx, event, batch)
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
	}
}

// writeJoins gives the batch the next positions of the room, in order,
// and records their tickets, in one transaction.
func (s *Service) writeJoins(ctx context.Context, event string, batch []*joinRequest) error {
	now := micros(s.cfg.Now())
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE waitroom_settings SET last_position = last_position + ? WHERE event_id = ? AND enabled = 1`),
			len(batch), event)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return invalid.Refuse(ErrConflict, "waitroom_off", "the waiting room of event %s is off; order directly", event)
		}
		var last int64
		// The row is this transaction's now (locked on PostgreSQL, the
		// one writer on SQLite), so the positions read are ours alone.
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT last_position FROM waitroom_settings WHERE event_id = ?`), event).Scan(&last); err != nil {
			return err
		}
		first := last - int64(len(batch)) + 1
		for i, r := range batch {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO waitroom_tickets (id, event_id, position, secret_hash, joined_at) VALUES (?, ?, ?, ?, ?)`),
				r.id, event, first+int64(i), r.hash, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("ticketing: join waiting room: %w", err)
	}
	if err == nil {
		s.metrics.joined.Add(float64(len(batch)))
	}
	return err
}
