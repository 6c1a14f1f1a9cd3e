package consume_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/consume/consumetest"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

// gauge tracks how many calls run at once and the most seen.
type gauge struct{ now, peak atomic.Int32 }

func (g *gauge) enter() {
	n := g.now.Add(1)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
}

func (g *gauge) leave() { g.now.Add(-1) }

// TestKeyConcurrency: with per-key concurrency, records of different keys
// of one partition run in parallel, records of one key in order, and
// every record is committed once, also when one failure forces a
// redelivery of the rest of its batch.
func TestKeyConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name    string
		failAt  string // value whose first attempt fails; "" for none
		workers int
	}{
		{"no failure", "", 4},
		{"one failure", "v37", 4},
		{"one worker", "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newCommitting(brokertest.Embedded.Open(t))
			createTopic(t, b, "orders", 1)
			const keys, perKey = 5, 20
			var ks []string
			for i := range keys * perKey {
				ks = append(ks, fmt.Sprintf("key-%d", i%keys))
			}
			recs := produce(t, b, "orders", ks...)

			var (
				mu      sync.Mutex
				order   = map[string][]int64{} // key → offsets handled, first time each
				handled = map[int64]bool{}
				failed  atomic.Bool
				g       gauge
			)
			h := func(ctx context.Context, r *stream.Record) error {
				g.enter()
				defer g.leave()
				time.Sleep(time.Millisecond)
				if string(r.Value) == tc.failAt && !failed.Swap(true) {
					return errors.New("first attempt fails")
				}
				mu.Lock()
				if !handled[r.Offset] {
					handled[r.Offset] = true
					order[string(r.Key)] = append(order[string(r.Key)], r.Offset)
				}
				mu.Unlock()
				return nil
			}
			rt := newRuntime(t, b, consume.Config{Topics: []string{"orders"}, KeyConcurrency: tc.workers, MaxBatch: 50})
			stop := start(t, rt, h)
			consumetest.Eventually(t, 20*time.Second, "offsets not all committed", func() bool {
				return committedOffset(t, b, "g", "orders", 0) == keys*perKey
			})
			stop()
			b.committedOnce(t, recs)
			for k, offs := range order {
				for i := 1; i < len(offs); i++ {
					if offs[i] < offs[i-1] {
						t.Errorf("key %s handled out of order: %v", k, offs)
						break
					}
				}
			}
			if len(handled) != keys*perKey {
				t.Errorf("handled %d records, want %d", len(handled), keys*perKey)
			}
			peak := g.peak.Load()
			if tc.workers == 1 && peak != 1 {
				t.Errorf("one worker: %d records ran at once, want 1", peak)
			}
			if tc.workers > 1 && (peak < 2 || peak > int32(tc.workers)) {
				t.Errorf("%d workers: at most %d records ran at once, want 2 to %d", tc.workers, peak, tc.workers)
			}
		})
	}
}

// TestBackpressure: the runtime never handles more records at once than
// MaxInFlight, nor more partitions than Partitions.
func TestBackpressure(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		partitions, keys, inFlight int
		wantPeak                   int32
	}{
		{"partitions bound", 2, 1, 0, 2},
		{"in-flight bound", 8, 4, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := brokertest.Embedded.Open(t)
			createTopic(t, b, "orders", 4)
			var ks []string
			for i := range 200 {
				ks = append(ks, fmt.Sprintf("key-%d", i))
			}
			produce(t, b, "orders", ks...)
			var g gauge
			var n atomic.Int32
			h := func(ctx context.Context, r *stream.Record) error {
				g.enter()
				time.Sleep(500 * time.Microsecond)
				g.leave()
				n.Add(1)
				return nil
			}
			rt := newRuntime(t, b, consume.Config{Topics: []string{"orders"}, Partitions: tc.partitions,
				KeyConcurrency: tc.keys, MaxInFlight: tc.inFlight})
			stop := start(t, rt, h)
			consumetest.Eventually(t, 20*time.Second, "records not all handled", func() bool { return n.Load() >= 200 })
			stop()
			if got := g.peak.Load(); got > tc.wantPeak {
				t.Errorf("%d records ran at once, want at most %d", got, tc.wantPeak)
			}
		})
	}
}

