package kafka

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
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
//	go test -run '^$' -bench VersusFranzGo -benchtime 1000000x ./stream/kafka
//
// b.N is the number of records per round (256 B each, 1024 keys, over 2
// partitions); 8 producers make calls of 100 records; then 2 members of a
// group consume them all, sideReads times with a fresh group each, so that
// a consume phase lasts seconds rather than a fraction of one. The raw
// client produces and consumes twice: as is, and stamping each record with
// an arus-id header as the contract makes Arus do. A third raw side
// ("franz-go@arus") reads the very topic Arus produced, each read right
// after Arus's own, with its own group: the library underneath doing the
// job Arus does, which is the like-for-like consume comparison. All use
// the same group balancers. "stall" is the longest time between two
// deliveries in either member once records are flowing: a consumer that
// stops polling, drops a fetch or waits for a rebalance shows there.
const (
	sideRounds     = 3
	sideReads      = 3
	sidePartitions = 2
	sideMembers    = 2
	sideHeartbeat  = 100 * time.Millisecond // how soon a member learns of a joiner, both sides
)

// sideResult holds one round of one side: records/s, process CPU time per
// record (the broker's share included: it runs in the same process), the
// longest gap between deliveries and the time to the first record, in
// milliseconds.
type sideResult struct{ produce, consume, produceCPU, consumeCPU, stall, join float64 }

// cpuTime returns the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A sideMember runs one group member until ctx ends, calling deliver with
// the number of records of each delivery.
type sideMember func(ctx context.Context, group string, deliver func(k int)) error

func BenchmarkVersusFranzGo(b *testing.B) {
	if b.N < 1000 {
		return // the probe run; -benchtime 1000000x sets the count
	}
	c := newCluster(b, kfake.NumBrokers(1))
	cfg := Config{Brokers: c.ListenAddrs(), HeartbeatInterval: sideHeartbeat, Options: stream.Options{Logger: testLogger()}}
	br := openBroker(b, cfg)
	keys, value := benchData()
	sides := []string{"franz-go", "franz-go+id", "arus", "franz-go@arus"}
	results := make(map[string][]sideResult)
	for round := range sideRounds {
		for _, side := range sides[:3] {
			topic := fmt.Sprintf("side-%s-%d", strings.ReplaceAll(side, "+", "-"), round)
			if err := br.CreateTopic(context.Background(), stream.Topic{Name: topic, Partitions: sidePartitions}); err != nil {
				b.Fatal(err)
			}
			rs := map[string]*sideResult{side: {}}
			switch side {
			case "arus":
				rs["franz-go@arus"] = &sideResult{}
				sideProduce(b, rs[side], arusProducer(br, topic, keys, value))
				sideConsume(b, topic, map[string]*sideResult{"arus": rs["arus"], "franz-go@arus": rs["franz-go@arus"]},
					map[string]sideMember{"arus": arusMember(br, topic), "franz-go@arus": rawMember(c, br, topic)})
			default:
				prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(DefaultLinger),
					kgo.ProducerBatchCompression(codecs[br.cfg.Compression]()),
					kgo.MaxBufferedRecords(1<<16), kgo.ProducerBatchMaxBytes(br.neededMaxMessage()))
				if err != nil {
					b.Fatal(err)
				}
				sideProduce(b, rs[side], rawProducer(prod, topic, keys, value, side == "franz-go+id"))
				prod.Close()
				sideConsume(b, topic, rs, map[string]sideMember{side: rawMember(c, br, topic)})
			}
			for _, name := range sides {
				if r := rs[name]; r != nil {
					results[name] = append(results[name], *r)
					b.Logf("round %d %-13s produce %8.0f/s (%5.0f cpu-ns/rec) consume %8.0f/s (%5.0f cpu-ns/rec) stall %4.0f ms, first record after %4.0f ms",
						round+1, name, r.produce, r.produceCPU, r.consume, r.consumeCPU, r.stall, r.join)
				}
			}
			// kfake keeps every record in memory.
			if err := br.DeleteTopic(context.Background(), topic); err != nil {
				b.Fatal(err)
			}
		}
	}
	a, f, fid, fa := sideMedian(results["arus"]), sideMedian(results["franz-go"]), sideMedian(results["franz-go+id"]), sideMedian(results["franz-go@arus"])
	b.Logf("medians: produce %.0f/s vs %.0f/s raw (%.2f), %.0f/s with ids (%.2f)",
		a.produce, f.produce, a.produce/f.produce, fid.produce, a.produce/fid.produce)
	b.Logf("medians: consume %.0f/s (%.0f cpu-ns/rec) vs raw %.0f/s (%.2f, %.0f ns), raw with ids %.0f/s (%.2f, %.0f ns), raw on Arus's records %.0f/s (%.2f, %.0f ns); stall %.0f ms vs %.0f ms",
		a.consume, a.consumeCPU, f.consume, a.consume/f.consume, f.consumeCPU, fid.consume, a.consume/fid.consume, fid.consumeCPU,
		fa.consume, a.consume/fa.consume, fa.consumeCPU, a.stall, fa.stall)
	b.ReportMetric(a.produce, "arus-produce/s")
	b.ReportMetric(f.produce, "raw-produce/s")
	b.ReportMetric(a.produce/f.produce, "produce-ratio")
	b.ReportMetric(a.produce/fid.produce, "produce-ratio-vs-id")
	b.ReportMetric(a.produceCPU/f.produceCPU, "produce-cpu-ratio")
	// Arus and franz-go@arus take turns reading the same topic, so the
	// ratio within a round is the one least moved by a busy machine.
	var ratios, cpuRatios []float64
	for i, r := range results["arus"] {
		raw := results["franz-go@arus"][i]
		ratios = append(ratios, r.consume/raw.consume)
		cpuRatios = append(cpuRatios, r.consumeCPU/raw.consumeCPU)
	}
	slices.Sort(ratios)
	slices.Sort(cpuRatios)
	b.Logf("consume vs raw on Arus's records, per round: %.2f (%.2f–%.2f), CPU per record %.2f× (%.2f–%.2f×)",
		ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1], cpuRatios[len(cpuRatios)/2], cpuRatios[0], cpuRatios[len(cpuRatios)-1])
	b.ReportMetric(a.consume, "arus-consume/s")
	b.ReportMetric(fa.consume, "raw-consume/s")
	b.ReportMetric(ratios[len(ratios)/2], "consume-ratio")
	b.ReportMetric(cpuRatios[len(cpuRatios)/2], "consume-cpu-ratio")
	b.ReportMetric(a.consume/f.consume, "consume-ratio-vs-bare")
	b.ReportMetric(a.consume/fid.consume, "consume-ratio-vs-id")
	b.ReportMetric(a.stall, "arus-stall-ms")
	b.ReportMetric(fa.stall, "raw-stall-ms")
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
	start time.Time // when the members were started
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

