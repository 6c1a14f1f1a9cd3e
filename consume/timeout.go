package consume

import (
	"context"
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
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		if d <= 0 {
			return next
		}
		return func(ctx context.Context, r *stream.Record) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, r)
		}
	}
}
