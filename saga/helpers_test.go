package saga_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// testLogger discards logs unless ARUS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("ARUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newBroker(t *testing.T) stream.Broker {
	t.Helper()
	b, err := embedded.New(context.Background(), embedded.Config{
		Dir:               t.TempDir(),
		RetentionInterval: -1,
		Options:           stream.Options{Logger: slog.New(slog.DiscardHandler)},
	})
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// testConfig is an orchestrator configuration on the store of base with a
// short poll interval, so that timeouts fire within tens of milliseconds.
func testConfig(base store.Config) saga.Config {
	return saga.Config{
		DSN:          base.DSN,
		Dir:          base.Dir,
		Component:    "sagas",
		PollInterval: 20 * time.Millisecond,
		Logger:       testLogger(),
	}
}

// runner is an orchestrator running in the background.
type runner struct {
	*saga.Orchestrator
	stop func()
}

// run opens an orchestrator and runs it until the test ends or stop is
// called; stop waits for Run to return and closes the store, as a process
// that shuts down (or dies: nothing is flushed on the way out that a crash
// would not also lose).
func run(t *testing.T, cfg saga.Config, b stream.Broker, defs ...saga.Definition) *runner {
	t.Helper()
	o, err := saga.New(context.Background(), cfg, b, defs...)
	if err != nil {
		t.Fatalf("saga.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			if err := o.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &runner{Orchestrator: o, stop: stop}
}

// participant answers the saga records it consumes with what answer
// returns (nil: no answer), and remembers every record it saw.
type participant struct {
	mu   sync.Mutex
	seen []*stream.Record
}

func newParticipant(t *testing.T, b stream.Broker, group string, topics []string, answer func(r *stream.Record) *stream.Record) *participant {
	t.Helper()
	p := &participant{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := b.Consume(ctx, stream.ConsumerConfig{Group: group, Topics: topics, RetryBackoff: 10 * time.Millisecond},
			stream.Single(func(ctx context.Context, r *stream.Record) error {
				p.mu.Lock()
				p.seen = append(p.seen, r)
				p.mu.Unlock()
				if reply := answer(r); reply != nil {
					return b.Produce(ctx, reply)
				}
				return nil
			}))
		if err != nil && ctx.Err() == nil {
			t.Errorf("participant %s: %v", group, err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// records returns what the participant saw, as "topic:kind:step" strings.
func (p *participant) records() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.seen {
		kind, _ := r.Header(saga.HeaderKind)
		step, _ := r.Header(saga.HeaderStep)
		out = append(out, fmt.Sprintf("%s:%s:%s", r.Topic, kind, step))
	}
	return out
}

// ids returns the arus-ids of the records the participant saw.
func (p *participant) ids() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.seen {
		out = append(out, r.ID())
	}
	return out
}

// waitState polls until instance id reaches state want.
func waitState(t *testing.T, o *saga.Orchestrator, id string, want saga.State) *saga.Instance {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		in, err := o.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if in.State == want {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("saga %s is %s, want %s; history:\n%s", id, in.State, want, history(in))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func history(in *saga.Instance) string {
	var b strings.Builder
	for _, e := range in.History {
		fmt.Fprintf(&b, "  %s step=%d %s %s %s\n", e.Type, e.Step, e.Topic, e.RecordID, e.Detail)
	}
	return b.String()
}

// events returns the history entries of one type, as "step:detail".
func events(in *saga.Instance, typ saga.EventType) []string {
	var out []string
	for _, e := range in.History {
		if e.Type == typ {
			out = append(out, fmt.Sprintf("%d:%s", e.Step, e.Detail))
		}
	}
	return out
}

// order is a three-step saga: reserve stock and charge a card, both
// compensable, then ship, which is not.
func order(timeout time.Duration) saga.Definition {
	return saga.Definition{
		Name: "order",
		Steps: []saga.Step{
			{Name: "reserve", Command: saga.Command{Topic: "stock"}, Compensation: saga.Command{Topic: "stock"}, ReplyTopic: "order.replies", Timeout: timeout},
			{Name: "charge", Command: saga.Command{Topic: "payments"}, Compensation: saga.Command{Topic: "payments"}, ReplyTopic: "order.replies", Timeout: timeout},
			{Name: "ship", Command: saga.Command{Topic: "shipping"}, ReplyTopic: "order.replies", Timeout: timeout},
		},
	}
}

var orderTopics = []string{"stock", "payments", "shipping"}
