package kafka

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// TestBackpressure checks that a blocked handler stops fetching: the
// records held in memory stay bounded while many more wait in the topic.
func TestBackpressure(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const topic, n = "slow", 200000
	if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	for range n / 10000 {
		batch := make([]*stream.Record, 10000)
		for i := range batch {
			v := make([]byte, 100)
			_, _ = rand.Read(v) // incompressible, so that fetch sizes are what they seem
			batch[i] = &stream.Record{Topic: topic, Value: v}
		}
		if err := b.Produce(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
	release := make(chan struct{})
	var handled atomic.Int64
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{topic}, MaxBatch: 100},
			func(ctx context.Context, rs []*stream.Record) error {
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				handled.Add(int64(len(rs)))
				return nil
			})
	}()
	// Wait for the worker to fill up and its partition to pause, then look
	// at what it holds.
	waitFor(t, 20*time.Second, "the blocked partition to pause", func() bool { return pausedWorkers(b) == 1 })
	held := heldRecords(b)
	// The bound is the worker's limit plus one fetch (about 1 MiB).
	if limit := minBufferedRecords + 2*(1<<20)/100; held > limit {
		t.Errorf("a blocked handler's partition holds %d records, want at most %d", held, limit)
	}
	close(release)
	waitFor(t, 20*time.Second, "every record to be handled", func() bool { return handled.Load() >= n })
	stop()
	wg.Wait()
	if got := handled.Load(); got != n {
		t.Errorf("handled %d records, want %d", got, n)
	}
}

// heldRecords counts the records the partition workers of b's running
// Consume calls hold.
func heldRecords(b *Broker) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for c := range b.running {
		c.mu.Lock()
		for _, w := range c.workers {
			w.mu.Lock()
			n += len(w.queue)
			w.mu.Unlock()
		}
		c.mu.Unlock()
	}
	return n
}

// pausedWorkers counts the partitions b's running Consume calls paused
// because their workers were full.
func pausedWorkers(b *Broker) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for c := range b.running {
		c.mu.Lock()
		for _, w := range c.workers {
			w.mu.Lock()
			if w.paused {
				n++
			}
			w.mu.Unlock()
		}
		c.mu.Unlock()
	}
	return n
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConsumeStops(t *testing.T) {
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	noop := func(context.Context, []*stream.Record) error { return nil }

	t.Run("unknown topic in strict mode", func(t *testing.T) {
		cfg := testConfig(c)
		cfg.Strict = true
		b := openBroker(t, cfg)
		err := b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"absent"}}, noop)
		if !errors.Is(err, stream.ErrTopicNotFound) || !strings.Contains(err.Error(), "absent") {
			t.Errorf("got %v, want ErrTopicNotFound naming the topic", err)
		}
	})
	t.Run("broker closed while consuming", func(t *testing.T) {
		b := openBroker(t, testConfig(c))
		if err := b.Produce(ctx, &stream.Record{Topic: "closing", Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		handled := make(chan struct{}, 1)
		done := make(chan error, 1)
		go func() {
			done <- b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"closing"}},
				func(context.Context, []*stream.Record) error {
					select {
					case handled <- struct{}{}:
					default:
					}
					return nil
				})
		}()
		<-handled
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, stream.ErrClosed) {
				t.Errorf("Consume after Close: got %v, want ErrClosed", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Consume did not return after Close")
		}
		// What the handler finished was committed before Consume returned.
		b2 := openBroker(t, testConfig(c))
		g, err := b2.DescribeGroup(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Offsets) == 0 || g.Lag() != 0 {
			t.Errorf("after Close: got offsets %+v, want the record committed", g.Offsets)
		}
	})
}

// TestSlowPartitionDoesNotBlockOthers fills two partitions whose handler
// is stuck and checks that a third partition keeps flowing.
func TestSlowPartitionDoesNotBlockOthers(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "skewed"
	if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	keyFor := func(p int32) []byte {
		for i := 0; ; i++ {
			if k := []byte(fmt.Sprintf("k%d", i)); stream.Partition(k, 3) == p {
				return k
			}
		}
	}
	produce := func(p int32, n int) {
		t.Helper()
		key := keyFor(p)
		for done := 0; done < n; done += 5000 {
			batch := make([]*stream.Record, min(5000, n-done))
			for i := range batch {
				v := make([]byte, 100)
				_, _ = rand.Read(v)
				batch[i] = &stream.Record{Topic: topic, Key: key, Value: v}
			}
			if err := b.Produce(ctx, batch...); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 40000)
	produce(1, 40000)

	release := make(chan struct{})
	var fast atomic.Int64
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{topic}},
			func(ctx context.Context, rs []*stream.Record) error {
				if rs[0].Partition == 2 {
					fast.Add(int64(len(rs)))
					return nil
				}
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
	}()
	defer func() {
		close(release)
		stop()
		wg.Wait()
	}()
	waitFor(t, 20*time.Second, "the stuck partitions to fill up and pause", func() bool { return pausedWorkers(b) == 2 })
	produce(2, 1000)
	deadline := time.Now().Add(10 * time.Second)
	for fast.Load() < 1000 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := fast.Load(); got != 1000 {
		t.Errorf("the free partition handled %d of 1000 records while two others were stuck", got)
	}
	if held := heldRecords(b); held > 2*(minBufferedRecords+2*(1<<20)/100) {
		t.Errorf("the stuck partitions hold %d records, want them bounded", held)
	}
}

// TestGroupProtocolMismatch checks that a member the group refuses for
// sharing no assignor with it fails Consume with an error instead of
// retrying in silence.
func TestGroupProtocolMismatch(t *testing.T) {
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const topic, group = "mismatch", "shared"
	sticky := testConfig(c)
	sticky.Balancers = []string{BalancerSticky}
	first := openBroker(t, sticky)
	if err := first.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	joined := make(chan struct{})
	var once sync.Once
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = first.Consume(cctx, stream.ConsumerConfig{Group: group, Topics: []string{topic}},
			func(context.Context, []*stream.Record) error { once.Do(func() { close(joined) }); return nil })
	}()
	if err := first.Produce(ctx, &stream.Record{Topic: topic, Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-joined:
	case <-ctx.Done():
		t.Fatal("the first member never consumed")
	}

	second := openBroker(t, testConfig(c)) // range, cooperative-sticky
	err := second.Consume(ctx, stream.ConsumerConfig{Group: group, Topics: []string{topic}},
		func(context.Context, []*stream.Record) error { return nil })
	if !errors.Is(err, stream.ErrInvalid) || !strings.Contains(err.Error(), "range,cooperative-sticky") {
		t.Fatalf("got %v, want an ErrInvalid naming the offered assignors", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Consume returned only because the test timed out")
	}
	stop()
	wg.Wait()
}
