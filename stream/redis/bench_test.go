package redis

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

// The benchmarks compare Arus with go-redis doing the equivalent work by
// hand, in the same run, on the same server: 256-byte values with a record
// id and a timestamp, 8 partitions (streams), 8 concurrent producers
// sending 100 records per call, and 2 consumers of one group.
//
//	go test -run '^$' -bench . -benchtime 200000x ./stream/redis/
const (
	benchPartitions = 8
	benchProducers  = 8
	benchBatch      = 100
	benchConsumers  = 2
	benchValueSize  = 256
)

func benchRecords(n int) []*stream.Record {
	recs := make([]*stream.Record, n)
	for i := range recs {
		recs[i] = &stream.Record{Topic: "bench", Value: make([]byte, benchValueSize)}
	}
	return recs
}

// runProducers calls produce with batches of benchBatch record numbers from
// benchProducers goroutines until n records are done.
func runProducers(b *testing.B, n int, produce func(from, to int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchProducers {
		wg.Go(func() {
			for {
				from := int(next.Add(benchBatch)) - benchBatch
				if from >= n {
					return
				}
				if err := produce(from, min(from+benchBatch, n)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkProduce(b *testing.B) {
	b.Run("arus", func(b *testing.B) {
		ctx := context.Background()
		br := openBroker(b, benchConfig(b))
		if err := br.CreateTopic(ctx, stream.Topic{Name: "bench", Partitions: benchPartitions}); err != nil {
			b.Fatal(err)
		}
		recs := benchRecords(b.N)
		b.ResetTimer()
		runProducers(b, b.N, func(from, to int) error { return br.Produce(ctx, recs[from:to]...) })
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("raw", func(b *testing.B) {
		ctx := context.Background()
		c, prefix := rawClient(b)
		value := make([]byte, benchValueSize)
		b.ResetTimer()
		runProducers(b, b.N, rawProduce(ctx, c, value, func(i int) string { return prefix + ":" + strconv.Itoa(i%benchPartitions) }))
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

func BenchmarkConsume(b *testing.B) {
	b.Run("arus", func(b *testing.B) {
		benchConsumeArus(b, func(ctx context.Context, br *Broker, m int, count func(n int)) error {
			return br.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"bench"}, Member: fmt.Sprint("m", m)},
				func(ctx context.Context, batch []*stream.Record) error {
					count(len(batch))
					return nil
				})
		})
	})
	// Through the consumer runtime with its default configuration (retry
	// topics too) and a handler of one record at a time.
	b.Run("arus-runtime", func(b *testing.B) {
		benchConsumeArus(b, func(ctx context.Context, br *Broker, m int, count func(n int)) error {
			rt, err := consume.New(br, consume.Config{Group: "g", Topics: []string{"bench"}, Member: fmt.Sprint("m", m),
				Logger: quietLogger()})
			if err != nil {
				return err
			}
			return rt.Run(ctx, func(ctx context.Context, r *stream.Record) error {
				count(1)
				return nil
			})
		})
	})
	b.Run("raw", func(b *testing.B) {
		ctx := context.Background()
		c, prefix := rawClient(b)
		value := make([]byte, benchValueSize)
		streams := make([]string, 0, 2*benchPartitions)
		for p := range benchPartitions {
			streams = append(streams, prefix+":"+strconv.Itoa(p))
		}
		for _, s := range streams {
			if err := c.XGroupCreateMkStream(ctx, s, "g", "0").Err(); err != nil {
				b.Fatal(err)
			}
		}
		runProducers(b, b.N, rawProduce(ctx, c, value, func(i int) string { return streams[i%benchPartitions] }))
		for range benchPartitions {
			streams = append(streams, ">")
		}
		var handled atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		for m := range benchConsumers {
			wg.Go(func() {
				for handled.Load() < int64(b.N) {
					res, err := c.XReadGroup(ctx, &goredis.XReadGroupArgs{
						Group: "g", Consumer: fmt.Sprint("m", m), Streams: streams, Count: 500, Block: 100 * time.Millisecond,
					}).Result()
					if err == goredis.Nil {
						continue
					}
					if err != nil {
						b.Error(err)
						return
					}
					_, err = c.Pipelined(ctx, func(p goredis.Pipeliner) error {
						for _, s := range res {
							ids := make([]string, len(s.Messages))
							for i, msg := range s.Messages {
								ids[i] = msg.ID
							}
							p.XAck(ctx, s.Stream, "g", ids...)
							handled.Add(int64(len(ids)))
						}
						return nil
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// benchConsumeArus fills a topic with b.N records and times benchConsumers
// members of one group, each run by consume, until all are handled.
func benchConsumeArus(b *testing.B, consume func(ctx context.Context, br *Broker, member int, count func(n int)) error) {
	ctx := context.Background()
	br := openBroker(b, benchConfig(b))
	if err := br.CreateTopic(ctx, stream.Topic{Name: "bench", Partitions: benchPartitions}); err != nil {
		b.Fatal(err)
	}
	recs := benchRecords(b.N)
	runProducers(b, b.N, func(from, to int) error { return br.Produce(ctx, recs[from:to]...) })
	var handled atomic.Int64
	all := make(chan struct{})
	count := func(n int) {
		// Records delivered again (at least once) count too: all are
		// handled once the count crosses b.N.
		if h := handled.Add(int64(n)); h >= int64(b.N) && h-int64(n) < int64(b.N) {
			close(all)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	b.ResetTimer()
	for m := range benchConsumers {
		wg.Go(func() {
			if err := consume(cctx, br, m, count); err != nil {
				b.Error(err)
			}
		})
	}
	<-all
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	cancel()
	wg.Wait()
}

// rawProduce returns a producer for runProducers that stores records by
// hand with pipelined XADD: a timestamp, a record id and the value, record
// i in the stream streamOf(i).
func rawProduce(ctx context.Context, c *goredis.Client, value []byte, streamOf func(i int) string) func(from, to int) error {
	return func(from, to int) error {
		_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i := from; i < to; i++ {
				p.XAdd(ctx, &goredis.XAddArgs{
					Stream: streamOf(i),
					Values: []any{"t", time.Now().UnixNano(), "id", stream.NewID(), "v", value},
				})
			}
			return nil
		})
		return err
	}
}

func benchConfig(b *testing.B) Config {
	cfg := testConfig(b)
	cfg.LeaseTTL = 10 * time.Second
	return cfg
}

// rawClient returns a plain go-redis client and a fresh key prefix that is
// cleaned up after the benchmark.
func rawClient(b *testing.B) (*goredis.Client, string) {
	addr := testAddr(b)
	prefix := testPrefix(b, addr)
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	b.Cleanup(func() { _ = c.Close() })
	return c, prefix
}

// BenchmarkConsumeSideBySide consumes the same records, stored once by
// Arus, four ways in each iteration, one after the other so that all see
// the same load, the first of them changing from one iteration to the next:
// raw go-redis as an at-least-once consumer does it by hand (XREADGROUP and
// XACK on Arus's partition streams, in a Redis group of its own), raw
// go-redis reading with NOACK and acknowledging nothing (at most once: what
// the library can read at best, for scale), Arus's Consume, and Arus through
// the consumer runtime (default configuration, a handler of one record at a
// time). Each uses a new group per iteration and benchConsumers members,
// and is timed from its first record handled to its last. The ratios are
// Arus's throughput as a share of the at-least-once raw go-redis's, and the
// runtime's as a share of the NOACK reader's:
//
//	go test -run '^$' -bench ConsumeSideBySide -benchtime 5x ./stream/redis/
func BenchmarkConsumeSideBySide(b *testing.B) {
	const total = 100_000
	ctx := context.Background()
	br := openBroker(b, benchConfig(b))
	if err := br.CreateTopic(ctx, stream.Topic{Name: "bench", Partitions: benchPartitions}); err != nil {
		b.Fatal(err)
	}
	recs := benchRecords(total)
	runProducers(b, total, func(from, to int) error { return br.Produce(ctx, recs[from:to]...) })
	c := goredis.NewClient(&goredis.Options{Addr: br.cfg.Addr, MaxRetries: -1})
	defer c.Close()
	var streams []string
	for p := range int32(benchPartitions) {
		streams = append(streams, br.k.partition("bench", p))
	}
	// run starts benchConsumers members with member and waits until they
	// handled every record. It times from the first record handled to the
	// last, leaving out joining the group, which raw go-redis does before.
	run := func(member func(ctx context.Context, m int, count func(n int)) error) time.Duration {
		var handled, first atomic.Int64
		all := make(chan struct{})
		count := func(n int) {
			if first.Load() == 0 { // the clock is read once, not per record
				first.CompareAndSwap(0, time.Now().UnixNano())
			}
			if h := handled.Add(int64(n)); h >= total && h-int64(n) < total {
				close(all)
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for m := range benchConsumers {
			wg.Go(func() {
				if err := member(cctx, m, count); err != nil && cctx.Err() == nil {
					b.Error(err)
				}
			})
		}
		<-all
		d := time.Duration(time.Now().UnixNano() - first.Load())
		cancel()
		wg.Wait()
		return d
	}
	// raw is a raw go-redis member of group; with noAck it reads with
	// NOACK and acknowledges nothing.
	raw := func(group string, noAck bool) func(ctx context.Context, m int, count func(n int)) error {
		return func(ctx context.Context, m int, count func(n int)) error {
			args := append(append([]string(nil), streams...), make([]string, len(streams))...)
			for j := range streams {
				args[len(streams)+j] = ">"
			}
			for ctx.Err() == nil {
				res, err := c.XReadGroup(ctx, &goredis.XReadGroupArgs{
					Group: group, Consumer: fmt.Sprint("m", m), Streams: args, Count: 500, Block: 100 * time.Millisecond, NoAck: noAck,
				}).Result()
				if err == goredis.Nil {
					continue
				}
				if err != nil {
					return err
				}
				if !noAck {
					_, err = c.Pipelined(ctx, func(p goredis.Pipeliner) error {
						for _, s := range res {
							ids := make([]string, len(s.Messages))
							for i, msg := range s.Messages {
								ids[i] = msg.ID
							}
							p.XAck(ctx, s.Stream, group, ids...)
						}
						return nil
					})
					if err != nil {
						return err
					}
				}
				for _, s := range res {
					count(len(s.Messages))
				}
			}
			return nil
		}
	}
	sides := []struct {
		name string
		took time.Duration
		run  func(i int) func(ctx context.Context, m int, count func(n int)) error
	}{
		{name: "raw", run: func(i int) func(ctx context.Context, m int, count func(n int)) error {
			return raw(fmt.Sprintf("raw-%d", i), false)
		}},
		{name: "raw-noack", run: func(i int) func(ctx context.Context, m int, count func(n int)) error {
			return raw(fmt.Sprintf("raw-noack-%d", i), true)
		}},
		{name: "arus", run: func(i int) func(ctx context.Context, m int, count func(n int)) error {
			return func(ctx context.Context, m int, count func(n int)) error {
				return br.Consume(ctx, stream.ConsumerConfig{Group: fmt.Sprintf("bare-%d", i), Topics: []string{"bench"}, Member: fmt.Sprint("m", m)},
					func(ctx context.Context, batch []*stream.Record) error {
						count(len(batch))
						return nil
					})
			}
		}},
		{name: "runtime", run: func(i int) func(ctx context.Context, m int, count func(n int)) error {
			return func(ctx context.Context, m int, count func(n int)) error {
				r, err := consume.New(br, consume.Config{Group: fmt.Sprintf("runtime-%d", i), Topics: []string{"bench"},
					Member: fmt.Sprint("m", m), Logger: quietLogger()})
				if err != nil {
					return err
				}
				return r.Run(ctx, func(ctx context.Context, r *stream.Record) error {
					count(1)
					return nil
				})
			}
		}},
	}
	for i := range b.N {
		for _, s := range streams {
			for _, g := range []string{fmt.Sprintf("raw-%d", i), fmt.Sprintf("raw-noack-%d", i)} {
				if err := c.XGroupCreate(ctx, s, g, "0").Err(); err != nil {
					b.Fatal(err)
				}
			}
		}
		for k := range sides {
			s := &sides[(i+k)%len(sides)]
			s.took += run(s.run(i))
		}
	}
	n := float64(total * b.N)
	for _, s := range sides {
		b.ReportMetric(n/s.took.Seconds(), s.name+"-records/s")
	}
	b.ReportMetric(sides[0].took.Seconds()/sides[2].took.Seconds(), "arus/raw")
	b.ReportMetric(sides[0].took.Seconds()/sides[3].took.Seconds(), "runtime/raw")
	b.ReportMetric(sides[1].took.Seconds()/sides[3].took.Seconds(), "runtime/raw-noack")
}

// BenchmarkProduceSideBySide produces 100,000 records per iteration with raw
// go-redis (pipelined XADD of the same fields as BenchmarkProduce/raw) and
// then with Arus, one after the other so that both see the same load; the
// ratio is Arus's throughput as a share of raw go-redis's:
//
//	go test -run '^$' -bench ProduceSideBySide -benchtime 5x ./stream/redis/
func BenchmarkProduceSideBySide(b *testing.B) {
	const total = 100_000
	ctx := context.Background()
	br := openBroker(b, benchConfig(b))
	if err := br.CreateTopic(ctx, stream.Topic{Name: "bench", Partitions: benchPartitions}); err != nil {
		b.Fatal(err)
	}
	c, prefix := rawClient(b)
	value := make([]byte, benchValueSize)
	var raw, arus time.Duration
	for range b.N {
		start := time.Now()
		runProducers(b, total, rawProduce(ctx, c, value, func(i int) string { return prefix + ":" + strconv.Itoa(i%benchPartitions) }))
		raw += time.Since(start)
		recs := benchRecords(total)
		start = time.Now()
		runProducers(b, total, func(from, to int) error { return br.Produce(ctx, recs[from:to]...) })
		arus += time.Since(start)
	}
	n := float64(total * b.N)
	b.ReportMetric(n/raw.Seconds(), "raw-records/s")
	b.ReportMetric(n/arus.Seconds(), "arus-records/s")
	b.ReportMetric(raw.Seconds()/arus.Seconds(), "arus/raw")
}
