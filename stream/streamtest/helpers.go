package streamtest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// env is one test's data: every broker it opens shares it.
type env struct {
	t    *testing.T
	open func() stream.Broker
}

func (s *suite) env(t *testing.T) *env {
	t.Helper()
	return &env{t: t, open: s.b.Open(t)}
}

// broker opens a broker that is closed when the test ends (closing twice is
// allowed by the contract: the second Close may return ErrClosed).
func (e *env) broker() stream.Broker {
	e.t.Helper()
	b := e.open()
	e.t.Cleanup(func() { _ = b.Close() })
	return b
}

func createTopic(t *testing.T, ctx context.Context, b stream.Broker, name string, partitions int32) {
	t.Helper()
	if err := b.CreateTopic(ctx, stream.Topic{Name: name, Partitions: partitions}); err != nil {
		t.Fatalf("CreateTopic(%s, %d): %v", name, partitions, err)
	}
}

func value(i int) []byte { return []byte(fmt.Sprintf("value-%06d", i)) }

// produceN produces n records with keys key(i) (nil for no key) and values
// value(i), in calls of up to batch records.
func produceN(t *testing.T, ctx context.Context, b stream.Broker, topic string, n, batch int, key func(int) []byte) []*stream.Record {
	t.Helper()
	var all []*stream.Record
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		recs := make([]*stream.Record, 0, end-start)
		for i := start; i < end; i++ {
			r := &stream.Record{Topic: topic, Value: value(i)}
			if key != nil {
				r.Key = key(i)
			}
			recs = append(recs, r)
		}
		if err := b.Produce(ctx, recs...); err != nil {
			t.Fatalf("Produce %d records to %s: %v", len(recs), topic, err)
		}
		all = append(all, recs...)
	}
	return all
}

// collector gathers what a handler receives and checks, for every call, the
// rules every backend must keep: non-empty batches of one partition in
// offset order, never larger than MaxBatch, and never two calls for one
// partition at the same time.
type collector struct {
	t        *testing.T
	maxBatch int

	mu       sync.Mutex
	records  []*stream.Record
	busy     map[stream.TopicPartition]bool
	calls    int
	failures []string
}

func newCollector(t *testing.T, maxBatch int) *collector {
	return &collector{t: t, maxBatch: maxBatch, busy: map[stream.TopicPartition]bool{}}
}

func (c *collector) fail(format string, args ...any) {
	c.mu.Lock()
	c.failures = append(c.failures, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// enter checks a batch and marks its partition busy; leave unmarks it.
func (c *collector) enter(batch []*stream.Record) (stream.TopicPartition, bool) {
	if len(batch) == 0 {
		c.fail("handler called with an empty batch")
		return stream.TopicPartition{}, false
	}
	if c.maxBatch > 0 && len(batch) > c.maxBatch {
		c.fail("batch of %d records exceeds MaxBatch %d", len(batch), c.maxBatch)
	}
	tp := stream.TopicPartition{Topic: batch[0].Topic, Partition: batch[0].Partition}
	for i, r := range batch {
		if r.Topic != tp.Topic || r.Partition != tp.Partition {
			c.fail("batch mixes %s/%d and %s/%d", tp.Topic, tp.Partition, r.Topic, r.Partition)
		}
		if i > 0 && r.Offset != batch[i-1].Offset+1 {
			c.fail("batch on %s/%d not in consecutive offset order: %d after %d", tp.Topic, tp.Partition, r.Offset, batch[i-1].Offset)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.busy[tp] {
		c.failures = append(c.failures, fmt.Sprintf("partition %s/%d handled by two calls at once", tp.Topic, tp.Partition))
		return tp, false
	}
	c.busy[tp] = true
	return tp, true
}

func (c *collector) leave(tp stream.TopicPartition) {
	c.mu.Lock()
	c.busy[tp] = false
	c.mu.Unlock()
}

func (c *collector) add(batch []*stream.Record) {
	c.mu.Lock()
	c.records = append(c.records, batch...)
	c.mu.Unlock()
}

// handler returns a Handler that records every batch it accepts.
func (c *collector) handler() stream.Handler {
	return c.wrap(func(ctx context.Context, batch []*stream.Record) error { return nil })
}

// wrap checks batches and records those that inner accepts (a PartialError
// records its first N).
func (c *collector) wrap(inner stream.Handler) stream.Handler {
	return func(ctx context.Context, batch []*stream.Record) error {
		tp, ok := c.enter(batch)
		if ok {
			defer c.leave(tp)
		}
		err := inner(ctx, batch)
		c.add(batch[:stream.Processed(err, len(batch))])
		return err
	}
}

func (c *collector) snapshot() []*stream.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*stream.Record(nil), c.records...)
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.records)
}

// check reports the rule violations seen so far.
func (c *collector) check() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.failures {
		c.t.Error(f)
	}
	c.failures = nil
}

