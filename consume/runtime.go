package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Config configures a [Runtime].
type Config struct {
	// Group is the consumer group; required.
	Group string
	// Topics to consume; at least one. The runtime also consumes each
	// topic's retry topic, RetryTopic(topic, Group), unless NoRetryTopics.
	Topics []string
	// Member names this member in group descriptions. Default: see
	// [stream.ConsumerConfig].
	Member string
	// StartAt applies to partitions the group has no offset for yet.
	StartAt stream.StartAt
	// MaxBatch is the largest batch taken from the broker at once. Default
	// 500.
	MaxBatch int
	// Partitions bounds how many partitions are handled at the same time.
	// A partition waiting for its turn holds up its own fetching, so it
	// waits without buffering more. Default 16.
	Partitions int
	// KeyConcurrency, above 1, handles records of one batch with different
	// keys in parallel, up to this many at once, while records with the
	// same key keep their order (an empty key is a key too). Records without
	// a key (nil) may run in parallel with anything. Default 1: one record at a time, in offset order.
	// RunBatch hands whole batches to its handler and ignores it.
	KeyConcurrency int
	// MaxInFlight bounds the records being handled at once over all
	// partitions. Default Partitions × KeyConcurrency.
	MaxInFlight int
	// DrainTimeout is how long records already being handled may go on
	// after shutdown begins; then their context is cancelled. Default 10s.
	DrainTimeout time.Duration
	// RetryBackoff is how long a partition waits after the chain returned
	// an error before the broker delivers its uncommitted records again.
	// Default 1s.
	RetryBackoff time.Duration
	// NoRetryTopics turns off consuming the retry topics.
	NoRetryTopics bool
	// Logger receives the runtime's logs. Default: slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if err := stream.ValidateGroupName(c.Group); err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	if len(c.Topics) == 0 {
		return stream.Invalidf("consume: group %q: no topics to consume", c.Group)
	}
	for _, t := range c.Topics {
		if err := stream.ValidateTopicName(t); err != nil {
			return fmt.Errorf("consume: %w", err)
		}
		if !c.NoRetryTopics {
			if err := stream.ValidateTopicName(RetryTopic(t, c.Group)); err != nil {
				return fmt.Errorf("consume: retry topic of %q: %w", t, err)
			}
		}
	}
	if c.MaxBatch < 0 || c.Partitions < 0 || c.KeyConcurrency < 0 || c.MaxInFlight < 0 || c.DrainTimeout < 0 || c.RetryBackoff < 0 {
		return stream.Invalidf("consume: group %q: limits and durations must not be negative", c.Group)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 500
	}
	if c.Partitions == 0 {
		c.Partitions = 16
	}
	if c.KeyConcurrency == 0 {
		c.KeyConcurrency = 1
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = c.Partitions * c.KeyConcurrency
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Runtime runs handlers over a [stream.Consumer] in one consumer group.
//
// Guarantees:
//   - Order: records of one partition are handled in offset order; with
//     KeyConcurrency above 1, records of one key are.
//   - At-least-once: a record's offset is committed only after the
//     handler (with its middleware) returned nil for it and for every
//     record before it in its partition. A record the chain fails on stays
//     uncommitted with everything after it, and the partition tries it
//     again after RetryBackoff. Records handled after a failed one (with
//     per-key concurrency) are delivered again too: deduplicate with
//     [Dedupe] where a second effect matters.
//   - Bounds: at most Partitions partitions and MaxInFlight records are
//     handled at once; a partition waiting for room holds up its own
//     fetching, so a slow handler slows fetching rather than growing
//     memory.
//   - Shutdown: when Run's context ends, no new record is started; records
//     being handled get DrainTimeout to finish, then their context is
//     cancelled; what finished is committed and the rest is delivered again
//     to the partition's next owner.
//   - Replay: records in <topic>.<group>.retry reach the same handler, with
//     their Topic set to the original topic (their Partition and Offset are
//     their position in the retry topic).
type Runtime struct {
	c        stream.Consumer
	cfg      Config
	inflight chan struct{} // nil when MaxInFlight cannot be reached anyway
	original map[string]string
}

// New returns a runtime consuming from c. When c can also create topics
// (a [stream.Broker] can), Run creates missing retry topics with one
// partition; otherwise the backend creates them on first use.
func New(c stream.Consumer, cfg Config) (*Runtime, error) {
	if c == nil {
		return nil, stream.Invalidf("consume: no consumer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rt := &Runtime{c: c, cfg: cfg, original: map[string]string{}}
	if cfg.MaxInFlight < cfg.Partitions*cfg.KeyConcurrency {
		rt.inflight = make(chan struct{}, cfg.MaxInFlight)
	}
	if !cfg.NoRetryTopics {
		for _, t := range cfg.Topics {
			rt.original[RetryTopic(t, cfg.Group)] = t
		}
	}
	return rt, nil
}

// Config returns the runtime's configuration with its defaults.
func (rt *Runtime) Config() Config { return rt.cfg }

// Run consumes until ctx ends, calling h for each record. It returns nil
// after ctx ends and the records in flight finished or were released, or
// the error that stopped consuming (see [stream.Consumer.Consume]). Wrap h
// in middleware first, usually the [Chain].
func (rt *Runtime) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return stream.Invalidf("consume: group %q: handler is nil", rt.cfg.Group)
	}
	return rt.run(ctx, func(ctx context.Context, p *runState, batch []*stream.Record) error {
		if rt.cfg.KeyConcurrency > 1 && len(batch) > 1 {
			return rt.handleKeyed(ctx, p, batch, h)
		}
		return rt.handleSeq(ctx, p, batch, h)
	})
}

// RunBatch is Run for a handler of batches: each batch holds records of
// one partition in offset order. When h fails (wholly, or after the first
// N records of a [*stream.PartialError]) and fallback is not nil, the
// records h did not finish are handled one at a time through fallback,
// usually a [Chain] around a single-record handler, so that a bad record
// is retried and dead-lettered alone while the rest of the batch goes on.
// With a nil fallback the failure leaves the records uncommitted and the
// partition tries them again after RetryBackoff.
func (rt *Runtime) RunBatch(ctx context.Context, h BatchHandler, fallback Handler) error {
	if h == nil {
		return stream.Invalidf("consume: group %q: batch handler is nil", rt.cfg.Group)
	}
	return rt.run(ctx, func(ctx context.Context, p *runState, batch []*stream.Record) error {
		if p.stopping() {
			return ErrStopping
		}
		if !rt.acquire(p, len(batch)) {
			return ErrStopping
		}
		err := h(ctx, batch)
		rt.release(len(batch))
		if err == nil || fallback == nil {
			return err
		}
		n := stream.Processed(err, len(batch))
		rt.cfg.Logger.Warn("consume: batch handler failed; handling the rest one record at a time",
			"group", rt.cfg.Group, "topic", batch[n].Topic, "partition", batch[n].Partition, "offset", batch[n].Offset, "err", err)
		ferr := rt.handleSeq(ctx, p, batch[n:], fallback)
		if ferr == nil {
			return nil
		}
		return &stream.PartialError{N: n + stream.Processed(ferr, len(batch)-n), Err: ferr}
	})
}

// runState is what a batch call knows of the run it belongs to.
type runState struct {
	stop <-chan struct{} // closed when shutdown begins
}

func (p *runState) stopping() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

type stoppingKey struct{}

// stoppingChan returns the channel that closes when the runtime whose
// handler got ctx begins to stop; nil outside a runtime.
func stoppingChan(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(stoppingKey{}).(<-chan struct{})
	return ch
}

// run joins the group and calls process for each batch, within the
// runtime's bounds.
func (rt *Runtime) run(ctx context.Context, process func(ctx context.Context, p *runState, batch []*stream.Record) error) error {
	topics := append([]string(nil), rt.cfg.Topics...)
	for _, t := range rt.cfg.Topics {
		if !rt.cfg.NoRetryTopics {
			retry := RetryTopic(t, rt.cfg.Group)
			rt.ensureTopic(ctx, retry)
			topics = append(topics, retry)
		}
	}
	// Handlers run under work, which outlives ctx by DrainTimeout, so that
	// shutdown lets records in flight finish.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	work = context.WithValue(work, stoppingKey{}, ctx.Done())
	stopDrain := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(rt.cfg.DrainTimeout, cancelWork)
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stopDrain()

	p := &runState{stop: ctx.Done()}
	parts := make(chan struct{}, rt.cfg.Partitions)
	h := func(_ context.Context, batch []*stream.Record) (err error) {
		select {
		case parts <- struct{}{}:
		case <-ctx.Done():
			return ErrStopping
		}
		defer func() { <-parts }()
		defer func() {
			if v := recover(); v != nil {
				rt.cfg.Logger.Error("consume: panic outside the handler chain; the batch will be delivered again",
					"group", rt.cfg.Group, "topic", batch[0].Topic, "partition", batch[0].Partition, "panic", v, "stack", string(debug.Stack()))
				err = &PanicError{Value: v}
			}
		}()
		if orig, ok := rt.original[batch[0].Topic]; ok {
			batch = asOriginal(batch, orig)
		}
		// A context per batch keeps the contexts that the chain and the
		// handler derive per record off the shared one's lock.
		bctx, cancel := context.WithCancel(work)
		defer cancel()
		return process(bctx, p, batch)
	}
	err := rt.c.Consume(ctx, stream.ConsumerConfig{
		Group:        rt.cfg.Group,
		Topics:       topics,
		Member:       rt.cfg.Member,
		MaxBatch:     rt.cfg.MaxBatch,
		StartAt:      rt.cfg.StartAt,
		RetryBackoff: rt.cfg.RetryBackoff,
	}, h)
	if err != nil {
		return fmt.Errorf("consume: group %q: %w", rt.cfg.Group, err)
	}
	return nil
}

// asOriginal returns copies of records of a retry topic with the original
// topic's name, leaving the broker's records as they are.
func asOriginal(batch []*stream.Record, topic string) []*stream.Record {
	recs := make([]stream.Record, len(batch))
	out := make([]*stream.Record, len(batch))
	for i, r := range batch {
		recs[i] = *r
		recs[i].Topic = topic
		out[i] = &recs[i]
	}
	return out
}

// ensureTopic creates topic with one partition when the consumer can
// create topics and it does not exist yet.
func (rt *Runtime) ensureTopic(ctx context.Context, topic string) {
	tc, ok := rt.c.(topicCreator)
	if !ok {
		return
	}
	err := tc.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 1})
	if err != nil && !errors.Is(err, stream.ErrTopicExists) {
		rt.cfg.Logger.Warn("consume: could not create retry topic; the backend creates it on first use",
			"group", rt.cfg.Group, "topic", topic, "err", err)
	}
}

// acquire takes room for n records in flight, waiting while there is
// none; it reports false when shutdown begins first.
func (rt *Runtime) acquire(p *runState, n int) bool {
	if rt.inflight == nil {
		return true
	}
	n = min(n, cap(rt.inflight))
	for i := range n {
		select {
		case rt.inflight <- struct{}{}:
		case <-p.stop:
			rt.release(i)
			return false
		}
	}
	return true
}

func (rt *Runtime) release(n int) {
	if rt.inflight == nil {
		return
	}
	for range min(n, cap(rt.inflight)) {
		<-rt.inflight
	}
}
