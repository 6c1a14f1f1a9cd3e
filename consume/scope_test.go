package consume_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/consume/consumetest"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

// stripping is a broker whose consumers see no arus-id on records valued
// "noid", as records written by clients that stamp none.
type stripping struct{ stream.Broker }

func (s stripping) Consume(ctx context.Context, cfg stream.ConsumerConfig, h stream.Handler) error {
	return s.Broker.Consume(ctx, cfg, func(ctx context.Context, batch []*stream.Record) error {
		for _, r := range batch {
			if string(r.Value) != "noid" {
				continue
			}
			kept := r.Headers[:0:0]
			for _, hd := range r.Headers {
				if hd.Key != stream.HeaderID {
					kept = append(kept, hd)
				}
			}
			r.Headers = kept
		}
		return h(ctx, batch)
	})
}

// TestChainUnderRuntime runs every standard middleware under the runtime,
// where they settle their work once per batch, and checks what each
// promises per record: duplicates skipped and records without an id
// handled, every attempt bounded by its own deadline, a context kept after
// its attempt ended, and metrics counting every record.
func TestChainUnderRuntime(t *testing.T) {
	b := stripping{brokertest.Embedded.Open(t)}
	createTopic(t, b, "orders", 1)
	rec := func(id, v string) *stream.Record {
		r := &stream.Record{Topic: "orders", Value: []byte(v)}
		if id != "" {
			r.Headers = []stream.Header{{Key: stream.HeaderID, Value: []byte(id)}}
		}
		return r
	}
	if err := b.Produce(context.Background(), rec("a", "first"), rec("b", "second"), rec("a", "again"),
		rec("", "noid"), rec("", "noid"), rec("c", "flaky"), rec("d", "last")); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := consume.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	const timeout = time.Minute
	var (
		mu      sync.Mutex
		effects = map[string]int{}
		calls   = map[string]int{}
		kept    context.Context
		errs    []string
	)
	h := func(ctx context.Context, r *stream.Record) error {
		mu.Lock()
		defer mu.Unlock()
		v := string(r.Value)
		calls[v]++
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > timeout || time.Until(d) < timeout-10*time.Second {
			errs = append(errs, v+": deadline not about a minute ahead")
		}
		if ctx.Err() != nil {
			errs = append(errs, v+": context over while handling: "+ctx.Err().Error())
		}
		if v == "first" {
			kept = ctx
		}
		if v == "flaky" && calls[v] == 1 {
			return errors.New("database is busy")
		}
		effects[v]++
		return nil
	}
	inbox := consumetest.NewInbox()
	rt := newRuntime(t, b, consume.Config{Topics: []string{"orders"}})
	stop := start(t, rt, chain(t, consume.ChainConfig{Producer: b, Retry: fastRetry(3), Timeout: timeout,
		Inbox: inbox, Metrics: m, TracerProvider: noop.NewTracerProvider()})(h))
	consumetest.Eventually(t, 20*time.Second, "metrics did not count every record", func() bool {
		return metricValues(t, reg)["arus_consume_handled_total"] == 7
	})
	stop()

	mu.Lock()
	defer mu.Unlock()
	for _, e := range errs {
		t.Error(e)
	}
	want := map[string]int{"first": 1, "second": 1, "noid": 2, "flaky": 1, "last": 1}
	for v, n := range want {
		if effects[v] != n {
			t.Errorf("effects of %q: got %d, want %d", v, effects[v], n)
		}
	}
	if effects["again"] != 0 {
		t.Errorf("the duplicate of id a was handled %d times, want 0", effects["again"])
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		if !inbox.Seen(id) {
			t.Errorf("inbox did not mark id %s", id)
		}
	}
	if kept == nil {
		t.Error("record first was not handled")
	} else if err := kept.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("context kept after its attempt: Err %v, want context.Canceled", err)
	}
	got := metricValues(t, reg)
	for name, v := range map[string]float64{
		"arus_consume_handled_total":            7,
		"arus_consume_failed_total":             0,
		"arus_consume_retries_total":            1,
		"arus_consume_handler_duration_seconds": 7,
		"arus_consume_in_flight":                0,
	} {
		if got[name] != v {
			t.Errorf("%s: got %v, want %v", name, got[name], v)
		}
	}
}
