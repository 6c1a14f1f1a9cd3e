package consume

import (
	"context"
	"sync"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Timeout returns middleware that gives each call of the handler a context
// that ends after d. The handler must watch its context: the middleware
// does not abandon a call that overruns, since the next record of the
// partition may not start before it ends. An attempt that ends with the
// deadline fails with an error wrapping context.DeadlineExceeded, which
// [Retry] treats as transient. A d of zero or less returns the handler
// unchanged.
//
// The context costs one small allocation per call (under the runtime, one
// per batch for all its records) and one read of the monotonic clock. Its
// Deadline and Err answer from the clock; only a handler that asks for Done (to select on
// it, or by passing the context to a driver that does) gets a timer, the
// one [context.WithDeadline] would have made.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		if d <= 0 {
			return next
		}
		owner := new(int) // names this middleware's state in a batch
		return func(ctx context.Context, r *stream.Record) error {
			var dc *deadlineCtx
			if sc := scopeOf(ctx); sc != nil {
				b := sc.local(owner, func() batchState {
					return &timeoutBatch{ctxs: make([]deadlineCtx, len(sc.batch)-sc.i)}
				}).(*timeoutBatch)
				if len(b.ctxs) > 0 {
					dc, b.ctxs = &b.ctxs[0], b.ctxs[1:]
				} else {
					dc = new(deadlineCtx) // a retry beyond the batch's share
				}
				dc.parent, dc.deadline = ctx, sc.start.Add(sc.since()+d)
			} else {
				dc = &deadlineCtx{parent: ctx, deadline: time.Now().Add(d)}
			}
			defer dc.release()
			return next(dc, r)
		}
	}
}

// timeoutBatch holds the contexts of a batch's attempts, made at once
// when the batch begins. Each attempt gets its own, so that a context
// that a handler keeps after returning stays as it was.
type timeoutBatch struct{ ctxs []deadlineCtx }

func (*timeoutBatch) end(time.Time) {}

// deadlineCtx is a context ending at deadline or with its parent. It makes
// the real context.WithDeadline (and its timer) only when Done is first
// called; until then Err compares the clock with the deadline.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time

	mu     sync.Mutex
	inner  context.Context // made by the first Done
	cancel context.CancelFunc
	err    error // once over, before inner was made
}

func (c *deadlineCtx) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner == nil {
		c.inner, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.err == context.Canceled {
			c.cancel() // released already
		}
	}
	return c.inner.Done()
}

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.inner != nil:
		return c.inner.Err()
	case c.err != nil:
	case c.parent.Err() != nil:
		c.err = c.parent.Err()
	case time.Until(c.deadline) <= 0: // the monotonic clock only
		c.err = context.DeadlineExceeded
	}
	return c.err
}

func (c *deadlineCtx) Value(key any) any {
	if _, ok := key.(scopeKey); ok {
		return c.parent.Value(key) // the inner context would ask the parent too
	}
	c.mu.Lock()
	inner := c.inner
	c.mu.Unlock()
	if inner != nil {
		return inner.Value(key) // context.Cause finds the deadline's cause there
	}
	return c.parent.Value(key)
}

func (c *deadlineCtx) String() string { return "consume.Timeout" }

// release ends the context when the call returns, as the cancel function
// of context.WithDeadline does.
func (c *deadlineCtx) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner != nil {
		c.cancel()
	} else if c.err == nil {
		c.err = context.Canceled
	}
}