// sideProduce produces b.N records from 8 goroutines in calls of 100 and
// records the rate and CPU per record in r.
func sideProduce(b *testing.B, r *sideResult, produce func(ctx context.Context, first, k int) error) {
	ctx := context.Background()
	start, cpu := time.Now(), cpuTime()
	if err := produceSplit(b.N, func(_, first, k int) error { return produce(ctx, first, k) }); err != nil {
		b.Fatal(err)
	}
	r.produce = float64(b.N) / time.Since(start).Seconds()
	r.produceCPU = float64(cpuTime()-cpu) / float64(b.N)
}

// sideConsume reads the b.N records of topic sideReads times with each
// member kind, taking turns, each read by sideMembers members of a fresh
// group, and records the rate and CPU per record over all reads, the
// longest stall and the mean time to the first record in rs.
func sideConsume(b *testing.B, topic string, rs map[string]*sideResult, members map[string]sideMember) {
	names := slices.Sorted(maps.Keys(members))
	elapsed := make(map[string]time.Duration)
	cpus := make(map[string]time.Duration)
	for read := range sideReads {
		for _, name := range names {
			group := fmt.Sprintf("%s-%s-%d", topic, name, read)
			took, cpu, gaps := sideRead(b, group, members[name])
			elapsed[name] += took
			cpus[name] += cpu
			r := rs[name]
			r.stall = max(r.stall, float64(gaps.max.Milliseconds()))
			r.join += float64(gaps.first.Sub(gaps.start).Milliseconds()) / sideReads
		}
	}
	for _, name := range names {
		n := float64(b.N * sideReads)
		rs[name].consume = n / elapsed[name].Seconds()
		rs[name].consumeCPU = float64(cpus[name]) / n
	}
}

// sideRead reads b.N records once with sideMembers members of group. The
// first member starts alone and the others join once it has delivered
// records, so that every read has the same shape: one member takes all
// partitions, then a rebalance shares them out while records flow. (Members
// started together race: when one finishes joining before the other asks,
// it reads everything alone until its next heartbeat.)
func sideRead(b *testing.B, group string, member sideMember) (time.Duration, time.Duration, *gapMeter) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, count := countTo(b.N)
	gaps := &gapMeter{}
	flowing := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	start, cpu := time.Now(), cpuTime()
	gaps.start = start
	for m := range sideMembers {
		if m == 1 {
			select {
			case <-flowing:
			case <-done:
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := member(ctx, group, func(k int) {
				gaps.tick()
				once.Do(func() { close(flowing) })
				count(k)
			}); err != nil {
				b.Error(err)
			}
		}()
	}
	<-done
	took, used := time.Since(start), cpuTime()-cpu
	cancel()
	wg.Wait()
	return took, used, gaps
}

func arusProducer(br *Broker, topic string, keys [][]byte, value []byte) func(ctx context.Context, first, k int) error {
	return func(ctx context.Context, first, k int) error {
		recs := make([]*stream.Record, k)
		for i := range recs {
			recs[i] = &stream.Record{Topic: topic, Key: keys[(first+i)%benchKeys], Value: value}
		}
		return br.Produce(ctx, recs...)
	}
}

func arusMember(br *Broker, topic string) sideMember {
	return func(ctx context.Context, group string, deliver func(int)) error {
		return br.Consume(ctx, stream.ConsumerConfig{Group: group, Topics: []string{topic}},
			func(_ context.Context, batch []*stream.Record) error {
				deliver(len(batch))
				return nil
			})
	}
}

// rawProducer produces with the raw client, optionally stamping the
// arus-id header as Arus does.
func rawProducer(prod *kgo.Client, topic string, keys [][]byte, value []byte, withID bool) func(ctx context.Context, first, k int) error {
	return func(ctx context.Context, first, k int) error {
		recs := make([]*kgo.Record, k)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Key: keys[(first+i)%benchKeys], Value: value}
			if withID {
				recs[i].Headers = []kgo.RecordHeader{{Key: stream.HeaderID, Value: []byte(stream.NewID())}}
			}
		}
		return prod.ProduceSync(ctx, recs...).FirstErr()
	}
}

// rawMember runs a raw group member with Arus's balancers.
func rawMember(c *kfake.Cluster, br *Broker, topic string) sideMember {
	return func(ctx context.Context, group string, deliver func(int)) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.Balancers(br.cfg.groupBalancers()...),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.HeartbeatInterval(sideHeartbeat))
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
	}
}
