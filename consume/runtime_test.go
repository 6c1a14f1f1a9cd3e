package consume_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/consume/consumetest"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

// committing wraps a broker and counts, per record, how often the backend
// was told the record is done (so commits it).
type committing struct {
	stream.Broker
	mu      sync.Mutex
	commits map[string]int // topic/partition/offset → times
}

func newCommitting(b stream.Broker) *committing {
	return &committing{Broker: b, commits: map[string]int{}}
}

func pos(r *stream.Record) string { return fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset) }

func (c *committing) Consume(ctx context.Context, cfg stream.ConsumerConfig, h stream.Handler) error {
	return c.Broker.Consume(ctx, cfg, func(ctx context.Context, batch []*stream.Record) error {
		err := h(ctx, batch)
		c.mu.Lock()
		for _, r := range batch[:stream.Processed(err, len(batch))] {
			c.commits[pos(r)]++
		}
		c.mu.Unlock()
		return err
	})
}

// committedOnce checks that each of recs was committed exactly once.
func (c *committing) committedOnce(t *testing.T, recs []*stream.Record) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs {
		if got := c.commits[pos(r)]; got != 1 {
			t.Errorf("record %s committed %d times, want 1", pos(r), got)
		}
	}
}

// start runs rt with h in the background; the returned function stops it
// and checks that Run returned nil.
func start(t *testing.T, rt *consume.Runtime, h consume.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return 30s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func createTopic(t *testing.T, b stream.Broker, name string, partitions int32) {
	t.Helper()
	if err := b.CreateTopic(context.Background(), stream.Topic{Name: name, Partitions: partitions}); err != nil {
		t.Fatalf("CreateTopic %s: %v", name, err)
	}
}

// produce writes one record per key (nil keys allowed) with values v0, v1,
// ... and returns them as stored.
func produce(t *testing.T, b stream.Broker, topic string, keys ...string) []*stream.Record {
	t.Helper()
	recs := make([]*stream.Record, len(keys))
	for i, k := range keys {
		recs[i] = &stream.Record{Topic: topic, Value: []byte("v" + strconv.Itoa(i))}
		if k != "" {
			recs[i].Key = []byte(k)
		}
	}
	if err := b.Produce(context.Background(), recs...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	return recs
}

// counter counts effects per record value.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func newCounter() *counter { return &counter{n: map[string]int{}} }

func (c *counter) add(v []byte) {
	c.mu.Lock()
	c.n[string(v)]++
	c.mu.Unlock()
}

func (c *counter) get(v string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[v]
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

func fastRetry(attempts int) consume.RetryConfig {
	return consume.RetryConfig{MaxAttempts: attempts, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		NoJitter: true, Logger: brokertest.Logger()}
}

func newRuntime(t *testing.T, c stream.Consumer, cfg consume.Config) *consume.Runtime {
	t.Helper()
	if cfg.Group == "" {
		cfg.Group = "g"
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = 20 * time.Millisecond
	}
	cfg.Logger = brokertest.Logger()
	rt, err := consume.New(c, cfg)
	if err != nil {
		t.Fatalf("consume.New: %v", err)
	}
	return rt
}

func chain(t *testing.T, cfg consume.ChainConfig) consume.Middleware {
	t.Helper()
	if cfg.Group == "" {
		cfg.Group = "g"
	}
	cfg.Logger = brokertest.Logger()
	mw, err := consume.Chain(cfg)
	if err != nil {
		t.Fatalf("Chain: %v", err)
	}
	return mw
}

// committedOffset returns the group's committed offset of a partition.
func committedOffset(t *testing.T, b stream.Broker, group, topic string, partition int32) int64 {
	t.Helper()
	g, err := b.DescribeGroup(context.Background(), group)
	if errors.Is(err, stream.ErrGroupNotFound) {
		return -1
	}
	if err != nil {
		t.Fatalf("DescribeGroup %s: %v", group, err)
	}
	for _, o := range g.Offsets {
		if o.Topic == topic && o.Partition == partition {
			return o.Committed
		}
	}
	return -1
}

// TestTransientFailuresCommitOnce: a handler that fails transiently three
// times and then succeeds has its effect once and its offset committed
// once, on every backend.
func TestTransientFailuresCommitOnce(t *testing.T) {
	for _, be := range brokertest.All() {
		t.Run(be.Name, func(t *testing.T) {
			b := newCommitting(be.Open(t))
			createTopic(t, b, "orders", 1)
			recs := produce(t, b, "orders", "a", "b", "c")
			effects := newCounter()
			var calls atomic.Int32
			h := func(ctx context.Context, r *stream.Record) error {
				if string(r.Value) == "v0" && calls.Add(1) <= 3 {
					return errors.New("database is busy")
				}
				effects.add(r.Value)
				return nil
			}
			rt := newRuntime(t, b, consume.Config{Topics: []string{"orders"}})
			stop := start(t, rt, chain(t, consume.ChainConfig{Producer: b, Retry: fastRetry(5)})(h))
			consumetest.Eventually(t, 20*time.Second, "records not all handled", func() bool { return effects.total() == 3 })
			consumetest.Eventually(t, 10*time.Second, "offset not committed", func() bool {
				return committedOffset(t, b, "g", "orders", 0) == 3
			})
			stop()
			for _, v := range []string{"v0", "v1", "v2"} {
				if got := effects.get(v); got != 1 {
					t.Errorf("effect of %s happened %d times, want 1", v, got)
				}
			}
			if got := calls.Load(); got != 4 {
				t.Errorf("handler called %d times for v0, want 4 (3 failures, 1 success)", got)
			}
			b.committedOnce(t, recs)
			assertNoDLQ(t, b, "orders.g.dlq")
		})
	}
}

func assertNoDLQ(t *testing.T, b stream.Broker, dlq string) {
	t.Helper()
	info, err := b.DescribeTopic(context.Background(), dlq)
	if errors.Is(err, stream.ErrTopicNotFound) {
		return
	}
	if err != nil {
		t.Fatalf("DescribeTopic %s: %v", dlq, err)
	}
	if n := info.Records(); n != 0 {
		t.Errorf("%s holds %d records, want none", dlq, n)
	}
}

// readAll reads every record of topic.
func readAll(t *testing.T, b stream.Broker, topic string) []*stream.Record {
	t.Helper()
	ctx := context.Background()
	info, err := b.DescribeTopic(ctx, topic)
	if err != nil {
		t.Fatalf("DescribeTopic %s: %v", topic, err)
	}
	var all []*stream.Record
	for p, o := range info.Offsets {
		for off := o.Start; off < o.End; {
			recs, err := b.Read(ctx, topic, int32(p), off, 1000)
			if err != nil {
				t.Fatalf("Read %s/%d@%d: %v", topic, p, off, err)
			}
			if len(recs) == 0 {
				break
			}
			all = append(all, recs...)
			off = recs[len(recs)-1].Offset + 1
		}
	}
	return all
}

func header(r *stream.Record, key string) string {
	v, _ := r.Header(key)
	return string(v)
}

// TestPermanentFailureDeadLettered: a record that keeps failing goes to
// the dead-letter topic after N attempts, a permanent failure at once, and
// the records after them are handled and committed, on every backend.
func TestPermanentFailureDeadLettered(t *testing.T) {
	for _, be := range brokertest.All() {
		t.Run(be.Name, func(t *testing.T) {
			b := newCommitting(be.Open(t))
			createTopic(t, b, "orders", 1)
			keys := make([]string, 10)
			for i := range keys {
				keys[i] = "k" + strconv.Itoa(i)
			}
			recs := produce(t, b, "orders", keys...)
			effects := newCounter()
			var calls3, calls5 atomic.Int32
			h := func(ctx context.Context, r *stream.Record) error {
				switch string(r.Value) {
				case "v3":
					calls3.Add(1)
					return errors.New("downstream keeps timing out")
				case "v5":
					calls5.Add(1)
					return consume.Permanent(errors.New("order total is negative"))
				}
				effects.add(r.Value)
				return nil
			}
			rt := newRuntime(t, b, consume.Config{Topics: []string{"orders"}})
			stop := start(t, rt, chain(t, consume.ChainConfig{Producer: b, Retry: fastRetry(3)})(h))
			consumetest.Eventually(t, 20*time.Second, "later records not handled", func() bool { return effects.total() == 8 })
			consumetest.Eventually(t, 10*time.Second, "offset not committed past the failures", func() bool {
				return committedOffset(t, b, "g", "orders", 0) == 10
			})
			stop()
			if got := calls3.Load(); got != 3 {
				t.Errorf("handler called %d times for the transient failure, want 3 (MaxAttempts)", got)
			}
			if got := calls5.Load(); got != 1 {
				t.Errorf("handler called %d times for the permanent failure, want 1", got)
			}
			b.committedOnce(t, recs)

			dead := readAll(t, b, consume.DLQTopic("orders", "g"))
			if len(dead) != 2 {
				t.Fatalf("dead letters: got %d, want 2", len(dead))
			}
			for i, want := range []struct {
				orig              *stream.Record
				attempts, errText string
				permanent         string
			}{
				{recs[3], "3", "downstream keeps timing out", "false"},
				{recs[5], "1", "order total is negative", "true"},
			} {
				d := dead[i]
				if string(d.Key) != string(want.orig.Key) || string(d.Value) != string(want.orig.Value) || d.ID() != want.orig.ID() {
					t.Errorf("dead letter %d: key %q value %q id %q, want %q %q %q", i, d.Key, d.Value, d.ID(), want.orig.Key, want.orig.Value, want.orig.ID())
				}
				for k, v := range map[string]string{
					consume.HeaderDLQTopic:     "orders",
					consume.HeaderDLQPartition: "0",
					consume.HeaderDLQOffset:    strconv.FormatInt(want.orig.Offset, 10),
					consume.HeaderDLQGroup:     "g",
					consume.HeaderDLQAttempts:  want.attempts,
					consume.HeaderDLQError:     want.errText,
					consume.HeaderDLQPermanent: want.permanent,
				} {
					if got := header(d, k); got != v {
						t.Errorf("dead letter %d: header %s = %q, want %q", i, k, got, v)
					}
				}
				first, err1 := time.Parse(consume.TimeFormat, header(d, consume.HeaderDLQFirstFailure))
				last, err2 := time.Parse(consume.TimeFormat, header(d, consume.HeaderDLQLastFailure))
				if err1 != nil || err2 != nil || last.Before(first) {
					t.Errorf("dead letter %d: failure times %q..%q, want two times in order", i,
						header(d, consume.HeaderDLQFirstFailure), header(d, consume.HeaderDLQLastFailure))
				}
			}
		})
	}
}
