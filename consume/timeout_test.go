package consume_test

import (
	"context"
	"errors"
	"sync"
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
	// A timeout of two centuries is kept, in effect, as none.
	long := consume.Timeout(200 * 365 * 24 * time.Hour)(func(ctx context.Context, r *stream.Record) error {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) < 100*365*24*time.Hour {
			return errors.New("the deadline is not a century away")
		}
		return ctx.Err()
	})
	if err := long(context.Background(), &stream.Record{}); err != nil {
		t.Errorf("a timeout of two centuries: %v", err)
	}
	h := consume.Timeout(10 * time.Millisecond)(func(ctx context.Context, r *stream.Record) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if err := h(context.Background(), &stream.Record{}); !errors.Is(err, context.DeadlineExceeded) || consume.IsPermanent(err) {
		t.Errorf("overrun: got %v, want a transient context.DeadlineExceeded", err)
	}
}

// The timeout's context behaves as context.WithDeadline's, whether or not
// the handler asks for Done.
func TestTimeoutContext(t *testing.T) {
	run := func(d time.Duration, parent context.Context, h func(ctx context.Context) error) error {
		return consume.Timeout(d)(func(ctx context.Context, _ *stream.Record) error { return h(ctx) })(parent, &stream.Record{})
	}
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")

	// Err alone, no Done: nil before the deadline, DeadlineExceeded after.
	_ = run(time.Hour, parent, func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			t.Errorf("Err before the deadline = %v", err)
		}
		if ctx.Value(key{}) != "v" {
			t.Error("the parent's values are lost")
		}
		return nil
	})
	err := run(time.Nanosecond, parent, func(ctx context.Context) error {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("Err after the deadline = %v", ctx.Err())
		}
		select {
		case <-ctx.Done():
		default:
			t.Error("Done is open although Err reported the deadline")
		}
		return ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v", err)
	}

	// The parent's cancellation ends it, before and after Done was asked.
	for _, watch := range []bool{false, true} {
		pctx, cancel := context.WithCancel(parent)
		err = run(time.Minute, pctx, func(ctx context.Context) error {
			if watch {
				_ = ctx.Done()
			}
			cancel()
			<-ctx.Done()
			return ctx.Err()
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("watch=%v: parent cancelled, got %v", watch, err)
		}
	}

	// The cause of an overrun is the deadline; a parent's earlier deadline
	// wins.
	_ = run(time.Millisecond, parent, func(ctx context.Context) error {
		<-ctx.Done()
		if c := context.Cause(ctx); !errors.Is(c, context.DeadlineExceeded) {
			t.Errorf("Cause = %v", c)
		}
		return nil
	})
	early, cancelEarly := context.WithTimeout(parent, time.Second)
	defer cancelEarly()
	_ = run(time.Hour, early, func(ctx context.Context) error {
		if dl, _ := ctx.Deadline(); time.Until(dl) > time.Second {
			t.Errorf("deadline in %s, want the parent's (1s)", time.Until(dl))
		}
		return nil
	})

	// When the call returns, the context and what was derived from it end.
	var kept context.Context
	var child context.Context
	var cancelChild context.CancelFunc
	_ = run(time.Hour, parent, func(ctx context.Context) error {
		kept = ctx
		child, cancelChild = context.WithCancel(ctx)
		return nil
	})
	defer cancelChild()
	<-child.Done()
	if !errors.Is(kept.Err(), context.Canceled) {
		t.Errorf("after the call: Err = %v, want Canceled", kept.Err())
	}
	var unwatched context.Context
	_ = run(time.Hour, parent, func(ctx context.Context) error { unwatched = ctx; return nil })
	if !errors.Is(unwatched.Err(), context.Canceled) {
		t.Errorf("after the call, never watched: Err = %v, want Canceled", unwatched.Err())
	}
	<-unwatched.Done()
}

// The context's Done, asked by another goroutine while the call returns,
// closes either way, and Err then reports Canceled: the context made by
// Done and the end of the call may come in any order.
func TestTimeoutContextDoneRacesRelease(t *testing.T) {
	for i := range 300 {
		var wg sync.WaitGroup
		var kept context.Context
		closed := make(chan bool, 1)
		h := consume.Timeout(time.Hour)(func(ctx context.Context, _ *stream.Record) error {
			kept = ctx
			wg.Go(func() {
				select {
				case <-ctx.Done():
					closed <- true
				case <-time.After(10 * time.Second): // a bound, far above any scheduling delay
					closed <- false
				}
			})
			return nil
		})
		_ = h(context.Background(), &stream.Record{})
		wg.Wait()
		if !<-closed {
			t.Fatalf("round %d: Done stayed open after the call returned", i)
		}
		if err := kept.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: Err = %v, want Canceled", i, err)
		}
	}
}
