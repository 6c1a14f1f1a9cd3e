package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
)

// Bounds of the records a partition worker holds: past them the consumer
// stops polling for up to fullWait, then pauses the partition; fetching
// resumes when the worker is back under half of both.
const (
	minBufferedRecords = 16384
	maxBufferedBytes   = 8 << 20
	fullWait           = 100 * time.Millisecond
	commitTimeout      = 10 * time.Second
	leaveTimeout       = 5 * time.Second
	commitRetryDelay   = 250 * time.Millisecond
)

// Consume joins cfg.Group as one member and calls h for the records of
// cfg.Topics on the partitions it is assigned, until ctx is done.
//
// Each Consume call is a Kafka group member with its own connections,
// offering the assignors of [Config.Balancers]. When the group's other
// members offer none of them, the coordinator refuses the member
// (INCONSISTENT_GROUP_PROTOCOL) and Consume returns an error wrapping
// [stream.ErrInvalid] that names the offered assignors. Every assigned
// partition has a worker goroutine that calls h with up to cfg.MaxBatch records in offset
// order, so different partitions are handled concurrently and one
// partition never is. Offsets are committed only for records the handler
// finished (all of a batch on nil, the first N on a [*stream.PartialError]).
// After any other error the partition waits cfg.RetryBackoff and delivers
// its uncommitted records again, starting at the committed offset. While
// running, progress is committed at most every [Config.CommitInterval]; a
// process that crashes redelivers what it finished since then.
//
// When a rebalance takes partitions away, their workers finish the running
// handler call, their progress is committed, and only then does the
// rebalance go on, so no other member handles those partitions before.
// Each worker holds at most max(4×MaxBatch, 16384) records or 8 MiB, plus
// one fetch (up to about 1 MiB of compressed records). When one is full,
// the consumer stops polling, and so fetching, for up to 100ms; if the
// worker is still full then, its partition alone is paused until its
// handler catches up.
//
// When ctx is done, Consume stops fetching, waits for running handlers
// (their ctx is done too), commits what they finished, leaves the group and
// returns nil. When the broker is closed it does the same and returns
// [stream.ErrClosed]. Unknown topics are created with DefaultPartitions
// unless Strict is set, when Consume fails with [stream.ErrTopicNotFound].
func (b *Broker) Consume(ctx context.Context, cfg stream.ConsumerConfig, h stream.Handler) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if h == nil {
		return stream.Invalidf("group %q: handler is nil", cfg.Group)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("kafka: consume: %w", stream.ErrClosed)
	}
	b.consumers.Add(1)
	b.mu.Unlock()
	defer b.consumers.Done()

	for _, t := range cfg.Topics {
		if _, err := b.partitions(ctx, t, !b.cfg.Strict); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("kafka: consume group %q: %w", cfg.Group, err)
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-b.done:
			cancel()
		case <-runCtx.Done():
		}
	}()

	c := &consumer{
		b:         b,
		cfg:       cfg,
		h:         h,
		log:       b.log.With("group", cfg.Group, "member", cfg.Member),
		workers:   make(map[topicPartition]*worker),
		commitReq: make(chan struct{}, 1),
		maxRecs:   max(4*cfg.MaxBatch, minBufferedRecords),
	}
	reset := kgo.NewOffset().AtStart()
	if cfg.StartAt == stream.StartLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	opts := append(slices.Clone(b.base),
		kgo.ClientID(cfg.Member),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topics...),
		kgo.Balancers(b.cfg.groupBalancers()...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
		kgo.ConsumeResetOffset(reset),
		kgo.SessionTimeout(b.cfg.SessionTimeout),
		kgo.HeartbeatInterval(b.cfg.HeartbeatInterval),
		kgo.RebalanceTimeout(b.cfg.RebalanceTimeout),
		kgo.FetchMaxPartitionBytes(max(1<<20, b.neededMaxMessage())),
		kgo.FetchMaxWait(b.cfg.FetchMaxWait),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return stream.Invalidf("kafka: consume group %q: client options: %v", cfg.Group, err)
	}
	c.cl = cl
	b.mu.Lock()
	if b.running == nil {
		b.running = make(map[*consumer]struct{})
	}
	b.running[c] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.running, c)
		b.mu.Unlock()
	}()
	err = c.run(runCtx)
	if err == nil && ctx.Err() == nil && b.check() != nil {
		err = fmt.Errorf("kafka: consume group %q: %w", cfg.Group, stream.ErrClosed)
	}
	return err
}

type topicPartition struct {
	topic     string
	partition int32
}

