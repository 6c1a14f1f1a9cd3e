package kafkawire

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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
		start := time.Now()
		nativeProduce(b, s.broker(), "native", b.N)
		native := rate(b.N, time.Since(start))
		start = time.Now()
		kafkaProduce(b, cl, "kafka", b.N)
		kafka := rate(b.N, time.Since(start))
		b.StopTimer()
		b.ReportMetric(native, "native-records/s")
		b.ReportMetric(kafka, "kafka-records/s")
		b.ReportMetric(kafka/native, "ratio")
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

		start := time.Now()
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
		native := rate(b.N, time.Since(start))

		start = time.Now()
		for n := 0; n < b.N; {
			fs := cl.PollFetches(ctx)
			fs.EachError(func(topic string, p int32, err error) { b.Fatalf("fetch %s/%d: %v", topic, p, err) })
			n += fs.NumRecords()
		}
		kafka := rate(b.N, time.Since(start))
		b.StopTimer()
		b.ReportMetric(native, "native-records/s")
		b.ReportMetric(kafka, "kafka-records/s")
		b.ReportMetric(kafka/native, "ratio")
	})
}
