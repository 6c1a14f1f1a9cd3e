package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
)

// Consume joins cfg.Group and calls h for the records of cfg.Topics on the
// partitions this member holds, until ctx is done or the broker closes.
//
// Guarantees:
//   - A partition is handled by at most one member of the group at a time:
//     a member handles a partition only while it holds the partition's
//     lease, and it stops handling (and cancels the handler's context) as
//     soon as it cannot renew the lease in time. Commits are fenced by the
//     lease, so a member that lost its lease cannot commit.
//   - Records of a partition reach h in offset order, in batches of at most
//     cfg.MaxBatch records, one batch at a time.
//   - Offsets are committed only for the records h finished (all of a batch
//     when it returns nil, the first N for a [*stream.PartialError]); after
//     any other error the partition waits cfg.RetryBackoff and delivers
//     again from the committed offset. A batch's commit runs while the next
//     batch of its partition is handled; a failed commit (the lease lost)
//     stops the partition, and the records handled after it are delivered
//     again to the next owner.
//   - When the membership changes, partitions move so that every member
//     holds an even share; a member hands a partition over after the batch
//     in progress, committing it. A member that crashes loses its
//     partitions after [Config.LeaseTTL]; their uncommitted records are
//     delivered again to the new owner.
//   - Fetching is bounded: at most two fetched batches wait per partition,
//     so a slow handler slows fetching.
//
// On ctx cancellation Consume stops fetching, waits for running handlers
// (whose context is cancelled too), commits what they finished, releases its
// leases so other members take over at once, and returns nil. It returns
// [stream.ErrClosed] when the broker closes, and an error at once for an
// invalid configuration or, when the broker is strict, an unknown topic.
// Unknown topics are otherwise created with the default settings.
func (b *Broker) Consume(ctx context.Context, cfg stream.ConsumerConfig, h stream.Handler) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("redis: consume: %w", err)
	}
	if h == nil {
		return fmt.Errorf("redis: consume: %w", stream.Invalidf("group %q: no handler", cfg.Group))
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("redis: consume: %w", stream.ErrClosed)
	}
	b.consumers.Add(1)
	b.mu.Unlock()
	defer b.consumers.Done()

	for _, t := range cfg.Topics {
		if _, err := b.partitions(ctx, t, true); err != nil {
			if ctx.Err() != nil {
				return nil // cancelled before joining
			}
			return fmt.Errorf("redis: consume group %q: %w", cfg.Group, err)
		}
	}
	// The group is registered on its topics from now on, so retention
	// keeps what it has not consumed even before it holds a partition.
	if _, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.SAdd(ctx, b.k.groups(), cfg.Group)
		for _, t := range cfg.Topics {
			p.SAdd(ctx, b.k.groupTopics(cfg.Group), t)
			p.SAdd(ctx, b.k.topicGroups(t), cfg.Group)
		}
		return nil
	}); err != nil && ctx.Err() == nil {
		return b.fail(fmt.Sprintf("consume group %q: register", cfg.Group), err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	c := &consumer{
		b:        b,
		cfg:      cfg,
		h:        h,
		instance: cfg.Member + "#" + hex.EncodeToString(suffix[:]),
		sub:      subscription(cfg.Member, cfg.Topics),
		ttl:      b.cfg.LeaseTTL,
		log:      b.log.With("group", cfg.Group, "member", cfg.Member),
		workers:  make(map[tp]*worker),
		logged:   make(map[string]time.Time),
		kick:     make(chan struct{}, 1),
	}
	c.poll = min(max(c.ttl/50, 20*time.Millisecond), 200*time.Millisecond)
	return c.run(ctx)
}

// consumer runs one Consume call: it keeps the member's heartbeat, computes
// its share of the partitions, takes and renews their leases and runs one
// worker per partition held.
type consumer struct {
	b        *Broker
	cfg      stream.ConsumerConfig
	h        stream.Handler
	instance string
	sub      string
	ttl      time.Duration
	poll     time.Duration
	log      *slog.Logger

	fetch   *fetcher
	workers map[tp]*worker
	desired map[tp]bool
	// gen is the membership generation the desired partitions were
	// computed for; workers compare it with the one their commits return.
	gen atomic.Int64
	// kick wakes the member's loop before its next poll: a commit saw a new
	// membership generation.
	kick chan struct{}
	// handover is set while the lease of a desired partition is held by
	// another member, which hands it over after its batch in progress.
	handover bool
	logged   map[string]time.Time // when each kind of failure was last logged
}

// sawGen tells the member's loop when a commit returned a membership
// generation other than the one its partitions were computed for, so that
// a busy member hands partitions over to a new member at once rather than
// at its next poll.
func (c *consumer) sawGen(gen int64) {
	if gen == c.gen.Load() {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *consumer) run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	go func() {
		select {
		case <-c.b.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	// The member's own bookkeeping must outlive ctx, to commit and leave.
	bg := context.WithoutCancel(ctx)

	c.fetch = newFetcher(c)
	// The fetcher's connection is opened before joining, so that a server
	// at its connection limit fails the call instead of leaving a member
	// that holds partitions it cannot read.
	conn, err := c.fetch.connect(ctx)
	if err != nil {
		_ = c.fetch.client.Close()
		if parent.Err() != nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("redis: consume group %q: %w", c.cfg.Group, stream.ErrClosed)
		}
		return c.b.fail(fmt.Sprintf("consume group %q: open the connection for reads", c.cfg.Group), err)
	}
	go c.fetch.run(conn)

	var lastBeat, lastRenew time.Time
	failures := 0
	// While leases are being handed over, the member tries again every few
	// milliseconds, as the other member hands them over after its batch in
	// progress; after handoverWait (the other member may have crashed and
	// its leases expire on their own) it tries at every poll.
	handoverWait := 5 * c.poll
	var handoverSince time.Time
	wait := time.NewTimer(c.poll)
	defer wait.Stop()
	for ctx.Err() == nil {
		now := time.Now()
		changed := false
		if lastBeat.IsZero() || now.Sub(lastBeat) >= c.ttl/3 {
			changed = true
		} else if gen, err := c.b.client.Get(ctx, c.b.k.gen(c.cfg.Group)).Int64(); err == nil && gen != c.gen.Load() {
			changed = true
		}
		if changed {
			if err := c.beat(ctx); err != nil {
				failures++
				c.logFailure(ctx, failures, "heartbeat", err)
			} else {
				failures = 0
				lastBeat = now
			}
		}
		if now.Sub(lastRenew) >= c.ttl/3 {
			if err := c.renew(ctx); err != nil {
				c.logFailure(ctx, failures+1, "renew leases", err)
			} else {
				lastRenew = now
			}
		}
		c.reap()
		c.reconcile(ctx)
		next := c.poll
		switch {
		case !c.handover:
			handoverSince = time.Time{}
		case handoverSince.IsZero():
			handoverSince = now
			fallthrough
		case now.Sub(handoverSince) < handoverWait:
			next = min(5*time.Millisecond, c.poll)
		}
		wait.Reset(next)
		select {
		case <-ctx.Done():
		case <-wait.C:
		case <-c.kick:
		}
	}
	c.shutdown(bg)
	if parent.Err() == nil {
		return fmt.Errorf("redis: consume group %q: %w", c.cfg.Group, stream.ErrClosed)
	}
	return nil
}

// logFailure logs a failure of the member's bookkeeping, at most once per
// ten seconds for each kind, and not after the member was told to stop.
func (c *consumer) logFailure(ctx context.Context, n int, what string, err error) {
	if ctx.Err() != nil || time.Since(c.logged[what]) < 10*time.Second {
		return
	}
	c.logged[what] = time.Now()
	c.log.Warn("redis: consumer bookkeeping failed", "what", what, "attempt", n, "err", err)
}

// beat sends the heartbeat and recomputes the partitions this member
// should hold.
func (c *consumer) beat(ctx context.Context) error {
	m, err := c.b.heartbeat(ctx, c.cfg.Group, c.instance, c.sub, c.ttl, false)
	if err != nil {
		return err
	}
	var topics []string
	for _, ms := range m.members {
		topics = append(topics, ms.topics...)
	}
	slices.Sort(topics)
	counts, err := c.b.topicCounts(ctx, slices.Compact(topics))
	if err != nil {
		return err
	}
	c.gen.Store(m.gen)
	c.desired = make(map[tp]bool)
	for _, x := range assign(m.members, counts)[c.instance] {
		c.desired[x] = true
	}
	return nil
}

// renew extends the leases of the running workers; workers whose lease is
// gone stop at once.
func (c *consumer) renew(ctx context.Context) error {
	var parts []tp
	var tokens []string
	var ws []*worker
	for x, w := range c.workers {
		if w.lost.Load() {
			continue
		}
		parts = append(parts, x)
		tokens = append(tokens, w.lease.token)
		ws = append(ws, w)
	}
	if len(parts) == 0 {
		return nil
	}
	sent := time.Now()
	held, err := c.b.renew(ctx, c.cfg.Group, parts, tokens, c.ttl)
	if err != nil {
		return err
	}
	for i, w := range ws {
		if held[i] {
			w.extend(sent)
		} else {
			c.log.Warn("redis: lost the lease of a partition", "topic", w.tp.topic, "partition", w.tp.partition)
			w.lose()
		}
	}
	return nil
}

// reap forgets workers that have finished.
func (c *consumer) reap() {
	for x, w := range c.workers {
		select {
		case <-w.done:
			c.fetch.remove(w)
			delete(c.workers, x)
		default:
		}
	}
}

// reconcile stops the workers of partitions this member should no longer
// hold and takes the leases of those it should.
func (c *consumer) reconcile(ctx context.Context) {
	for x, w := range c.workers {
		if !c.desired[x] {
			c.fetch.remove(w)
			w.requestStop()
		}
	}
	c.handover = false
	for x := range c.desired {
		if _, running := c.workers[x]; running || ctx.Err() != nil {
			continue
		}
		sent := time.Now()
		l, err := c.b.acquire(ctx, c.cfg.Group, c.instance, x, c.ttl, c.cfg.StartAt)
		if errors.Is(err, errLeaseHeld) {
			c.handover = true
			continue
		}
		if err != nil {
			if errors.Is(err, stream.ErrTopicNotFound) {
				delete(c.desired, x)
			}
			c.logFailure(ctx, 1, "take lease", err)
			continue
		}
		wctx, wcancel := context.WithCancel(ctx)
		w := newWorker(c, x, l, sent, wcancel)
		c.workers[x] = w
		go w.run(wctx)
		c.fetch.add(w)
	}
}

// shutdown stops fetching, lets every worker finish its batch, commit and
// release its lease, and leaves the group.
func (c *consumer) shutdown(ctx context.Context) {
	c.fetch.stop()
	for _, w := range c.workers {
		w.requestStop()
	}
	for _, w := range c.workers {
		<-w.done
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.b.heartbeat(lctx, c.cfg.Group, c.instance, c.sub, c.ttl, true); err != nil && !errors.Is(err, goredis.ErrClosed) {
		c.log.Warn("redis: leaving the group failed; the member expires on its own", "err", err)
	}
}
