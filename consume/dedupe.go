package consume

import (
	"context"

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
	// returns fn's error.
	Once(ctx context.Context, id string, fn func(ctx context.Context) error) error
}

// Dedupe returns middleware that runs the handler through inbox.Once with
// the record's id, so that a record already handled is skipped and counts
// as done. Records without an id (written by clients that do not stamp
// arus-id) are handled every time.
func Dedupe(inbox Inbox) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, r *stream.Record) error {
			id := r.ID()
			if id == "" {
				return next(ctx, r)
			}
			return inbox.Once(ctx, id, func(ctx context.Context) error { return next(ctx, r) })
		}
	}
}
