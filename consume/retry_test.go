package consume_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

// failing returns a handler that fails with errs in turn, then succeeds,
// and counts its calls.
func failing(calls *int, errs ...error) consume.Handler {
	return func(ctx context.Context, r *stream.Record) error {
		*calls++
		if *calls <= len(errs) {
			return errs[*calls-1]
		}
		return nil
	}
}

func TestRetry(t *testing.T) {
	busy := errors.New("busy")
	bad := consume.Permanent(errors.New("bad"))
	for _, tc := range []struct {
		name         string
		cfg          consume.RetryConfig
		errs         []error
		wantCalls    int
		wantAttempts int // of the RetryError; 0 for success
		wantRetries  int // OnRetry calls
	}{
		{"success at once", consume.RetryConfig{}, nil, 1, 0, 0},
		{"transient 3 times then success", consume.RetryConfig{}, []error{busy, busy, busy}, 4, 0, 3},
		{"gives up after max attempts", consume.RetryConfig{MaxAttempts: 3}, []error{busy, busy, busy, busy}, 3, 3, 2},
		{"permanent is not retried", consume.RetryConfig{}, []error{bad}, 1, 1, 0},
		{"permanent after a transient", consume.RetryConfig{}, []error{busy, bad}, 2, 2, 1},
		{"retrying off", consume.RetryConfig{MaxAttempts: 1}, []error{busy}, 1, 1, 0},
		{"custom classification", consume.RetryConfig{Transient: func(err error) bool { return !errors.Is(err, busy) }}, []error{busy}, 1, 1, 0},
		{"max elapsed", consume.RetryConfig{MaxAttempts: -1, MaxElapsed: 30 * time.Millisecond},
			[]error{busy, busy, busy, busy, busy, busy, busy, busy, busy, busy, busy, busy, busy, busy}, 0, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.InitialBackoff, cfg.MaxBackoff, cfg.Logger = time.Millisecond, 5*time.Millisecond, brokertest.Logger()
			retries := 0
			cfg.OnRetry = func(*stream.Record, int, error) { retries++ }
			mw, err := consume.Retry(cfg)
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			err = mw(failing(&calls, tc.errs...))(context.Background(), &stream.Record{Topic: "t"})
			var re *consume.RetryError
			switch {
			case tc.wantAttempts == 0 && err != nil:
				t.Fatalf("got %v, want success", err)
			case tc.wantAttempts != 0 && !errors.As(err, &re):
				t.Fatalf("got %v, want a *RetryError", err)
			case tc.wantAttempts > 0 && re.Attempts != tc.wantAttempts:
				t.Errorf("attempts: got %d, want %d", re.Attempts, tc.wantAttempts)
			}
			if re != nil && re.LastFailed.Before(re.FirstFailed) {
				t.Errorf("last failure %s before first %s", re.LastFailed, re.FirstFailed)
			}
			if re != nil && re.Attempts != calls {
				t.Errorf("attempts %d, but the handler was called %d times", re.Attempts, calls)
			}
			if tc.wantCalls > 0 && calls != tc.wantCalls {
				t.Errorf("calls: got %d, want %d", calls, tc.wantCalls)
			}
			if tc.wantCalls > 0 && retries != tc.wantRetries {
				t.Errorf("OnRetry: got %d calls, want %d", retries, tc.wantRetries)
			}
			if tc.name == "max elapsed" && (calls < 2 || calls >= len(tc.errs)) {
				t.Errorf("max elapsed 30ms with 1-5ms backoff: %d calls, want a few, not all %d", calls, len(tc.errs))
			}
		})
	}
}

// TestRetryStopsOnCancel: a retry waiting when the handler's context ends
// gives up with ErrStopping, not a RetryError, so it is not dead-lettered.
func TestRetryStopsOnCancel(t *testing.T) {
	mw, err := consume.Retry(consume.RetryConfig{MaxAttempts: -1, InitialBackoff: time.Hour, Logger: brokertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	calls := 0
	err = mw(failing(&calls, errors.New("busy")))(ctx, &stream.Record{})
	if !errors.Is(err, consume.ErrStopping) {
		t.Fatalf("got %v, want ErrStopping", err)
	}
	var re *consume.RetryError
	if errors.As(err, &re) {
		t.Errorf("got a RetryError %v, want none", re)
	}
}

func TestRetryConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  consume.RetryConfig
	}{
		{"attempts", consume.RetryConfig{MaxAttempts: -2}},
		{"negative backoff", consume.RetryConfig{InitialBackoff: -1}},
		{"multiplier", consume.RetryConfig{Multiplier: 0.5}},
		{"jitter", consume.RetryConfig{Jitter: 1.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); !errors.Is(err, stream.ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
}

// TestRetryBackoff checks the waits grow exponentially up to the cap and
// that jitter stays within its bounds.
func TestRetryBackoff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		jitter float64
		min    []time.Duration // per wait, in ms
	}{
		{"exact", 0, []time.Duration{10, 20, 40, 50}},
		{"jittered", 0.5, []time.Duration{5, 10, 20, 25}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var waits []time.Duration
			last := time.Now()
			cfg := consume.RetryConfig{MaxAttempts: 5, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
				Jitter: tc.jitter, NoJitter: tc.jitter == 0, Logger: brokertest.Logger()}
			mw, err := consume.Retry(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_ = mw(func(ctx context.Context, r *stream.Record) error {
				now := time.Now()
				waits = append(waits, now.Sub(last))
				last = now
				return errors.New("busy")
			})(context.Background(), &stream.Record{})
			waits = waits[1:]
			if len(waits) != 4 {
				t.Fatalf("got %d waits, want 4", len(waits))
			}
			// A retry never comes before its backoff. How long a busy
			// machine takes beyond it is no measure of the middleware, so
			// the upper bounds are checked on the schedule itself
			// (TestBackoffSchedule).
			for i, w := range waits {
				if lo := tc.min[i] * time.Millisecond; w < lo {
					t.Errorf("wait %d: got %s, want at least %s", i+1, w, lo)
				}
			}
		})
	}
}
