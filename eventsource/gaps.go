package eventsource

import (
	"context"
	"fmt"
	"time"

	"github.com/arus-platform/arus/store"
)

// On PostgreSQL an event's position is drawn from a sequence when it is
// inserted, and several streams are appended to at once, so transactions
// can commit out of order: a reader may see position 8 while 7 is not yet
// committed, or never will be (its transaction rolled back). A reader that
// moved its checkpoint past 8 would skip 7 for ever.
//
// readAll therefore returns only events that no later commit can precede.
// When the events it read are not consecutive, a position is missing. Any
// transaction that could still commit a missing position below the
// highest one read, M, drew that position before M was drawn, so it
// already held its stream's append lock (taken before the insert, see
// AppendTx) when M was read. readAll waits until every transaction that
// holds an append lock of this store at that moment has ended, reads
// again, and returns the events up to M: each missing position at or
// below M is then either visible or a permanent gap. Appends that were
// still waiting for a lock draw positions above M and are left for the
// next read.

// readAll returns up to limit events after a position, in position order,
// such that no event can commit later at a position at or below the last
// one returned.
//
// Positions at or below Store.settled have been read after such a wait or
// without a gap below them, so a gap there is known to be permanent and is
// passed without waiting again.
func (s *Store) readAll(ctx context.Context, q store.Querier, after int64, limit int) ([]Event, error) {
	events, err := s.readRange(ctx, q, after, limit)
	if err != nil || s.db.Dialect != store.Postgres || len(events) == 0 {
		return events, err
	}
	last := events[len(events)-1].Position
	settled := s.settled.Load()
	if consecutive(max(after, settled), events) {
		if after <= settled {
			s.settle(last)
		}
		return events, nil
	}
	if err := s.waitForAppenders(ctx, q); err != nil {
		return nil, fmt.Errorf("eventsource: read all after %d: %w", after, err)
	}
	if events, err = s.readRange(ctx, q, after, limit); err != nil {
		return nil, err
	}
	n := len(events)
	for n > 0 && events[n-1].Position > last {
		n--
	}
	s.settle(last)
	return events[:n], nil
}

// settle records that no position at or below pos can still appear.
func (s *Store) settle(pos int64) {
	for {
		cur := s.settled.Load()
		if pos <= cur || s.settled.CompareAndSwap(cur, pos) {
			return
		}
	}
}

// consecutive reports whether the events above floor follow each other
// from floor+1 without a missing position.
func consecutive(floor int64, events []Event) bool {
	after := floor
	for _, e := range events {
		if e.Position <= floor {
			continue
		}
		if e.Position != after+1 {
			return false
		}
		after = e.Position
	}
	return true
}

// waitForAppenders waits until every transaction that holds an append
// lock of this store now has ended.
func (s *Store) waitForAppenders(ctx context.Context, q store.Querier) error {
	class := int64(uint32(s.lockClass))
	rows, err := q.QueryContext(ctx, `SELECT virtualtransaction FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1::bigint::oid AND objsubid = 2 AND granted AND pid <> pg_backend_pid()`, class)
	if err != nil {
		return fmt.Errorf("find appenders: %w", err)
	}
	var holders []string
	for rows.Next() {
		var vxid string
		if err := rows.Scan(&vxid); err != nil {
			rows.Close()
			return fmt.Errorf("find appenders: %w", err)
		}
		holders = append(holders, vxid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find appenders: %w", err)
	}
	wait := time.Millisecond
	for len(holders) > 0 {
		var running bool
		if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'virtualxid' AND virtualxid = ANY($1))`,
			holders).Scan(&running); err != nil {
			return fmt.Errorf("wait for appenders: %w", err)
		}
		if !running {
			return nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
	return nil
}
