package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-platform/arus/stream"
)

// BenchmarkWorker measures what Arus adds to each fetched record, without
// a cluster: fetches of 3,000 records (256 B values, an arus-id header) are
// pushed to a partition worker the way the poll loop does, and the worker
// hands them to a handler that only counts, in batches of MaxBatch. ns/op,
// cpu-ns/op (the process's CPU time, steadier on a busy machine), B/op and
// allocs/op are per record.
func BenchmarkWorker(b *testing.B) {
	const perFetch = 3000
	keys, value := benchData()
	fetches := make([][]*kgo.Record, 8)
	offset := int64(0)
	for i := range fetches {
		fetches[i] = make([]*kgo.Record, perFetch)
		for j := range fetches[i] {
			fetches[i][j] = &kgo.Record{Topic: "bench", Partition: 0, Offset: offset, Key: keys[j%benchKeys], Value: value,
				Headers:   []kgo.RecordHeader{{Key: stream.HeaderID, Value: []byte(stream.NewID())}},
				Timestamp: time.Now()}
			offset++
		}
	}
	cfg := stream.ConsumerConfig{Group: "bench", Topics: []string{"bench"}}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	handled := make(chan struct{}, 1)
	var seen, want int
	c := &consumer{
		b:   &Broker{cfg: Config{CommitInterval: DefaultCommitInterval}},
		cfg: cfg,
		h: func(_ context.Context, batch []*stream.Record) error {
			seen += len(batch)
			if seen >= want {
				handled <- struct{}{}
			}
			return nil
		},
		log:       testLogger(),
		workers:   make(map[topicPartition]*worker),
		commitReq: make(chan struct{}, 1),
		maxRecs:   max(4*cfg.MaxBatch, minBufferedRecords),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := c.worker(ctx, "bench", 0)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for pushed := 0; pushed < b.N; {
		k := min(perFetch, b.N-pushed)
		want = pushed + k
		w.push(fetches[(pushed/perFetch)%len(fetches)][:k])
		pushed += k
		<-handled
		select {
		case <-c.commitReq:
		default:
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	stopWorkers([]*worker{w})
}
