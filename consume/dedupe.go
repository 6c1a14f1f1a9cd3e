package consume

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Inbox remembers which records a consumer group has handled, by record id
// (the arus-id header), so that a record delivered again — after a crash,
// a rebalance or a replay from the dead-letter queue — has no second
// effect. An Inbox belongs to one consumer group: two groups handling the
// same record each need their own (an SQL inbox keys its rows by group and
// id).
//
// The SQL inbox of package outbox implements it in the consumer's own
// database, in the same transaction as the handler's state change.
type Inbox interface {
	// Once calls fn unless id was already handled, and records id as
	// handled when fn returns nil. Where the inbox can, the record and fn's
	// effects commit together (in one database transaction, passed to fn
	// through ctx); otherwise, a crash between fn and the record lets the
	// record be handled again. When id was already handled, Once returns nil
	// without calling fn; when fn fails, nothing is recorded and Once
	// returns fn's error. Once calls fn, if at all, before it returns, and
	// does not keep it: [Dedupe] reuses one fn for the records of a batch.
	Once(ctx context.Context, id string, fn func(ctx context.Context) error) error
}

// Dedupe returns middleware that runs the handler through inbox.Once with
// the record's id, so that a record already handled is skipped and counts
// as done. Records without an id (written by clients that do not stamp
// arus-id) are handled every time.
//
// Under the runtime, which hands the chain a batch one record at a time,
// the ids of a batch are copied out of their headers together, into one
// string, and the function passed to Once is made once per batch: an inbox
// that keeps an id keeps that string alive with it.
//
//go:noinline
func Dedupe(inbox Inbox) Middleware {
	// Not inlined (above): the handler returned is then compiled on its
	// own, with the batch scope's lookups inlined, rather than as a copy
	// inside [Chain], where they stay calls.
	return func(next Handler) Handler {
		owner := new(batchOwner)
		return func(ctx context.Context, r *stream.Record) error {
			if sc := scopeOf(ctx); sc != nil && sc.batch[sc.i] == r {
				b, _ := sc.local(owner).(*dedupeBatch)
				if b == nil {
					b = newDedupeBatch(sc.batch, sc.i, next)
					sc.setLocal(owner, b)
				}
				// b.ends is nil when the batch's ids were too long to copy
				// together.
				if b.ends != nil {
					if id := b.id(sc.i); id == "" {
						return next(ctx, r)
					} else if b.r == nil {
						b.r = r
						defer func() { b.r = nil }()
						return inbox.Once(ctx, id, b.fn)
					}
				}
			}
			id := r.ID()
			if id == "" {
				return next(ctx, r)
			}
			return inbox.Once(ctx, id, func(ctx context.Context) error { return next(ctx, r) })
		}
	}
}

// dedupeBatch is the dedupe middleware's state in one batch: the ids of
// its records from index from on, copied into one string, and the function
// passed to Once, which calls the handler for r.
type dedupeBatch struct {
	from int
	ids  string
	ends []uint32       // ends[i]: where the id of record from+i ends in ids; nil when they did not fit
	r    *stream.Record // the record whose Once call runs; nil between calls
	fn   func(ctx context.Context) error
}

func newDedupeBatch(batch []*stream.Record, from int, next Handler) *dedupeBatch {
	batch = batch[from:]
	b := &dedupeBatch{from: from, ends: make([]uint32, len(batch))}
	// One scan of each record's headers: ends holds the index of its id
	// header (noID for none) until the ids are copied.
	const noID = math.MaxUint32
	n := 0
	for i, r := range batch {
		b.ends[i] = noID
		if h := idHeader(r); h >= 0 {
			b.ends[i] = uint32(h)
			n += len(r.Headers[h].Value)
		}
	}
	if uint64(n) > math.MaxUint32 {
		return &dedupeBatch{} // each record's id is read on its own
	}
	var all strings.Builder
	all.Grow(n)
	for i, r := range batch {
		if h := b.ends[i]; h != noID {
			all.Write(r.Headers[h].Value)
		}
		b.ends[i] = uint32(all.Len())
	}
	b.ids = all.String()
	b.fn = func(ctx context.Context) error { return next(ctx, b.r) }
	return b
}

// idHeader returns the index of the arus-id header of r that
// [stream.Record.Header] reads (the last), or -1.
func idHeader(r *stream.Record) int {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == stream.HeaderID {
			return i
		}
	}
	return -1
}

// id returns the id of record i of the batch; "" when it has none.
func (b *dedupeBatch) id(i int) string {
	i -= b.from
	at := uint32(0)
	if i > 0 {
		at = b.ends[i-1]
	}
	return b.ids[at:b.ends[i]]
}

func (*dedupeBatch) end(time.Time) {}
