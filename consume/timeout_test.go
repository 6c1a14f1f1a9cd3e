package consume_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

func TestTimeout(t *testing.T) {
	for _, tc := range []struct {
		name         string
		d            time.Duration
		wantDeadline bool
	}{
		{"deadline set", 50 * time.Millisecond, true},
		{"zero is no timeout", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got bool
			var left time.Duration
			h := consume.Timeout(tc.d)(func(ctx context.Context, r *stream.Record) error {
				var dl time.Time
				dl, got = ctx.Deadline()
				left = time.Until(dl)
				return nil
			})
			_ = h(context.Background(), &stream.Record{})
			if got != tc.wantDeadline {
				t.Fatalf("deadline set: %v, want %v", got, tc.wantDeadline)
			}
			if got && (left <= 0 || left > tc.d) {
				t.Errorf("deadline in %s, want within %s", left, tc.d)
			}
		})
	}
	h := consume.Timeout(10 * time.Millisecond)(func(ctx context.Context, r *stream.Record) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if err := h(context.Background(), &stream.Record{}); !errors.Is(err, context.DeadlineExceeded) || consume.IsPermanent(err) {
		t.Errorf("overrun: got %v, want a transient context.DeadlineExceeded", err)
	}
}
