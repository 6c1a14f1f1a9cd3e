package consume

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-platform/arus/stream"
)

// partial returns the error for a batch whose first n records were
// handled before err.
func partial(n int, err error) error {
	if n == 0 {
		return err
	}
	return &stream.PartialError{N: n, Err: err}
}

// handleSeq handles a batch one record at a time in offset order, stopping
// at the first failure or when shutdown begins.
//
// The records share a [batchScope], so that the chain reads the clock and
// updates shared counters once per batch rather than once per record.
func (rt *Runtime) handleSeq(ctx context.Context, p *runState, batch []*stream.Record, h Handler) error {
	sc := &batchScope{start: time.Now(), batch: batch}
	defer sc.end()
	ctx = &scopeCtx{Context: ctx, sc: sc}
	for i, r := range batch {
		if p.stopping() || !rt.acquire(p, 1) {
			return partial(i, ErrStopping)
		}
		sc.i = i
		err := h(ctx, r)
		rt.release(1)
		if err != nil {
			return partial(i, err)
		}
	}
	return nil
}

// handleKeyed handles a batch with records of different keys in parallel,
// up to KeyConcurrency at once, and records of one key in offset order.
// The batch's committed prefix ends before the first record not done:
// after a failure no record further in the batch is started, and records
// already done past it are delivered again.
func (rt *Runtime) handleKeyed(ctx context.Context, p *runState, batch []*stream.Record, h Handler) error {
	// Chains of record indexes, one per key, in offset order; a record
	// without a key (nil) is a chain of its own, while an empty key is a key
	// like any other.
	var chains [][]int
	byKey := make(map[string]int, len(batch))
	for i, r := range batch {
		if r.Key == nil {
			chains = append(chains, []int{i})
			continue
		}
		c, ok := byKey[string(r.Key)]
		if !ok {
			c = len(chains)
			byKey[string(r.Key)] = c
			chains = append(chains, nil)
		}
		chains[c] = append(chains[c], i)
	}

	done := make([]bool, len(batch))
	errs := make([]error, len(batch))
	var failAt atomic.Int64 // lowest index that failed
	failAt.Store(int64(len(batch)))
	var next atomic.Int64
	work := func() {
		for {
			c := int(next.Add(1) - 1)
			if c >= len(chains) {
				return
			}
			for _, i := range chains[c] {
				if int64(i) > failAt.Load() || p.stopping() || !rt.acquire(p, 1) {
					break
				}
				err := h(ctx, batch[i])
				rt.release(1)
				if err != nil {
					errs[i] = err
					for f := failAt.Load(); int64(i) < f && !failAt.CompareAndSwap(f, int64(i)); f = failAt.Load() {
					}
					break
				}
				done[i] = true
			}
		}
	}
	workers := min(rt.cfg.KeyConcurrency, len(chains))
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()

	n := 0
	for n < len(batch) && done[n] {
		n++
	}
	if n == len(batch) {
		return nil
	}
	err := errs[n]
	if err == nil {
		// Record n was not started: shutdown began.
		err = ErrStopping
	}
	return partial(n, err)
}
