package kafka

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// Side-by-side run: raw franz-go and Arus against one in-process broker,
// the same work for both, three rounds each, medians and ratios reported.
//
//	go test -run '^$' -bench VersusFranzGo -benchtime 200000x ./stream/kafka
//
// b.N is the number of records per round (256 B each, 1024 keys, over 2
// partitions); 8 producers make calls of 100 records; then 2 members of a
// group consume them all. The raw client runs twice: as is, and stamping
// each record with an arus-id header as the contract makes Arus do, which
// is the like-for-like comparison. Both sides use the same group
// balancers. "stall" is the longest time between two
// deliveries in either member once records are flowing: a consumer that
// stops polling, drops a fetch or waits for a rebalance shows there.
const (
	sideRounds     = 3
	sidePartitions = 2
	sideMembers    = 2
)

// sideResult holds one round of one side: records/s, process CPU time per
// record (the broker's share included: it runs in the same process) and
// the longest gap between deliveries in milliseconds.
type sideResult struct{ produce, consume, produceCPU, consumeCPU, stall, join float64 }

// cpuTime returns the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkVersusFranzGo(b *testing.B) {
	if b.N < 1000 {
		return // the probe run; -benchtime 200000x sets the count
	}
	c := newCluster(b, kfake.NumBrokers(1))
	cfg := Config{Brokers: c.ListenAddrs(), Options: stream.Options{Logger: testLogger()}}
	br := openBroker(b, cfg)
	keys, value := benchData()
	var arus, raw, rawID []sideResult
	for round := range sideRounds {
		for _, side := range []string{"franz-go", "franz-go+id", "arus"} {
			topic := fmt.Sprintf("side-%s-%d", strings.ReplaceAll(side, "+", "-"), round)
			if err := br.CreateTopic(context.Background(), stream.Topic{Name: topic, Partitions: sidePartitions}); err != nil {
				b.Fatal(err)
			}
			var r sideResult
			switch side {
			case "arus":
				r = sideArus(b, br, topic, keys, value)
				arus = append(arus, r)
			case "franz-go":
				r = sideRaw(b, c, br, topic, keys, value, false)
				raw = append(raw, r)
			default:
				r = sideRaw(b, c, br, topic, keys, value, true)
				rawID = append(rawID, r)
			}
			b.Logf("round %d %-11s produce %8.0f/s (%5.0f cpu-ns/rec) consume %8.0f/s (%5.0f cpu-ns/rec) stall %4.0f ms, first record after %4.0f ms",
				round+1, side, r.produce, r.produceCPU, r.consume, r.consumeCPU, r.stall, r.join)
		}
	}
	a, f, fid := sideMedian(arus), sideMedian(raw), sideMedian(rawID)
	b.Logf("medians: produce %.0f/s vs %.0f/s raw (%.2f), %.0f/s with ids (%.2f); consume %.0f/s vs %.0f/s raw (%.2f), %.0f/s with ids (%.2f); stall %.0f ms vs %.0f ms",
		a.produce, f.produce, a.produce/f.produce, fid.produce, a.produce/fid.produce,
		a.consume, f.consume, a.consume/f.consume, fid.consume, a.consume/fid.consume, a.stall, f.stall)
	b.ReportMetric(a.produce, "arus-produce/s")
	b.ReportMetric(f.produce, "raw-produce/s")
	b.ReportMetric(a.produce/f.produce, "produce-ratio")
	b.ReportMetric(a.consume, "arus-consume/s")
	b.ReportMetric(f.consume, "raw-consume/s")
	b.ReportMetric(a.consume/f.consume, "consume-ratio")
	b.ReportMetric(a.produce/fid.produce, "produce-ratio-vs-id")
	b.ReportMetric(a.consume/fid.consume, "consume-ratio-vs-id")
	b.ReportMetric(a.produceCPU/f.produceCPU, "produce-cpu-ratio")
	b.ReportMetric(a.consumeCPU/f.consumeCPU, "consume-cpu-ratio")
	b.ReportMetric(a.stall, "arus-stall-ms")
	b.ReportMetric(f.stall, "raw-stall-ms")
}

