package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/consume/consumetest"
	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

// effects counts the effects of a handler per record id.
type effects struct {
	mu sync.Mutex
	n  map[string]int
}

func (e *effects) add(id string) {
	e.mu.Lock()
	if e.n == nil {
		e.n = map[string]int{}
	}
	e.n[id]++
	e.mu.Unlock()
}

func (e *effects) get(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n[id]
}

// runGroup runs group g over orders with the default chain (dead letters
// and an inbox) until the test ends. The handler fails permanently on
// values starting with "bad" while broken is set.
func runGroup(t *testing.T, b stream.Broker, broken *atomic.Bool, eff *effects) {
	t.Helper()
	rt, err := consume.New(b, consume.Config{Group: "g", Topics: []string{"orders"}, RetryBackoff: 20 * time.Millisecond,
		Logger: brokertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := consume.Chain(consume.ChainConfig{Group: "g", Producer: b, Inbox: consumetest.NewInbox(),
		Retry:  consume.RetryConfig{MaxAttempts: 2, InitialBackoff: time.Millisecond, NoJitter: true},
		Logger: brokertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- rt.Run(ctx, chain(func(ctx context.Context, r *stream.Record) error {
			if strings.HasPrefix(string(r.Value), "bad") && broken.Load() {
				return consume.Permanent(fmt.Errorf("cannot parse %s", r.Value))
			}
			eff.add(r.ID())
			return nil
		}))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func newManager(t *testing.T, b stream.Broker) *dlq.Manager {
	t.Helper()
	m, err := dlq.New(b, dlq.Config{Logger: brokertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func produce(t *testing.T, b stream.Broker, recs ...*stream.Record) {
	t.Helper()
	if err := b.Produce(context.Background(), recs...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
}

func pending(t *testing.T, m *dlq.Manager, name string) int64 {
	t.Helper()
	q, err := m.Queue(context.Background(), name)
	if errors.Is(err, dlq.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("Queue %s: %v", name, err)
	}
	return q.Pending
}

// TestReplayDedupe: a record dead-lettered, fixed and replayed reaches the
// group's handler again and has its effect once; delivered once more (as
// after a crash between replay and mark) it has no second effect; and
// replaying all again replays nothing. On every backend.
func TestReplayDedupe(t *testing.T) {
	for _, be := range brokertest.All() {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			b := be.Open(t)
			if err := b.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 2}); err != nil {
				t.Fatal(err)
			}
			var broken atomic.Bool
			broken.Store(true)
			var eff effects
			runGroup(t, b, &broken, &eff)
			good := &stream.Record{Topic: "orders", Key: []byte("a"), Value: []byte("good")}
			bad := &stream.Record{Topic: "orders", Key: []byte("b"), Value: []byte("bad-1")}
			produce(t, b, good, bad)

			m := newManager(t, b)
			const name = "orders.g.dlq"
			consumetest.Eventually(t, 20*time.Second, "bad record not dead-lettered", func() bool { return pending(t, m, name) == 1 })
			consumetest.Eventually(t, 10*time.Second, "good record not handled", func() bool { return eff.get(good.ID()) == 1 })
			if got := eff.get(bad.ID()); got != 0 {
				t.Fatalf("bad record had %d effects before the fix, want 0", got)
			}

			broken.Store(false)
			n, err := m.Replay(ctx, name, dlq.Filter{})
			if err != nil || n != 1 {
				t.Fatalf("Replay all: got %d, %v; want 1, nil", n, err)
			}
			consumetest.Eventually(t, 20*time.Second, "replayed record not handled", func() bool { return eff.get(bad.ID()) == 1 })
			if got := pending(t, m, name); got != 0 {
				t.Errorf("pending after replay: got %d, want 0", got)
			}

			// The replayed record delivered again has no second effect.
			retried, err := b.Read(ctx, dlq.RetryTopic(name), 0, 0, 10)
			if err != nil || len(retried) != 1 {
				t.Fatalf("read retry topic: got %d records, %v; want 1", len(retried), err)
			}
			if retried[0].ID() != bad.ID() {
				t.Errorf("replayed record id %q, want the original's %q", retried[0].ID(), bad.ID())
			}
			again := *retried[0]
			produce(t, b, &again)
			marker := &stream.Record{Topic: dlq.RetryTopic(name), Value: []byte("marker")}
			produce(t, b, marker)
			consumetest.Eventually(t, 20*time.Second, "record after the duplicate not handled", func() bool { return eff.get(marker.ID()) == 1 })
			if got := eff.get(bad.ID()); got != 1 {
				t.Errorf("replayed record had %d effects after a second delivery, want 1 (dedupe)", got)
			}
			if n, err := m.Replay(ctx, name, dlq.Filter{}); err != nil || n != 0 {
				t.Errorf("Replay all again: got %d, %v; want 0 (already replayed)", n, err)
			}
			if eff.get(good.ID()) != 1 {
				t.Errorf("good record had %d effects, want 1", eff.get(good.ID()))
			}
		})
	}
}
