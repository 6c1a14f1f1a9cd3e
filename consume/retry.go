package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/arus-platform/arus/stream"
)

// RetryConfig configures the [Retry] middleware. Retrying stops at
// whichever limit comes first: MaxAttempts or MaxElapsed.
type RetryConfig struct {
	// MaxAttempts is how many times the handler is called for a record in
	// all, the first call included. Default 5; 1 turns retrying off; -1
	// means no limit on attempts (set MaxElapsed, or a transient failure is
	// retried forever).
	MaxAttempts int
	// MaxElapsed stops retrying once this much time has passed since the
	// first failure. Zero: no limit.
	MaxElapsed time.Duration
	// InitialBackoff is the wait before the second attempt. Default 100ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between attempts. Default 10s.
	MaxBackoff time.Duration
	// Multiplier grows the wait after each attempt. Default 2.
	Multiplier float64
	// Jitter spreads each wait at random over ±Jitter of its length, so that
	// many consumers failing together do not retry together. 0 to 1;
	// default 0.2. Set NoJitter for exact waits.
	Jitter   float64
	NoJitter bool
	// Transient reports whether an error may be retried. Default: every
	// error not marked with [Permanent].
	Transient func(error) bool
	// OnRetry, when set, is called before each wait with the attempt that
	// failed (1 for the first).
	OnRetry func(r *stream.Record, attempt int, err error)
	// Logger receives a warning per failed attempt. Default: slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *RetryConfig) Validate() error {
	switch {
	case c.MaxAttempts < -1:
		return stream.Invalidf("consume: retry: max attempts %d; use -1 (no limit) or more than 0", c.MaxAttempts)
	case c.MaxElapsed < 0 || c.InitialBackoff < 0 || c.MaxBackoff < 0:
		return stream.Invalidf("consume: retry: durations must not be negative")
	case c.Multiplier != 0 && c.Multiplier < 1:
		return stream.Invalidf("consume: retry: multiplier %v is below 1", c.Multiplier)
	case c.Jitter < 0 || c.Jitter > 1:
		return stream.Invalidf("consume: retry: jitter %v is outside 0 to 1", c.Jitter)
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Second
	}
	c.MaxBackoff = max(c.MaxBackoff, c.InitialBackoff)
	if c.Multiplier == 0 {
		c.Multiplier = 2
	}
	if c.Jitter == 0 && !c.NoJitter {
		c.Jitter = 0.2
	}
	if c.NoJitter {
		c.Jitter = 0
	}
	if c.Transient == nil {
		c.Transient = func(err error) bool { return !IsPermanent(err) }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// backoff returns the wait after the given failed attempt (1 for the first).
func (c *RetryConfig) backoff(attempt int) time.Duration {
	d := float64(c.InitialBackoff)
	for i := 1; i < attempt && d < float64(c.MaxBackoff); i++ {
		d *= c.Multiplier
	}
	d = min(d, float64(c.MaxBackoff))
	if c.Jitter > 0 {
		d *= 1 + c.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

// Retry returns middleware that calls the handler again after a transient
// error, waiting an exponentially growing, jittered backoff between
// attempts. The wait happens inside the handler call, so it holds up only
// the record's own partition (or, with per-key concurrency, its own key);
// other partitions and keys go on.
//
// When it gives up (a permanent error, or a limit reached) it returns a
// [*RetryError] with the attempts made and the first and last failure
// times. When the runtime begins to shut down during a wait, or the
// handler's context ends, it stops and returns an error wrapping
// [ErrStopping]: the record stays uncommitted and is not dead-lettered.
func Retry(cfg RetryConfig) (Middleware, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, r *stream.Record) error {
			err := next(ctx, r)
			if err == nil {
				return nil
			}
			// One clock read per failed attempt: the first failure's is
			// also its last.
			first := time.Now()
			last := first
			for attempt := 1; ; attempt++ {
				if attempt > 1 {
					last = time.Now()
				}
				if errors.Is(err, ErrStopping) {
					return err
				}
				if ctx.Err() != nil {
					return fmt.Errorf("%w: %w", ErrStopping, err)
				}
				giveUp := !cfg.Transient(err) ||
					(cfg.MaxAttempts > 0 && attempt >= cfg.MaxAttempts) ||
					(cfg.MaxElapsed > 0 && last.Sub(first) >= cfg.MaxElapsed)
				if giveUp {
					return &RetryError{Err: err, Attempts: attempt, FirstFailed: first, LastFailed: last}
				}
				wait := cfg.backoff(attempt)
				if cfg.MaxElapsed > 0 {
					wait = min(wait, max(0, cfg.MaxElapsed-last.Sub(first)))
				}
				if cfg.OnRetry != nil {
					cfg.OnRetry(r, attempt, err)
				}
				if span := trace.SpanFromContext(ctx); span.IsRecording() {
					span.AddEvent("retry", trace.WithAttributes(
						attribute.Int("attempt", attempt), attribute.String("error", err.Error()),
						attribute.String("backoff", wait.String())))
				}
				cfg.Logger.WarnContext(ctx, "consume: handler failed; retrying", "topic", r.Topic, "partition", r.Partition,
					"offset", r.Offset, "record_id", r.ID(), "attempt", attempt, "retry_in", wait, "err", err)
				if !sleep(ctx, wait) {
					return fmt.Errorf("%w: %w", ErrStopping, err)
				}
				err = next(ctx, r)
				if err == nil {
					return nil
				}
			}
		}
	}, nil
}

// sleep waits for d and reports true, or reports false as soon as the
// runtime begins to stop or ctx ends.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stoppingChan(ctx):
		return false
	case <-ctx.Done():
		return false
	}
}