func sideMedian(rs []sideResult) sideResult {
	med := func(get func(sideResult) float64) float64 {
		vs := make([]float64, len(rs))
		for i, r := range rs {
			vs[i] = get(r)
		}
		slices.Sort(vs)
		return vs[len(vs)/2]
	}
	return sideResult{
		produce: med(func(r sideResult) float64 { return r.produce }),
		consume: med(func(r sideResult) float64 { return r.consume }),
		stall:   med(func(r sideResult) float64 { return r.stall }),

		produceCPU: med(func(r sideResult) float64 { return r.produceCPU }),
		consumeCPU: med(func(r sideResult) float64 { return r.consumeCPU }),
	}
}

// gapMeter records the longest time between two deliveries.
type gapMeter struct {
	mu    sync.Mutex
	first time.Time
	last  time.Time
	max   time.Duration
}

func (g *gapMeter) tick() {
	now := time.Now()
	g.mu.Lock()
	if !g.last.IsZero() {
		g.max = max(g.max, now.Sub(g.last))
	} else {
		g.first = now
	}
	g.last = now
	g.mu.Unlock()
}

// sideRun measures one side: b.N records produced by produce from 8
// goroutines in calls of 100, then consumed by sideMembers members, each
// run by member until its ctx ends and calling deliver with the number of
// records it got.
func sideRun(b *testing.B, produce func(ctx context.Context, first, k int) error,
	member func(ctx context.Context, deliver func(k int)) error) sideResult {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := b.N
	var r sideResult
	start, cpu := time.Now(), cpuTime()
	if err := produceSplit(n, func(_, first, k int) error { return produce(ctx, first, k) }); err != nil {
		b.Fatal(err)
	}
	r.produce = float64(n) / time.Since(start).Seconds()
	r.produceCPU = float64(cpuTime()-cpu) / float64(n)

	done, count := countTo(n)
	var gaps gapMeter
	var wg sync.WaitGroup
	start, cpu = time.Now(), cpuTime()
	for range sideMembers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := member(ctx, func(k int) { gaps.tick(); count(k) }); err != nil {
				b.Error(err)
			}
		}()
	}
	<-done
	r.consume = float64(n) / time.Since(start).Seconds()
	r.consumeCPU = float64(cpuTime()-cpu) / float64(n)
	r.stall = float64(gaps.max.Milliseconds())
	r.join = float64(gaps.first.Sub(start).Milliseconds())
	cancel()
	wg.Wait()
	return r
}

func sideArus(b *testing.B, br *Broker, topic string, keys [][]byte, value []byte) sideResult {
	return sideRun(b, func(ctx context.Context, first, k int) error {
		recs := make([]*stream.Record, k)
		for i := range recs {
			recs[i] = &stream.Record{Topic: topic, Key: keys[(first+i)%benchKeys], Value: value}
		}
		return br.Produce(ctx, recs...)
	}, func(ctx context.Context, deliver func(int)) error {
		return br.Consume(ctx, stream.ConsumerConfig{Group: topic, Topics: []string{topic}},
			func(_ context.Context, batch []*stream.Record) error {
				deliver(len(batch))
				return nil
			})
	})
}

// sideRaw runs the raw client with Arus's compression and balancers.
func sideRaw(b *testing.B, c *kfake.Cluster, br *Broker, topic string, keys [][]byte, value []byte, withID bool) sideResult {
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(DefaultLinger),
		kgo.ProducerBatchCompression(codecs[br.cfg.Compression]()),
		kgo.MaxBufferedRecords(1<<16), kgo.ProducerBatchMaxBytes(br.neededMaxMessage()))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	return sideRun(b, func(ctx context.Context, first, k int) error {
		recs := make([]*kgo.Record, k)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Key: keys[(first+i)%benchKeys], Value: value}
			if withID {
				recs[i].Headers = []kgo.RecordHeader{{Key: stream.HeaderID, Value: []byte(stream.NewID())}}
			}
		}
		return prod.ProduceSync(ctx, recs...).FirstErr()
	}, func(ctx context.Context, deliver func(int)) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
			kgo.ConsumerGroup(topic), kgo.ConsumeTopics(topic),
			kgo.Balancers(br.cfg.groupBalancers()...),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			return err
		}
		defer cl.Close()
		for ctx.Err() == nil {
			if k := cl.PollFetches(ctx).NumRecords(); k > 0 {
				deliver(k)
			}
		}
		return nil
	})
}