// waitCount waits until the collector holds at least n records.
func (c *collector) waitCount(n int, timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, func() bool { return c.count() >= n }, func() string {
		return fmt.Sprintf("received %d records, want %d", c.count(), n)
	})
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// member is one running Consume call.
type member struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan error
}

// startMember runs Consume in the background until stop is called or the
// test ends.
func startMember(t *testing.T, ctx context.Context, b stream.Broker, cfg stream.ConsumerConfig, h stream.Handler) *member {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	m := &member{t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- b.Consume(ctx, cfg, h) }()
	t.Cleanup(func() { m.cancel(); <-m.done })
	return m
}

// stop cancels the member and waits for Consume to return nil.
func (m *member) stop() {
	m.t.Helper()
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			m.t.Errorf("Consume returned %v after cancellation, want nil", err)
		}
		m.done <- nil // let the cleanup receive too
	case <-time.After(30 * time.Second):
		m.t.Fatalf("Consume did not return within 30s of cancellation")
	}
}

// byValue indexes records by value, failing on duplicates when unique.
func byValue(t *testing.T, recs []*stream.Record, unique bool) map[string]*stream.Record {
	t.Helper()
	m := make(map[string]*stream.Record, len(recs))
	for _, r := range recs {
		if _, dup := m[string(r.Value)]; dup && unique {
			t.Errorf("record %q (%s/%d@%d) delivered twice", r.Value, r.Topic, r.Partition, r.Offset)
		}
		m[string(r.Value)] = r
	}
	return m
}

// sameSet fails unless got holds exactly the values of want (ignoring
// duplicates in got when allowDup).
func sameSet(t *testing.T, got, want []*stream.Record, allowDup bool) {
	t.Helper()
	g := byValue(t, got, !allowDup)
	w := byValue(t, want, true)
	var missing, extra []string
	for v := range w {
		if _, ok := g[v]; !ok {
			missing = append(missing, v)
		}
	}
	for v := range g {
		if _, ok := w[v]; !ok {
			extra = append(extra, v)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("%d records missing, first: %v", len(missing), missing[:min(5, len(missing))])
	}
	if len(extra) > 0 {
		t.Errorf("%d unexpected records, first: %v", len(extra), extra[:min(5, len(extra))])
	}
}

func describeGroup(t *testing.T, ctx context.Context, b stream.Broker, group string) stream.GroupInfo {
	t.Helper()
	g, err := b.DescribeGroup(ctx, group)
	if err != nil {
		t.Fatalf("DescribeGroup(%s): %v", group, err)
	}
	return g
}

func offsetOf(g stream.GroupInfo, topic string, partition int32) (stream.GroupOffset, bool) {
	for _, o := range g.Offsets {
		if o.Topic == topic && o.Partition == partition {
			return o, true
		}
	}
	return stream.GroupOffset{}, false
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

func fastCfg(group string, topics ...string) stream.ConsumerConfig {
	return stream.ConsumerConfig{Group: group, Topics: topics, RetryBackoff: 50 * time.Millisecond}
}