// TestRetryBlocksOnlyItsOwn: a record waiting between retries holds up its
// own partition (or key), not the others.
func TestRetryBlocksOnlyItsOwn(t *testing.T) {
	for _, tc := range []struct {
		name       string
		partitions int32
		keyWorkers int
	}{
		{"other partitions", 2, 1},
		{"other keys", 1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := brokertest.Embedded.Open(t)
			createTopic(t, b, "orders", tc.partitions)
			// Find a key on another partition than "stuck" (or any key, on
			// one partition).
			other := "other"
			for i := 0; tc.partitions > 1 && stream.Partition([]byte(other), tc.partitions) == stream.Partition([]byte("stuck"), tc.partitions); i++ {
				other = fmt.Sprintf("other-%d", i)
			}
			produce(t, b, "orders", "stuck", other, other, other)
			var release atomic.Bool
			effects := newCounter()
			h := func(ctx context.Context, r *stream.Record) error {
				if string(r.Key) == "stuck" && !release.Load() {
					return errors.New("not yet")
				}
				effects.add(r.Value)
				return nil
			}
			rt := newRuntime(t, b, consume.Config{Topics: []string{"orders"}, KeyConcurrency: tc.keyWorkers})
			retry := consume.RetryConfig{MaxAttempts: -1, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, Logger: brokertest.Logger()}
			stop := start(t, rt, chain(t, consume.ChainConfig{Producer: b, Retry: retry})(h))
			consumetest.Eventually(t, 10*time.Second, "records of "+tc.name+" held up by a retrying record", func() bool {
				return effects.total() == 3
			})
			release.Store(true)
			consumetest.Eventually(t, 10*time.Second, "retried record not handled once released", func() bool { return effects.total() == 4 })
			stop()
		})
	}
}

// TestShutdownDrains: when the runtime stops, a record in flight finishes
// and is committed; with a handler that overruns DrainTimeout, its context
// is cancelled and the record is delivered again on restart, not
// dead-lettered.
func TestShutdownDrains(t *testing.T) {
	for _, tc := range []struct {
		name        string
		overrun     bool
		wantEffects int // effects of v0 after a restart
	}{
		{"finishes in time", false, 1},
		{"overruns the drain timeout", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := brokertest.Embedded.Open(t)
			createTopic(t, b, "orders", 1)
			produce(t, b, "orders", "a", "a", "a")
			effects := newCounter()
			entered := make(chan struct{}, 10)
			var first atomic.Bool
			h := func(ctx context.Context, r *stream.Record) error {
				if string(r.Value) == "v0" && !first.Swap(true) {
					entered <- struct{}{}
					if tc.overrun {
						<-ctx.Done() // only the drain timeout ends this
						return ctx.Err()
					}
					time.Sleep(100 * time.Millisecond)
				}
				effects.add(r.Value)
				return nil
			}
			cfg := consume.Config{Topics: []string{"orders"}, DrainTimeout: 200 * time.Millisecond}
			mw := chain(t, consume.ChainConfig{Producer: b, Retry: fastRetry(3)})
			stop := start(t, newRuntime(t, b, cfg), mw(h))
			<-entered
			began := time.Now()
			stop()
			if tc.overrun && time.Since(began) < 150*time.Millisecond {
				t.Errorf("Run returned %s after shutdown began, before the drain timeout", time.Since(began))
			}
			wantAfterStop := 1
			if tc.overrun {
				wantAfterStop = 0
			}
			if got := effects.get("v0"); got != wantAfterStop {
				t.Errorf("after shutdown: v0 had %d effects, want %d", got, wantAfterStop)
			}
			if got := effects.get("v1"); got != 0 {
				t.Errorf("after shutdown: v1, not started before it, had %d effects, want 0", got)
			}
			assertNoDLQ(t, b, consume.DLQTopic("orders", "g"))

			stop = start(t, newRuntime(t, b, cfg), mw(h))
			consumetest.Eventually(t, 10*time.Second, "records not handled after restart", func() bool { return effects.total() == 3 })
			stop()
			if got := effects.get("v0"); got != tc.wantEffects {
				t.Errorf("after restart: v0 had %d effects, want %d", got, tc.wantEffects)
			}
		})
	}
}

