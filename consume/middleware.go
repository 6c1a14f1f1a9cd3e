package consume

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/arus-platform/arus/stream"
)

// Handler handles one record. Returning nil lets the runtime commit the
// record; an error leaves it uncommitted (see [Runtime] for what follows).
// Mark errors that retrying cannot fix with [Permanent].
type Handler func(ctx context.Context, r *stream.Record) error

// BatchHandler handles a batch of records of one partition, in offset
// order, as a [stream.Handler] does: nil covers the whole batch, a
// [*stream.PartialError] its first N records, any other error none.
type BatchHandler func(ctx context.Context, batch []*stream.Record) error

// Middleware wraps a handler with some behaviour.
type Middleware func(Handler) Handler

// Compose returns the middleware that applies mws with the first one
// outermost: Compose(a, b)(h) is a(b(h)). Nil entries are skipped.
func Compose(mws ...Middleware) Middleware {
	return func(h Handler) Handler {
		for i := len(mws) - 1; i >= 0; i-- {
			if mws[i] != nil {
				h = mws[i](h)
			}
		}
		return h
	}
}

// ChainConfig configures the default chain; see [Chain].
type ChainConfig struct {
	// Group is the consumer group; required. It names the dead-letter
	// topic and labels metrics and spans.
	Group string
	// Producer writes dead letters. Nil leaves dead-lettering out: a record
	// that still fails after its retries is not committed, and its
	// partition waits and tries it again without end.
	Producer stream.Producer
	// Retry configures retrying; see [RetryConfig] for its defaults.
	Retry RetryConfig
	// Timeout bounds each attempt. Zero: no timeout.
	Timeout time.Duration
	// Inbox deduplicates by record id. Nil leaves deduplication out.
	Inbox Inbox
	// Metrics, when set, counts and times handling.
	Metrics *Metrics
	// TracerProvider, when set, starts a span per record, continuing the
	// trace in the record's traceparent header.
	TracerProvider trace.TracerProvider
	// Propagator reads the trace context from record headers. Default: W3C
	// trace context.
	Propagator propagation.TextMapPropagator
	// Logger receives a warning per retry and per dead letter. Default:
	// slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *ChainConfig) Validate() error {
	if err := stream.ValidateGroupName(c.Group); err != nil {
		return fmt.Errorf("consume: chain: %w", err)
	}
	if c.Timeout < 0 {
		return stream.Invalidf("consume: chain: timeout %s is negative", c.Timeout)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Propagator == nil {
		c.Propagator = propagation.TraceContext{}
	}
	return c.Retry.Validate()
}

// Chain returns the default middleware chain, outermost first:
//
//	metrics → tracing → dead-letter → retry → timeout → dedupe → recover → handler
//
// Parts whose configuration is missing (no Metrics, TracerProvider,
// Producer or Inbox, a zero Timeout) are left out. The order is the
// package documentation's; in short: metrics and the span see a record's
// whole handling, retries included; dead-lettering acts only once retrying
// gave up; each attempt has its own timeout; deduplication and its
// transaction sit right around the handler, so a failed attempt marks
// nothing; and a panic becomes a permanent error inside all of them, so it
// is dead-lettered instead of crashing the process or redelivering forever.
func Chain(cfg ChainConfig) (Middleware, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var mws []Middleware
	var onRetry func(r *stream.Record, attempt int, err error)
	var onDead func(r *stream.Record, err error)
	if cfg.Metrics != nil {
		mws = append(mws, cfg.Metrics.Middleware(cfg.Group))
		onRetry = func(r *stream.Record, _ int, _ error) { cfg.Metrics.Retried(cfg.Group, r.Topic) }
		onDead = func(r *stream.Record, _ error) { cfg.Metrics.DeadLettered(cfg.Group, r.Topic) }
	}
	if cfg.TracerProvider != nil {
		mws = append(mws, Tracing(cfg.TracerProvider, cfg.Propagator, cfg.Group))
	}
	if cfg.Producer != nil {
		dl, err := DeadLetter(cfg.Producer, DeadLetterConfig{Group: cfg.Group, Logger: cfg.Logger, OnDeadLetter: onDead})
		if err != nil {
			return nil, err
		}
		mws = append(mws, dl)
	}
	rc := cfg.Retry
	if rc.OnRetry == nil {
		rc.OnRetry = onRetry
	} else if onRetry != nil {
		user := rc.OnRetry
		rc.OnRetry = func(r *stream.Record, attempt int, err error) {
			onRetry(r, attempt, err)
			user(r, attempt, err)
		}
	}
	if rc.Logger == nil {
		rc.Logger = cfg.Logger
	}
	retry, err := Retry(rc)
	if err != nil {
		return nil, err
	}
	mws = append(mws, retry, Timeout(cfg.Timeout))
	if cfg.Inbox != nil {
		mws = append(mws, Dedupe(cfg.Inbox))
	}
	mws = append(mws, Recover())
	return Compose(mws...), nil
}
