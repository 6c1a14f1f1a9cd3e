package ticketing

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// maxGroup is the most orders one shared transaction commits.
const maxGroup = 500

// groupJob is one order's writes waiting for a shared transaction.
type groupJob struct {
	fn   func(context.Context, *sql.Tx) error
	done chan error    // its result
	lead chan struct{} // closed when it is its turn to commit for the others
}

// committer shares transactions between concurrent orders: the order that
// commits next takes every order waiting (up to maxGroup), runs each under
// a savepoint of one transaction, so that one failing rolls back only its
// own writes, and commits them together. A store that syncs every commit
// to disk then syncs once for the group instead of once per order.
type committer struct {
	mu      sync.Mutex
	queue   []*groupJob
	running bool
}

// groupTx runs fn in a transaction shared with the orders waiting beside
// it, and returns fn's error or the commit's. fn gets the transaction's
// context, which no single request's end cancels.
func (s *Service) groupTx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	c := &s.group
	j := &groupJob{fn: fn, done: make(chan error, 1), lead: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, j)
	leader := !c.running
	c.running = true
	c.mu.Unlock()
	if !leader {
		select {
		case err := <-j.done:
			return err
		case <-j.lead:
		}
	}
	c.mu.Lock()
	batch := c.queue[:min(len(c.queue), maxGroup)]
	c.queue = c.queue[len(batch):]
	c.mu.Unlock()
	// The batch commits whatever becomes of the request that leads it.
	s.commitGroup(context.WithoutCancel(ctx), batch)
	c.mu.Lock()
	if len(c.queue) > 0 {
		close(c.queue[0].lead)
	} else {
		c.running = false
	}
	c.mu.Unlock()
	return <-j.done
}

func (s *Service) commitGroup(ctx context.Context, batch []*groupJob) {
	results := make([]error, len(batch))
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		for i, j := range batch {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT order_write`); err != nil {
				return err
			}
			if results[i] = j.fn(ctx, tx); results[i] != nil {
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT order_write`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT order_write`); err != nil {
				return err
			}
		}
		return nil
	})
	for i, j := range batch {
		if err != nil && results[i] == nil {
			results[i] = fmt.Errorf("ticketing: commit of %d orders: %w", len(batch), err)
		}
		j.done <- results[i]
	}
}
