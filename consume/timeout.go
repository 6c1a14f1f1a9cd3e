package consume

import (
	"context"
	"sync/atomic"
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
// per batch for all its records: 40 bytes a record), one read of the
// monotonic clock under the runtime (of both clocks outside it) and no
// lock. Its Deadline and Err answer from the clock; only a handler that
// asks for Done (to select on it, or by passing the context to a driver
// that does) gets a timer, the one [context.WithDeadline] would have made.
//
//go:noinline
func Timeout(d time.Duration) Middleware {
	// Not inlined (above): the handler returned is then compiled on its
	// own, with the batch scope's lookups inlined, rather than as a copy
	// inside [Chain], where they stay calls.
	return func(next Handler) Handler {
		if d <= 0 {
			return next
		}
		owner := new(batchOwner)
		return func(ctx context.Context, r *stream.Record) error {
			var dc *deadlineCtx
			if sc := scopeOf(ctx); sc != nil {
				b, _ := sc.local(owner).(*timeoutBatch)
				if b == nil {
					b = &timeoutBatch{ctxs: make([]deadlineCtx, len(sc.batch)-sc.i)}
					sc.setLocal(owner, b)
				}
				if b.next < len(b.ctxs) {
					dc = &b.ctxs[b.next]
					b.next++
				} else {
					dc = new(deadlineCtx) // a retry beyond the batch's share
				}
				dc.init(ctx, &sc.start, sc.since()+d)
			} else {
				own := &struct {
					deadlineCtx
					start time.Time
				}{start: time.Now()}
				dc = &own.deadlineCtx
				dc.init(ctx, &own.start, d)
			}
			defer dc.release()
			return next(dc, r)
		}
	}
}

// timeoutBatch holds the contexts of a batch's attempts, made at once
// when the batch begins. Each attempt gets its own, so that a context
// that a handler keeps after returning stays as it was.
type timeoutBatch struct {
	ctxs []deadlineCtx
	next int // the index in ctxs of the next attempt's
}

func (*timeoutBatch) end(time.Time) {}

// deadlineCtx is a context ending at its deadline or with its parent. It makes
// the real context.WithDeadline (and its timer) only when Done is first
// called; until then Err compares the clock with the deadline. It takes no
// lock: its state only moves forward, from live to over, and the context
// made by Done is published once.
type deadlineCtx struct {
	parent context.Context
	start  *time.Time // the batch's start under the runtime, else the call's
	// state holds the deadline, as a duration after start, in its low
	// stateShift bits and a ctxState above them: why the context is over,
	// before late was made. One word for both keeps the context at 40
	// bytes, which a batch allocates per attempt.
	state atomic.Uint64
	late  atomic.Pointer[lateCtx] // made by the first Done
}

// ctxState is why a deadlineCtx is over, when it is and Done was not
// asked: the first reason seen stays.
type ctxState = uint64

// stateShift is where the ctxState begins in deadlineCtx.state; the
// deadline below it has room for 146 years.
const stateShift = 62

const (
	ctxLive ctxState = iota
	ctxReleased
	ctxExpired
	ctxParentDone
)

// lateCtx is the context.WithDeadline made by the first Done.
type lateCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// init sets the context up for an attempt, before the handler has it.
func (c *deadlineCtx) init(parent context.Context, start *time.Time, after time.Duration) {
	c.parent, c.start = parent, start
	// A deadline beyond the word's room (146 years) is as good as none.
	c.state.Store(uint64(min(max(after, 0), 1<<stateShift-1))) // live
}

// after returns the deadline as a duration after start.
func (c *deadlineCtx) after() time.Duration {
	return time.Duration(c.state.Load() & (1<<stateShift - 1))
}

// status returns why the context is over, or ctxLive.
func (c *deadlineCtx) status() ctxState { return c.state.Load() >> stateShift }

// over moves the context from live to over for why; a reason already
// set stays.
func (c *deadlineCtx) over(why ctxState) {
	v := c.state.Load()
	if v>>stateShift == ctxLive {
		c.state.CompareAndSwap(v, v|why<<stateShift)
	}
}

// deadline returns when the context ends, unless its parent ends first.
func (c *deadlineCtx) deadline() time.Time { return c.start.Add(c.after()) }

func (c *deadlineCtx) Deadline() (time.Time, bool) {
	dl := c.deadline()
	if d, ok := c.parent.Deadline(); ok && d.Before(dl) {
		return d, true
	}
	return dl, true
}

func (c *deadlineCtx) Done() <-chan struct{} {
	if l := c.late.Load(); l != nil {
		return l.ctx.Done()
	}
	l := new(lateCtx)
	l.ctx, l.cancel = context.WithDeadline(c.parent, c.deadline())
	if !c.late.CompareAndSwap(nil, l) {
		l.cancel() // another Done made it first
		l = c.late.Load()
	} else if c.status() == ctxReleased {
		// Released before late was published, or at the same time: release
		// may not have seen it, so end it here (cancelling twice is fine).
		l.cancel()
	}
	return l.ctx.Done()
}

func (c *deadlineCtx) Err() error {
	if l := c.late.Load(); l != nil {
		return l.ctx.Err()
	}
	if c.status() == ctxLive {
		switch {
		case c.parent.Err() != nil:
			c.over(ctxParentDone)
		case time.Since(*c.start) >= c.after(): // the monotonic clock only
			c.over(ctxExpired)
		}
	}
	switch c.status() {
	case ctxReleased:
		return context.Canceled
	case ctxExpired:
		return context.DeadlineExceeded
	case ctxParentDone:
		return c.parent.Err()
	}
	return nil
}

func (c *deadlineCtx) Value(key any) any {
	if _, ok := key.(scopeKey); !ok {
		if l := c.late.Load(); l != nil {
			return l.ctx.Value(key) // context.Cause finds the deadline's cause there
		}
	}
	return c.parent.Value(key)
}

func (c *deadlineCtx) String() string { return "consume.Timeout" }

// release ends the context when the call returns, as the cancel function
// of context.WithDeadline does.
func (c *deadlineCtx) release() {
	c.over(ctxReleased)
	if l := c.late.Load(); l != nil {
		l.cancel()
	}
}
