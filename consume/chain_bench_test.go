package consume

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/arus-platform/arus/consume/consumetest"
	"github.com/arus-platform/arus/stream"
)

// BenchmarkChain measures what the standard middleware cost per record
// without a broker: batches of 500 records go through the runtime's
// sequential loop into a handler that does nothing, with no middleware,
// with the default chain (metrics, no-op tracing, dead letters, retry,
// recover), and with every standard middleware (a 30s timeout and dedupe
// on an in-memory inbox too). all-passinbox is every standard middleware
// with an inbox that remembers nothing and calls the handler each time: the
// chain's own cost, without the inbox's. Allocations are per record:
//
//	go test ./consume -run '^$' -bench Chain -benchmem
func BenchmarkChain(b *testing.B) {
	const size = 500
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	rt := &Runtime{cfg: Config{Group: "g", Logger: log}}
	nop := func(context.Context, *stream.Record) error { return nil }
	for _, v := range []struct {
		name    string
		timeout time.Duration
		inbox   func(n int) Inbox
		bare    bool
	}{
		{"none", 0, nil, true},
		{"default", 0, nil, false},
		{"all", 30 * time.Second, func(n int) Inbox { return consumetest.NewInboxSize(n) }, false},
		{"all-passinbox", 30 * time.Second, func(int) Inbox { return PassInbox{} }, false},
	} {
		b.Run(v.name, func(b *testing.B) {
			h := Handler(nop)
			if !v.bare {
				var inbox Inbox
				if v.inbox != nil {
					inbox = v.inbox(b.N)
				}
				mw, err := Chain(ChainConfig{Group: "g", Producer: discard{}, Metrics: metrics, Inbox: inbox,
					TracerProvider: noop.NewTracerProvider(), Timeout: v.timeout, Logger: log})
				if err != nil {
					b.Fatal(err)
				}
				h = mw(nop)
			}
			batch := make([]*stream.Record, size)
			for i := range batch {
				batch[i] = &stream.Record{Topic: "bench", Value: make([]byte, 256),
					Headers: []stream.Header{{Key: stream.HeaderID, Value: make([]byte, 0, 32)}}}
			}
			p := &runState{stop: make(chan struct{})}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += size {
				n := min(size, b.N-done)
				// A new id per record (in place: the inbox keeps a copy).
				for i, r := range batch[:n] {
					r.Headers[0].Value = strconv.AppendInt(append(r.Headers[0].Value[:0], "01JBENCH"...), int64(done+i), 10)
				}
				if err := rt.handleSeq(ctx, p, batch[:n], h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// discard is a producer that drops what it is given.
type discard struct{}

func (discard) Produce(context.Context, ...*stream.Record) error { return nil }

// PassInbox is an inbox that remembers nothing: it calls fn every time.
// The benchmarks use it to measure the chain without an inbox's own work.
type PassInbox struct{}

func (PassInbox) Once(ctx context.Context, _ string, fn func(ctx context.Context) error) error {
	return fn(ctx)
}
