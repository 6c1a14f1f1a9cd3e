package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// cpuTime returns the user and system CPU time the process used so far, in
// nanoseconds. Per record, it shows the cost of the code apart from waiting,
// which makes runs comparable on a busy machine.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchBroker opens a broker in a fresh directory with a topic of 4
// partitions.
func benchBroker(b *testing.B, topic string, sync Synchronous) *Broker {
	b.Helper()
	br, err := New(context.Background(), Config{Dir: b.TempDir(), RetentionInterval: -1, Synchronous: sync,
		Options: stream.Options{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	if err := br.CreateTopic(context.Background(), stream.Topic{Name: topic, Partitions: 4}); err != nil {
		b.Fatal(err)
	}
	return br
}

// produce writes n records of 256-byte values with concurrent producers,
// perCall records per Produce call.
func produce(b *testing.B, br *Broker, topic string, n, producers, perCall int) {
	value := make([]byte, 256)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range producers {
		wg.Go(func() {
			recs := make([]*stream.Record, 0, perCall)
			for {
				first := next.Add(int64(perCall)) - int64(perCall)
				if first >= int64(n) {
					return
				}
				recs = recs[:0]
				for i := first; i < min(first+int64(perCall), int64(n)); i++ {
					recs = append(recs, &stream.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", i%1000), Value: value})
				}
				if err := br.Produce(context.Background(), recs...); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkProduce measures durable produce throughput (synchronous=FULL
// unless the name says otherwise) with 256-byte values: 8 concurrent
// producers with 1 and 100 records per call, and for comparison 64
// producers of 1 record and synchronous=NORMAL.
func BenchmarkProduce(b *testing.B) {
	for _, bc := range []struct {
		producers, perCall int
		sync               Synchronous
	}{
		{8, 1, SyncFull},
		{8, 100, SyncFull},
		{64, 1, SyncFull},
		{8, 1, SyncNormal},
		{8, 100, SyncNormal},
	} {
		name := fmt.Sprintf("producers=%d/records-per-call=%d", bc.producers, bc.perCall)
		if bc.sync != SyncFull {
			name = "sync=" + string(bc.sync) + "/" + name
		}
		b.Run(name, func(b *testing.B) {
			br := benchBroker(b, "bench", bc.sync)
			b.ResetTimer()
			start, cpu := time.Now(), cpuTime()
			produce(b, br, "bench", b.N, bc.producers, bc.perCall)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/record")
			st := br.Stats()
			b.ReportMetric(float64(st.Records)/float64(st.Transactions), "records/tx")
		})
	}
}

// BenchmarkConsume measures a group consuming a pre-filled topic of 4
// partitions with 256-byte values, from the first record to the last.
func BenchmarkConsume(b *testing.B) {
	br := benchBroker(b, "bench", SyncFull)
	produce(b, br, "bench", b.N, 8, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got atomic.Int64
	done := make(chan struct{})
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	go func() {
		err := br.Consume(ctx, stream.ConsumerConfig{Group: "bench", Topics: []string{"bench"}},
			func(ctx context.Context, batch []*stream.Record) error {
				if got.Add(int64(len(batch))) == int64(b.N) {
					close(done)
				}
				return nil
			})
		if err != nil {
			b.Error(err)
		}
	}()
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/record")
	cancel()
}

// BenchmarkLatency measures the time from a Produce call to the handler of a
// waiting consumer, one record at a time, and reports its median and 99th
// percentile. It includes the fsync of the produce and the wake-up of the
// consumer.
func BenchmarkLatency(b *testing.B) {
	br := benchBroker(b, "bench", SyncFull)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lat := make(chan time.Duration, 1)
	go br.Consume(ctx, stream.ConsumerConfig{Group: "bench", Topics: []string{"bench"}, StartAt: stream.StartLatest},
		func(ctx context.Context, batch []*stream.Record) error {
			for _, r := range batch {
				lat <- time.Since(r.Timestamp)
			}
			return nil
		})
	for {
		g, err := br.DescribeGroup(context.Background(), "bench")
		if err == nil && len(g.Offsets) == 4 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	value := make([]byte, 256)
	all := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		if err := br.Produce(context.Background(), &stream.Record{Topic: "bench", Value: value}); err != nil {
			b.Fatal(err)
		}
		all = append(all, <-lat)
	}
	b.StopTimer()
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