// consumer is one running Consume call.
type consumer struct {
	b       *Broker
	cfg     stream.ConsumerConfig
	h       stream.Handler
	cl      *kgo.Client
	log     *slog.Logger
	maxRecs int

	mu      sync.Mutex
	workers map[topicPartition]*worker

	// commitMu serializes commits, and the removal of workers with them,
	// so that no commit for a partition is sent after it was given up.
	commitMu  sync.Mutex
	commitReq chan struct{} // 1-buffered: a worker made progress

	errMu    sync.Mutex
	errShown map[string]time.Time
}

// run polls and hands records to the partition workers until ctx is done,
// then drains, commits and leaves the group.
func (c *consumer) run(ctx context.Context) error {
	stopCommits := make(chan struct{})
	commitsDone := make(chan struct{})
	go c.commitLoop(ctx, stopCommits, commitsDone)

	var err error
	for {
		fetches := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			c.cl.AllowRebalance()
			break
		}
		if fetches.IsClientClosed() {
			c.cl.AllowRebalance()
			err = fmt.Errorf("kafka: consume group %q: %w", c.cfg.Group, stream.ErrClosed)
			break
		}
		if perr := c.protocolError(fetches); perr != nil {
			c.cl.AllowRebalance()
			err = perr
			break
		}
		fetches.EachError(c.fetchError)
		// Taking the fetch woke franz-go's fetch loop, which sends the
		// next fetch request; handing the records over wakes the
		// workers. A goroutine woken last runs first, so without this
		// yield a worker would convert and handle the whole fetch before
		// the next request goes out, and fetching and handling would take
		// turns instead of overlapping.
		runtime.Gosched()
		var full []*worker
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				if w := c.worker(ctx, p.Topic, p.Partition); w.push(p.Records) {
					full = append(full, w)
				}
			}
		})
		c.cl.AllowRebalance()
		c.backpressure(full)
	}

	// Stop fetching, let running handlers finish, commit what they did.
	c.cl.PauseFetchTopics(c.cfg.Topics...)
	c.mu.Lock()
	ws := make([]*worker, 0, len(c.workers))
	for _, w := range c.workers {
		ws = append(ws, w)
	}
	c.mu.Unlock()
	stopWorkers(ws)
	close(stopCommits)
	<-commitsDone
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	c.commit(cctx, nil)
	cancel()
	// Leave the group so that the partitions move at once, but do not
	// wait long for a cluster that does not answer.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	_ = c.cl.LeaveGroupContext(lctx)
	cancel()
	c.cl.Close()
	return err
}

// protocolError returns the error for a group that refused this member
// because it shares no assignor with the others. franz-go would retry the
// join for ever; a member that can never join is a configuration error.
func (c *consumer) protocolError(fetches kgo.Fetches) error {
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, kerr.InconsistentGroupProtocol) {
			return fmt.Errorf("kafka: consume group %q: %w: the group's members use a partition assignment strategy "+
				"other than the ones offered here (%s); offer one of theirs with Config.Balancers or the balancers URL parameter: %w",
				c.cfg.Group, stream.ErrInvalid, strings.Join(c.b.cfg.Balancers, ","), fe.Err)
		}
	}
	return nil
}

// backpressure holds the next poll, and with it further fetching, until the
// full workers have room again. A worker still full after fullWait has a
// slow handler: its partition is paused alone, so that the others go on.
// Pausing drops what franz-go already fetched for the partition (it is
// fetched again on resume), which is why a worker that merely lags a
// little is waited for instead.
func (c *consumer) backpressure(full []*worker) {
	if len(full) == 0 {
		return
	}
	deadline := time.Now().Add(fullWait)
	for _, w := range full {
		if w.waitRoom(deadline) {
			continue
		}
		c.mu.Lock()
		if c.workers[w.tp] == w {
			w.pause()
		}
		c.mu.Unlock()
	}
}

// worker returns the worker of a partition, starting it if needed.
func (c *consumer) worker(ctx context.Context, topic string, partition int32) *worker {
	tp := topicPartition{topic, partition}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.workers[tp]
	if w == nil {
		w = &worker{
			c:         c,
			tp:        tp,
			next:      -1,
			committed: -1,
			wake:      make(chan struct{}, 1),
			room:      make(chan struct{}, 1),
			stop:      make(chan struct{}),
			done:      make(chan struct{}),
		}
		c.workers[tp] = w
		go w.run(ctx)
	}
	return w
}

