package kafka

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-platform/arus/stream"
)

// The benchmarks compare Arus with the raw franz-go client doing the same
// work against the same in-process cluster, so that the ratio of their
// records/s shows what the stream layer costs:
//
//	go test -run '^$' -bench . -benchtime 1000000x ./stream/kafka
const (
	benchProducers  = 8
	benchPerCall    = 100 // records per Produce call
	benchValueBytes = 256
	benchPartitions = 8
	benchKeys       = 1024
)

func benchData() (keys [][]byte, value []byte) {
	value = make([]byte, benchValueBytes)
	_, _ = rand.Read(value)
	for i := range benchKeys {
		keys = append(keys, []byte(fmt.Sprintf("key-%05d", i)))
	}
	return keys, value
}

// produceSplit runs fn on benchProducers goroutines, each for its share of
// n records in calls of benchPerCall, and returns the first error.
func produceSplit(n int, fn func(worker, start, count int) error) error {
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	per := (n + benchProducers - 1) / benchProducers
	for w := range benchProducers {
		start, end := w*per, min((w+1)*per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start; i < end; i += benchPerCall {
				if err := fn(w, i, min(benchPerCall, end-i)); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func reportRate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkProduce produces 256-byte values with keys from 8 goroutines in
// calls of 100 records, each call waiting for acks=all. The cluster
// acknowledges without storing (kfake.BlackholeProduce), so that the
// client's cost is what is measured.
func BenchmarkProduce(b *testing.B) {
	keys, value := benchData()
	b.Run("arus", func(b *testing.B) {
		c := newCluster(b, kfake.BlackholeProduce())
		br := openBroker(b, testConfig(c))
		ctx := context.Background()
		if err := br.CreateTopic(ctx, stream.Topic{Name: "bench", Partitions: benchPartitions}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		err := produceSplit(b.N, func(_, first, n int) error {
			recs := make([]*stream.Record, n)
			for i := range recs {
				recs[i] = &stream.Record{Topic: "bench", Key: keys[(first+i)%benchKeys], Value: value}
			}
			return br.Produce(ctx, recs...)
		})
		if err != nil {
			b.Fatal(err)
		}
		reportRate(b, start)
	})
	// The raw client as is, and stamping each record with a UUIDv7 id
	// header as Arus does (the contract's arus-id), which is the fairer
	// comparison.
	for _, withID := range []bool{false, true} {
		name := "franz-go"
		if withID {
			name = "franz-go-with-id"
		}
		b.Run(name, func(b *testing.B) {
			c := newCluster(b, kfake.BlackholeProduce())
			br := openBroker(b, testConfig(c)) // only to create the topic the same way
			ctx := context.Background()
			if err := br.CreateTopic(ctx, stream.Topic{Name: "bench", Partitions: benchPartitions}); err != nil {
				b.Fatal(err)
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(DefaultLinger),
				kgo.MaxBufferedRecords(1<<16), kgo.ProducerBatchMaxBytes(br.neededMaxMessage()))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			err = produceSplit(b.N, func(_, first, n int) error {
				recs := make([]*kgo.Record, n)
				for i := range recs {
					recs[i] = &kgo.Record{Topic: "bench", Key: keys[(first+i)%benchKeys], Value: value}
					if withID {
						recs[i].Headers = []kgo.RecordHeader{{Key: stream.HeaderID, Value: []byte(uuid.Must(uuid.NewV7()).String())}}
					}
				}
				return cl.ProduceSync(ctx, recs...).FirstErr()
			})
			if err != nil {
				b.Fatal(err)
			}
			reportRate(b, start)
		})
	}
}

// fillTopic stores n keyed 256-byte records in a new topic with the raw
// client, outside the timed part of a benchmark.
func fillTopic(b testing.TB, c *kfake.Cluster, br *Broker, topic string, n int) {
	b.Helper()
	keys, value := benchData()
	ctx := context.Background()
	if err := br.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: benchPartitions}); err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(br.neededMaxMessage()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var failed atomic.Value
	for i := range n {
		r := &kgo.Record{Topic: topic, Key: keys[i%benchKeys], Value: value}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConsume consumes b.N stored 256-byte records with one and with
// two members of a group, from joining until the last record was handled.
// Arus commits what its handler finished every CommitInterval; franz-go
// autocommits. With two members the time includes the rebalance that
// gives the second member its partitions.
func BenchmarkConsume(b *testing.B) {
	for _, members := range []int{1, 2} {
		b.Run(fmt.Sprintf("arus/members=%d", members), func(b *testing.B) {
			c := newCluster(b)
			br := openBroker(b, testConfig(c))
			fillTopic(b, c, br, "bench", b.N)
			done, count := countTo(b.N)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range members {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := br.Consume(ctx, stream.ConsumerConfig{Group: "bench", Topics: []string{"bench"}},
						func(_ context.Context, batch []*stream.Record) error {
							count(len(batch))
							return nil
						})
					if err != nil {
						b.Error(err)
					}
				}()
			}
			<-done
			reportRate(b, start)
			b.StopTimer()
			cancel()
			wg.Wait()
		})
		b.Run(fmt.Sprintf("franz-go/members=%d", members), func(b *testing.B) {
			c := newCluster(b)
			br := openBroker(b, testConfig(c))
			fillTopic(b, c, br, "bench", b.N)
			done, count := countTo(b.N)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range members {
				cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
					kgo.ConsumerGroup("bench"), kgo.ConsumeTopics("bench"),
					kgo.Balancers(kgo.CooperativeStickyBalancer()),
					kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
					kgo.HeartbeatInterval(100*time.Millisecond), kgo.FetchMaxWait(DefaultFetchMaxWait))
				if err != nil {
					b.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer cl.Close()
					for ctx.Err() == nil {
						count(cl.PollFetches(ctx).NumRecords())
					}
				}()
			}
			<-done
			reportRate(b, start)
			b.StopTimer()
			cancel()
			wg.Wait()
		})
	}
}

// countTo returns a channel closed once count has been called with n
// records in all (duplicates after a rebalance count too).
func countTo(n int) (<-chan struct{}, func(int)) {
	var (
		handled atomic.Int64
		once    sync.Once
		done    = make(chan struct{})
	)
	return done, func(k int) {
		if k > 0 && handled.Add(int64(k)) >= int64(n) {
			once.Do(func() { close(done) })
		}
	}
}
