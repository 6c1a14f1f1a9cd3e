package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
)

// DefaultGroupMax is the most calls one shared transaction of a [Group]
// commits by default.
const DefaultGroupMax = 500

// Group shares transactions between concurrent callers: the call that
// commits next takes every call waiting (up to Max), runs each under a
// savepoint of one transaction, so that one failing rolls back only its
// own writes, and commits them together. A store that syncs every commit
// to disk (SQLite with synchronous=FULL, PostgreSQL) then syncs once for
// the group instead of once per call. The zero value is not usable; make
// one with [NewGroup].
type Group struct {
	// lanes commit their batches independently, one at a time each.
	lanes []*lane
	next  atomic.Uint32
}

// lane is a queue of calls and the batch of them committing, if any.
type lane struct {
	db      *DB
	max     int
	mu      sync.Mutex
	queue   []*groupCall
	running bool
}

// groupCall is one caller's writes waiting for a shared transaction.
type groupCall struct {
	fn   func(context.Context, *sql.Tx) error
	done chan error    // its result
	lead chan struct{} // closed when it is its turn to commit for the others
}

// NewGroup returns a group committing on db, at most max calls per
// transaction (DefaultGroupMax when max < 1).
func NewGroup(db *DB, max int) *Group {
	if max < 1 {
		max = DefaultGroupMax
	}
	return &Group{lanes: []*lane{{db: db, max: max}}}
}

// Parallel lets g commit up to n batches at once (1 by default) and
// returns g; call it before g is used. On a store whose connections
// commit in parallel (PostgreSQL, which then shares their syncs itself), a
// call waits less when its writes do not contend with the others': it
// joins a batch that is not committing yet, where one is, rather than
// wait for the one committing to end. On SQLite, whose one connection
// runs one transaction at a time, keep 1.
func (g *Group) Parallel(n int) *Group {
	first := g.lanes[0]
	g.lanes = g.lanes[:1]
	for range max(n, 1) - 1 {
		g.lanes = append(g.lanes, &lane{db: first.db, max: first.max})
	}
	return g
}

// InTx runs fn in a transaction shared with the calls waiting beside it,
// and returns fn's error or the commit's. fn gets the transaction's
// context, which the end of no single caller's context cancels; fn must
// not keep the transaction.
func (g *Group) InTx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	return g.lane().inTx(ctx, fn)
}

// lane picks the lane of a call: one not committing, when there is one,
// else the lanes in turn.
func (g *Group) lane() *lane {
	if len(g.lanes) == 1 {
		return g.lanes[0]
	}
	for _, l := range g.lanes {
		l.mu.Lock()
		idle := !l.running
		l.mu.Unlock()
		if idle {
			return l
		}
	}
	return g.lanes[int(g.next.Add(1))%len(g.lanes)]
}

func (g *lane) inTx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	c := &groupCall{fn: fn, done: make(chan error, 1), lead: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	leader := !g.running
	g.running = true
	g.mu.Unlock()
	if !leader {
		select {
		case err := <-c.done:
			return err
		case <-c.lead:
		}
	}
	g.mu.Lock()
	batch := g.queue[:min(len(g.queue), g.max)]
	g.queue = g.queue[len(batch):]
	g.mu.Unlock()
	// The batch commits whatever becomes of the caller that leads it.
	g.commit(context.WithoutCancel(ctx), batch)
	g.mu.Lock()
	if len(g.queue) > 0 {
		close(g.queue[0].lead)
	} else {
		g.running = false
	}
	g.mu.Unlock()
	return <-c.done
}

func (g *lane) commit(ctx context.Context, batch []*groupCall) {
	results := make([]error, len(batch))
	err := g.db.InTx(ctx, func(tx *sql.Tx) error {
		for i, c := range batch {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT group_call`); err != nil {
				return err
			}
			if results[i] = c.fn(ctx, tx); results[i] != nil {
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT group_call`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT group_call`); err != nil {
				return err
			}
		}
		return nil
	})
	for i, c := range batch {
		if err != nil && results[i] == nil {
			results[i] = fmt.Errorf("store: shared commit of %d calls: %w", len(batch), err)
		}
		c.done <- results[i]
	}
}
