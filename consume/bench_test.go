package consume_test

import (
	"context"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/consume/consumetest"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// BenchmarkRuntime compares the runtime against a bare handler loop over
// Broker.Consume, on the embedded log with 4 partitions of 256-byte
// records: the runtime with no middleware; with the default chain as
// [consume.Chain] builds it with its defaults plus metrics and a no-op
// tracer provider (metrics, tracing, dead-letter, retry, recover; no
// timeout, no inbox; no failures, so no retry or dead letter happens); the
// same with a 30s timeout per record; with every standard middleware (the
// timeout and an in-memory inbox for dedupe too); and that with an inbox
// that remembers nothing (the chain's own cost). Each iteration consumes
// every record in a new group with the bare loop and with the runtime,
// which goes first in every other iteration, each after a garbage
// collection; %-of-bare is the runtime's throughput as a share of the bare
// loop's, and cpu-ns/record the CPU the process spent per record. The
// machine's noise shows between runs: compare medians of several.
//
//	go test ./consume -run '^$' -bench Runtime -benchtime 10x -count 5
func BenchmarkRuntime(b *testing.B) {
	const total = 100_000
	br, err := embedded.New(context.Background(), embedded.Config{Dir: b.TempDir(), RetentionInterval: -1,
		Options: stream.Options{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	ctx := context.Background()
	if err := br.CreateTopic(ctx, stream.Topic{Name: "bench", Partitions: 4}); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 256)
	for i := 0; i < total; i += 1000 {
		recs := make([]*stream.Record, 1000)
		for j := range recs {
			recs[j] = &stream.Record{Topic: "bench", Key: fmt.Appendf(nil, "key-%d", (i+j)%1000), Value: value}
		}
		if err := br.Produce(ctx, recs...); err != nil {
			b.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	metrics, err := consume.NewMetrics(reg)
	if err != nil {
		b.Fatal(err)
	}
	// work is the handler's work in both loops: it counts the record.
	work := func(count *atomic.Int64, r *stream.Record) error {
		count.Add(1)
		return nil
	}
	runtime := func(timeout time.Duration, newInbox func() consume.Inbox) func(ctx context.Context, group string, count *atomic.Int64) error {
		return func(ctx context.Context, group string, count *atomic.Int64) error {
			rt, err := consume.New(br, consume.Config{Group: group, Topics: []string{"bench"}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return err
			}
			var inbox consume.Inbox
			if newInbox != nil {
				inbox = newInbox() // one per group, as an inbox belongs to one
			}
			mw, err := consume.Chain(consume.ChainConfig{Group: group, Producer: br, Metrics: metrics, Inbox: inbox,
				TracerProvider: noop.NewTracerProvider(), Timeout: timeout, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return err
			}
			return rt.Run(ctx, mw(func(ctx context.Context, r *stream.Record) error {
				return work(count, r)
			}))
		}
	}
	bare := func(ctx context.Context, group string, count *atomic.Int64) error {
		return br.Consume(ctx, stream.ConsumerConfig{Group: group, Topics: []string{"bench"}},
			func(ctx context.Context, batch []*stream.Record) error {
				for _, r := range batch {
					if err := work(count, r); err != nil {
						return err
					}
				}
				return nil
			})
	}
	group := 0
	// consumeAll consumes every record in a new group and returns the time
	// it took and the CPU time the process used meanwhile.
	consumeAll := func(b *testing.B, run func(ctx context.Context, group string, count *atomic.Int64) error) (wall, cpu time.Duration) {
		group++
		var count atomic.Int64
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		// Neither side pays for the other's garbage: each starts after a
		// collection.
		goruntime.GC()
		start, cpu0 := time.Now(), cpuTime()
		go func() { done <- run(cctx, fmt.Sprintf("bench-%d", group), &count) }()
		for count.Load() < total {
			time.Sleep(time.Millisecond)
		}
		wall, cpu = time.Since(start), cpuTime()-cpu0
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		return wall, cpu
	}
	variants := []struct {
		name string
		run  func(ctx context.Context, group string, count *atomic.Int64) error
	}{
		// The runtime with no middleware at all.
		{"runtime-none", func(ctx context.Context, group string, count *atomic.Int64) error {
			rt, err := consume.New(br, consume.Config{Group: group, Topics: []string{"bench"}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return err
			}
			return rt.Run(ctx, func(ctx context.Context, r *stream.Record) error { return work(count, r) })
		}},
		{"runtime", runtime(0, nil)},
		{"runtime-timeout", runtime(30*time.Second, nil)},
		// Every standard middleware: metrics, tracing, dead letters, retry,
		// a timeout, dedupe (an in-memory inbox, so that the middleware is
		// measured and not a database) and recover.
		{"runtime-all", runtime(30*time.Second, func() consume.Inbox { return consumetest.NewInboxSize(total) })},
		// The same with an inbox that remembers nothing: the chain's own
		// cost, without the inbox's.
		{"runtime-all-passinbox", runtime(30*time.Second, func() consume.Inbox { return consume.PassInbox{} })},
	}
	for _, v := range variants {
		// Each iteration runs the bare loop and the runtime one after the
		// other, so that both see the same load on a shared machine.
		b.Run(v.name, func(b *testing.B) {
			var bareWall, bareCPU, wall, cpu time.Duration
			for i := range b.N {
				// The side that goes first alternates, so that neither
				// always reads what the other has just brought into the
				// caches.
				if i%2 == 1 {
					w, c := consumeAll(b, v.run)
					wall, cpu = wall+w, cpu+c
				}
				w, c := consumeAll(b, bare)
				bareWall, bareCPU = bareWall+w, bareCPU+c
				if i%2 == 0 {
					w, c := consumeAll(b, v.run)
					wall, cpu = wall+w, cpu+c
				}
			}
			n := float64(total * b.N)
			b.ReportMetric(n/bareWall.Seconds(), "bare-records/s")
			b.ReportMetric(n/wall.Seconds(), "records/s")
			b.ReportMetric(100*bareWall.Seconds()/wall.Seconds(), "%-of-bare")
			b.ReportMetric(float64(bareCPU.Nanoseconds())/n, "bare-cpu-ns/record")
			b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/record")
		})
	}
}

// cpuTime returns the user and system CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
