package consume

import (
	"context"
	"runtime/debug"

	"github.com/arus-platform/arus/stream"
)

// Recover returns middleware that turns a panic in the handler into a
// [*PanicError] carrying the panic value and stack. The error is permanent,
// so [Retry] does not retry it and [DeadLetter] parks the record at once.
func Recover() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, r *stream.Record) (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = &PanicError{Value: v, Stack: debug.Stack()}
				}
			}()
			return next(ctx, r)
		}
	}
}