func (c *consumer) fetchError(topic string, partition int32, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
		return
	}
	key := fmt.Sprintf("%s/%d/%v", topic, partition, err)
	c.errMu.Lock()
	if c.errShown == nil {
		c.errShown = make(map[string]time.Time)
	}
	last, seen := c.errShown[key]
	show := !seen || time.Since(last) > 30*time.Second
	if show {
		c.errShown[key] = time.Now()
	}
	c.errMu.Unlock()
	if show {
		c.log.Warn("kafka: fetch failed", "topic", topic, "partition", partition, "err", err)
	}
}

// revoked runs before partitions move to another member: it stops their
// workers, waits for running handlers and commits their progress.
func (c *consumer) revoked(ctx context.Context, _ *kgo.Client, tps map[string][]int32) {
	ws := c.take(tps)
	stopWorkers(ws)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	c.commit(cctx, ws)
	c.log.Debug("kafka: partitions revoked", "partitions", tps)
}

// lost runs when the member was dropped from the group (its session
// expired): its partitions may already be someone else's, so nothing is
// committed; uncommitted records will be delivered again.
func (c *consumer) lost(_ context.Context, _ *kgo.Client, tps map[string][]int32) {
	ws := c.take(tps)
	stopWorkers(ws)
	c.commitMu.Lock()
	c.remove(ws)
	c.commitMu.Unlock()
	if len(ws) > 0 {
		c.log.Warn("kafka: partitions lost; uncommitted records will be delivered again", "partitions", tps)
	}
}

// take returns the workers of the given partitions.
func (c *consumer) take(tps map[string][]int32) []*worker {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ws []*worker
	for t, ps := range tps {
		for _, p := range ps {
			if w := c.workers[topicPartition{t, p}]; w != nil {
				ws = append(ws, w)
			}
		}
	}
	return ws
}

// remove forgets stopped workers and un-pauses their partitions, so that
// they fetch normally if they are assigned here again. Callers hold
// commitMu.
func (c *consumer) remove(ws []*worker) {
	if len(ws) == 0 {
		return
	}
	resume := make(map[string][]int32)
	c.mu.Lock()
	for _, w := range ws {
		if c.workers[w.tp] == w {
			delete(c.workers, w.tp)
		}
		resume[w.tp.topic] = append(resume[w.tp.topic], w.tp.partition)
	}
	c.mu.Unlock()
	c.cl.ResumeFetchPartitions(resume)
}

func stopWorkers(ws []*worker) {
	for _, w := range ws {
		w.stopOnce.Do(func() { close(w.stop) })
	}
	for _, w := range ws {
		<-w.done
	}
}

func (c *consumer) requestCommit() {
	select {
	case c.commitReq <- struct{}{}:
	default:
	}
}

// commitLoop commits the workers' progress when they report some, at most
// once per CommitInterval, and again after a failed commit.
func (c *consumer) commitLoop(ctx context.Context, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	interval := max(c.b.cfg.CommitInterval, 0)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-c.commitReq:
		case <-stop:
			return
		}
		ok := c.commit(ctx, nil)
		wait := interval
		if !ok {
			wait = max(wait, commitRetryDelay)
		}
		if wait > 0 {
			t.Reset(wait)
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
		if !ok {
			c.requestCommit()
		}
	}
}

// commit commits the progress of every worker and then removes the workers
// in remove, all under commitMu. It reports whether every offset was
// committed.
func (c *consumer) commit(ctx context.Context, remove []*worker) bool {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	defer c.remove(remove)

	offsets := make(map[string]map[int32]kgo.EpochOffset)
	c.mu.Lock()
	for tp, w := range c.workers {
		if eo, ok := w.uncommitted(); ok {
			if offsets[tp.topic] == nil {
				offsets[tp.topic] = make(map[int32]kgo.EpochOffset)
			}
			offsets[tp.topic][tp.partition] = eo
		}
	}
	workers := maps.Clone(c.workers)
	c.mu.Unlock()
	if len(offsets) == 0 {
		return true
	}
	ok := true
	c.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			ok = false
			c.commitFailed("", -1, err)
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				w := workers[topicPartition{t.Topic, p.Partition}]
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					ok = false
					c.commitFailed(t.Topic, p.Partition, err)
					continue
				}
				if w != nil {
					w.markCommitted(offsets[t.Topic][p.Partition].Offset)
				}
			}
		}
	})
	return ok
}

func (c *consumer) commitFailed(topic string, partition int32, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
		return
	}
	lvl := slog.LevelWarn
	if kerr.IsRetriable(err) || errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.IllegalGeneration) {
		lvl = slog.LevelDebug
	}
	if topic == "" {
		c.log.Log(context.Background(), lvl, "kafka: commit failed; will retry", "err", err)
		return
	}
	c.log.Log(context.Background(), lvl, "kafka: commit failed; will retry", "topic", topic, "partition", partition, "err", err)
}
