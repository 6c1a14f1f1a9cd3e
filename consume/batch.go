package consume

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/arus-platform/arus/stream"
)

// batchScope is what the runtime shares with the chain's middleware about
// the batch a record belongs to, when the batch is handled one record at a
// time: the clock read once when it began, the record being handled, and
// state that a middleware keeps per batch (counters, reusable buffers) and
// settles when the batch ends. The chain finds it in the record's context
// ([scopeOf]); outside the runtime, and with per-key concurrency, there is
// none and each middleware works per record.
//
// A scope belongs to one goroutine: the runtime handles the records of a
// batch one after the other, and sets i before each.
type batchScope struct {
	start  time.Time // read once when the batch began; monotonic
	batch  []*stream.Record
	i      int // index in batch of the record being handled
	locals []batchLocal
}

type batchLocal struct {
	owner *batchOwner
	v     batchState
}

// batchOwner names one middleware instance's state in a batch: each
// instance makes its own with new. slot is where its state was set in the
// last batch that set it, a hint that [batchScope.local] checks first: a
// chain's middleware set their state in the same order in every batch.
type batchOwner struct{ slot atomic.Int32 }

// batchState is the state of one middleware in one batch.
type batchState interface {
	// end settles the state when the batch was handled (wholly or not), at
	// the clock's end.
	end(end time.Time)
}

type scopeKey struct{}

// scopeCtx is the context the runtime hands the chain for the records of
// a batch: its own context and the batch's scope.
type scopeCtx struct {
	context.Context
	sc *batchScope
}

func (c *scopeCtx) Value(key any) any {
	if _, ok := key.(scopeKey); ok {
		return c.sc
	}
	return c.Context.Value(key)
}

// scopeOf returns the batch scope of the record whose context is ctx, or
// nil. It finds it without a lookup through the context's parents when ctx
// is the runtime's own, or a [Timeout]'s right inside it.
func scopeOf(ctx context.Context) *batchScope {
	if c, ok := ctx.(*scopeCtx); ok {
		return c.sc
	}
	return scopeFrom(ctx)
}

// scopeFrom is scopeOf for a context other than the runtime's own.
func scopeFrom(ctx context.Context) *batchScope {
	if c, ok := ctx.(*deadlineCtx); ok {
		if p, ok := c.parent.(*scopeCtx); ok {
			return p.sc
		}
	}
	s, _ := ctx.Value(scopeKey{}).(*batchScope)
	return s
}

// local returns the state that owner keeps in this batch, or nil before
// owner set it with setLocal.
func (s *batchScope) local(owner *batchOwner) batchState {
	if i := int(owner.slot.Load()); i < len(s.locals) && s.locals[i].owner == owner {
		return s.locals[i].v
	}
	return s.find(owner)
}

// find is local without the hint.
func (s *batchScope) find(owner *batchOwner) batchState {
	for i := range s.locals {
		if s.locals[i].owner == owner {
			return s.locals[i].v
		}
	}
	return nil
}

// setLocal sets the state that owner keeps in this batch.
func (s *batchScope) setLocal(owner *batchOwner, v batchState) {
	if n := int32(len(s.locals)); owner.slot.Load() != n {
		owner.slot.Store(n)
	}
	s.locals = append(s.locals, batchLocal{owner: owner, v: v})
}

// since returns the time passed since the batch began, reading only the
// monotonic clock.
func (s *batchScope) since() time.Duration { return time.Since(s.start) }

// end settles every middleware's state for the batch, reading the clock
// once.
func (s *batchScope) end() {
	if len(s.locals) == 0 {
		return
	}
	end := s.start.Add(s.since())
	for _, l := range s.locals {
		l.v.end(end)
	}
}