// TestRetryTopic: records in <topic>.<group>.retry reach the handler as
// records of the original topic; another group does not read them.
func TestRetryTopic(t *testing.T) {
	b := brokertest.Embedded.Open(t)
	createTopic(t, b, "orders", 2)
	produce(t, b, consume.RetryTopic("orders", "g"), "a")
	got := make(chan *stream.Record, 10)
	h := func(ctx context.Context, r *stream.Record) error { got <- r; return nil }
	stop := start(t, newRuntime(t, b, consume.Config{Topics: []string{"orders"}}), h)
	otherGot := make(chan *stream.Record, 10)
	stopOther := start(t, newRuntime(t, b, consume.Config{Group: "other", Topics: []string{"orders"}}),
		func(ctx context.Context, r *stream.Record) error { otherGot <- r; return nil })
	select {
	case r := <-got:
		if r.Topic != "orders" || string(r.Value) != "v0" {
			t.Errorf("handler got topic %q value %q, want orders v0", r.Topic, r.Value)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("replayed record not handled")
	}
	// A marker on the topic itself: once the other group has handled it, the
	// other group is consuming, and the first record it handled is the marker,
	// not the replayed one.
	if err := b.Produce(context.Background(), &stream.Record{Topic: "orders", Value: []byte("marker")}); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	select {
	case r := <-otherGot:
		if string(r.Value) != "marker" {
			t.Errorf("another group handled topic %q value %q first, want the marker", r.Topic, r.Value)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("marker not handled by the other group")
	}
	stop()
	stopOther()
	if n := len(otherGot); n != 0 {
		t.Errorf("another group handled %d more records, want 0", n)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  consume.Config
	}{
		{"no group", consume.Config{Topics: []string{"t"}}},
		{"no topics", consume.Config{Group: "g"}},
		{"bad topic", consume.Config{Group: "g", Topics: []string{"a/b"}}},
		{"negative", consume.Config{Group: "g", Topics: []string{"t"}, MaxInFlight: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, stream.ErrInvalid) {
				t.Errorf("Validate: got %v, want an error wrapping ErrInvalid", err)
			}
		})
	}
	cfg := consume.Config{Group: "g", Topics: []string{"t"}, Partitions: 4, KeyConcurrency: 3}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.MaxInFlight != 12 || cfg.MaxBatch != 500 || cfg.DrainTimeout != 10*time.Second {
		t.Errorf("defaults: got in-flight %d, batch %d, drain %s; want 12, 500, 10s", cfg.MaxInFlight, cfg.MaxBatch, cfg.DrainTimeout)
	}
}

// TestEmptyKeyIsAKey: with per-key concurrency, records with an empty key
// are handled in offset order like those of any other key, while records
// without a key may run in parallel.
func TestEmptyKeyIsAKey(t *testing.T) {
	b := brokertest.Embedded.Open(t)
	createTopic(t, b, "orders", 1)
	const n = 40
	var recs []*stream.Record
	for i := range n {
		r := &stream.Record{Topic: "orders", Value: []byte(fmt.Sprint(i))}
		if i%2 == 0 {
			r.Key = []byte{}
		}
		recs = append(recs, r)
	}
	if err := b.Produce(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		empty []int64 // offsets of empty-key records, as handled
		seen  = map[int64]bool{}
	)
	h := func(ctx context.Context, r *stream.Record) error {
		time.Sleep(time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if r.Key != nil && !seen[r.Offset] {
			empty = append(empty, r.Offset)
		}
		seen[r.Offset] = true
		return nil
	}
	rt := newRuntime(t, b, consume.Config{Topics: []string{"orders"}, KeyConcurrency: 8, MaxBatch: n})
	stop := start(t, rt, h)
	consumetest.Eventually(t, 20*time.Second, "offsets not all committed", func() bool {
		return committedOffset(t, b, "g", "orders", 0) == n
	})
	stop()
	mu.Lock()
	defer mu.Unlock()
	if len(empty) != n/2 {
		t.Fatalf("handled %d records with an empty key, want %d", len(empty), n/2)
	}
	for i := 1; i < len(empty); i++ {
		if empty[i] < empty[i-1] {
			t.Fatalf("records with an empty key handled out of order: %v", empty)
		}
	}
}
