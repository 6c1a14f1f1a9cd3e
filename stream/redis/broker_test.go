package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestProduceRead(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 3}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	var recs []*stream.Record
	for i := range 30 {
		recs = append(recs, &stream.Record{
			Topic:   "orders",
			Key:     fmt.Appendf(nil, "k%d", i%5),
			Value:   fmt.Appendf(nil, "v%d", i),
			Headers: []stream.Header{{Key: "a", Value: []byte("1")}, {Key: "a", Value: nil}},
		})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	next := map[int32]int64{}
	for i, r := range recs {
		if got, want := r.Partition, stream.Partition(r.Key, 3); got != want {
			t.Errorf("record %d: partition %d, want %d", i, got, want)
		}
		if got, want := r.Offset, next[r.Partition]; got != want {
			t.Errorf("record %d: offset %d, want %d", i, got, want)
		}
		next[r.Partition]++
	}
	for p := range int32(3) {
		got, err := b.Read(ctx, "orders", p, 0, 100)
		if err != nil {
			t.Fatalf("Read partition %d: %v", p, err)
		}
		if int64(len(got)) != next[p] {
			t.Fatalf("Read partition %d: %d records, want %d", p, len(got), next[p])
		}
		for _, g := range got {
			var want *stream.Record
			for _, r := range recs {
				if r.Partition == p && r.Offset == g.Offset {
					want = r
				}
			}
			if !g.Equal(want) || !g.Timestamp.Equal(want.Timestamp) {
				t.Errorf("partition %d offset %d: got %+v, want %+v", p, g.Offset, g, want)
			}
		}
		if _, err := b.Read(ctx, "orders", p, next[p]+1, 10); !errors.Is(err, stream.ErrOffsetOutOfRange) {
			t.Errorf("Read past the end: got %v, want ErrOffsetOutOfRange", err)
		}
		if got, err := b.Read(ctx, "orders", p, next[p], 10); err != nil || len(got) != 0 {
			t.Errorf("Read at the end: got %d records, %v; want none", len(got), err)
		}
	}
	info, err := b.DescribeTopic(ctx, "orders")
	if err != nil {
		t.Fatalf("DescribeTopic: %v", err)
	}
	if got := info.Records(); got != 30 {
		t.Errorf("DescribeTopic: %d records, want 30", got)
	}
}

func TestConsumeGroup(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	const n = 200
	var recs []*stream.Record
	for i := range n {
		recs = append(recs, &stream.Record{Topic: "events", Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "%d", i)})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 2)
	for m := range 2 {
		go func() {
			errc <- b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{"events"}, Member: fmt.Sprint("m", m)},
				func(ctx context.Context, batch []*stream.Record) error {
					mu.Lock()
					defer mu.Unlock()
					for _, r := range batch {
						seen[string(r.Value)]++
					}
					return nil
				})
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d distinct records, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	info, err := b.DescribeGroup(ctx, "g")
	if err != nil {
		t.Fatalf("DescribeGroup: %v", err)
	}
	if info.Lag() != 0 {
		t.Errorf("lag %d, want 0: %+v", info.Lag(), info)
	}
	cancel()
	for range 2 {
		if err := <-errc; err != nil {
			t.Errorf("Consume: %v", err)
		}
	}
}
