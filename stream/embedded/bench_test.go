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

// BenchmarkConsumeGroups consumes the same 100,000 records (4 partitions,
// 256-byte values) once per iteration, each time with a new group, so that
// groups and their committed offsets pile up in one log as in a long run of
// other benchmarks. It reports the CPU per record of the whole run and of
// its first and last fifth: a cost that grows with the groups a log holds
// shows as last above first. groups-before=5000 commits offsets for 5,000
// other groups first.
//
//	go test ./stream/embedded -run '^$' -bench ConsumeGroups -benchtime 100x
func BenchmarkConsumeGroups(b *testing.B) {
	const total = 100_000
	for _, before := range []int{0, 5000} {
		b.Run(fmt.Sprintf("groups-before=%d", before), func(b *testing.B) {
			br := benchBroker(b, "bench", SyncFull)
			produce(b, br, "bench", total, 8, 100)
			ctx := context.Background()
			for g := range before {
				offsets := make(map[stream.TopicPartition]int64)
				for p := range int32(4) {
					offsets[stream.TopicPartition{Topic: "bench", Partition: p}] = 0
				}
				if err := br.CommitOffsets(ctx, fmt.Sprintf("before-%d", g), offsets); err != nil {
					b.Fatal(err)
				}
			}
			fifth := max(b.N/5, 1)
			var all, first, last int64
			b.ResetTimer()
			for i := range b.N {
				var got atomic.Int64
				cctx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				cpu := cpuTime()
				go func() {
					done <- br.Consume(cctx, stream.ConsumerConfig{Group: fmt.Sprintf("bench-%d", i), Topics: []string{"bench"}},
						func(ctx context.Context, batch []*stream.Record) error {
							got.Add(int64(len(batch)))
							return nil
						})
				}()
				for got.Load() < total {
					time.Sleep(time.Millisecond)
				}
				cpu = cpuTime() - cpu
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				all += cpu
				if i < fifth {
					first += cpu
				}
				if i >= b.N-fifth {
					last += cpu
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(all)/float64(total*b.N), "cpu-ns/record")
			b.ReportMetric(float64(first)/float64(total*fifth), "first-cpu-ns/record")
			b.ReportMetric(float64(last)/float64(total*fifth), "last-cpu-ns/record")
		})
	}
}
