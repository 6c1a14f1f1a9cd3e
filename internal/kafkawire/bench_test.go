package kafkawire

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-platform/arus/stream"
)

// benchValue is the value size of the benchmarks, as in the embedded log's.
const benchValue = 256

// nativeProduce writes n records with 8 concurrent producers of 100
// records per call, as the embedded log's own produce benchmark does.
func nativeProduce(b *testing.B, br stream.Producer, topic string, n int) {
	value := make([]byte, benchValue)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			recs := make([]*stream.Record, 0, 100)
			for {
				first := next.Add(100) - 100
				if first >= int64(n) {
					return
				}
				recs = recs[:0]
				for i := first; i < min(first+100, int64(n)); i++ {
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

// kafkaProduce writes n records through franz-go (acks=all, idempotent)
// with 8 goroutines handing records to one client, which batches them per
// partition, and waits for every acknowledgement.
func kafkaProduce(b *testing.B, cl *kgo.Client, topic string, n int) {
	value := make([]byte, benchValue)
	var next atomic.Int64
	var wg, acks sync.WaitGroup
	acks.Add(n)
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", i%1000), Value: value}
				cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
					if err != nil {
						b.Error(err)
					}
					acks.Done()
				})
			}
		})
	}
	wg.Wait()
	acks.Wait()
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// cpuTime returns the user and system CPU time the process used so far.
// Client and server share the process, so per record it is what both sides
// cost together, steadier than throughput on a busy machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report reports both rates, their ratio and the CPU per record of each.
func report(b *testing.B, native, kafka float64, nativeCPU, kafkaCPU time.Duration) {
	b.ReportMetric(native, "native-records/s")
	b.ReportMetric(kafka, "kafka-records/s")
	b.ReportMetric(kafka/native, "ratio")
	b.ReportMetric(float64(nativeCPU.Nanoseconds())/float64(b.N), "native-cpu-ns/record")
	b.ReportMetric(float64(kafkaCPU.Nanoseconds())/float64(b.N), "kafka-cpu-ns/record")
}

// BenchmarkKafkaVersusNative measures, in one run on the same machine,
// franz-go over loopback against the listener and the embedded log's own
// API, producing and consuming 256-byte records on a topic of 4
// partitions, and reports both rates and their ratio (Kafka / native).
func BenchmarkKafkaVersusNative(b *testing.B) {
	b.Run("produce", func(b *testing.B) {
		s := startServer(b)
		ctx := context.Background()
		for _, t := range []string{"native", "kafka"} {
			if err := s.broker().CreateTopic(ctx, stream.Topic{Name: t, Partitions: 4}); err != nil {
				b.Fatal(err)
			}
		}
		cl := newClient(b, s.addr, kgo.ProducerLinger(time.Millisecond), kgo.MaxBufferedRecords(1<<16))
		if err := cl.Ping(ctx); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start, cpu := time.Now(), cpuTime()
		nativeProduce(b, s.broker(), "native", b.N)
		native, nativeCPU := rate(b.N, time.Since(start)), cpuTime()-cpu
		start, cpu = time.Now(), cpuTime()
		kafkaProduce(b, cl, "kafka", b.N)
		kafka, kafkaCPU := rate(b.N, time.Since(start)), cpuTime()-cpu
		b.StopTimer()
		report(b, native, kafka, nativeCPU, kafkaCPU)
	})
	b.Run("consume", func(b *testing.B) {
		s := startServer(b)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := s.broker().CreateTopic(ctx, stream.Topic{Name: "filled", Partitions: 4}); err != nil {
			b.Fatal(err)
		}
		nativeProduce(b, s.broker(), "filled", b.N)
		cl := newClient(b, s.addr, kgo.ConsumerGroup("kafka"), kgo.ConsumeTopics("filled"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(16<<20))
		b.ResetTimer()

		start, cpu := time.Now(), cpuTime()
		var got atomic.Int64
		done := make(chan struct{})
		go func() {
			err := s.broker().Consume(ctx, stream.ConsumerConfig{Group: "native", Topics: []string{"filled"}},
				func(_ context.Context, batch []*stream.Record) error {
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
		native, nativeCPU := rate(b.N, time.Since(start)), cpuTime()-cpu

		start, cpu = time.Now(), cpuTime()
		for n := 0; n < b.N; {
			fs := cl.PollFetches(ctx)
			fs.EachError(func(topic string, p int32, err error) { b.Fatalf("fetch %s/%d: %v", topic, p, err) })
			n += fs.NumRecords()
		}
		kafka, kafkaCPU := rate(b.N, time.Since(start)), cpuTime()-cpu
		b.StopTimer()
		report(b, native, kafka, nativeCPU, kafkaCPU)
	})
}
