package embedded

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Append stores in the partition asked for, in the order calls were queued.
func TestAppendToPartition(t *testing.T) {
	ctx := context.Background()
	b := open(t, Config{})
	if err := b.CreateTopic(ctx, stream.Topic{Name: "ap", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	var waits []func() error
	for i := range 10 {
		w, err := b.Append(ctx, "ap", 2, []*stream.Record{{Key: []byte("same"), Value: []byte{byte(i)}}})
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		waits = append(waits, w)
	}
	for i, w := range waits {
		if err := w(); err != nil {
			t.Fatalf("wait %d: %v", i, err)
		}
	}
	recs, err := b.Read(ctx, "ap", 2, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 10 {
		t.Fatalf("partition 2 holds %d records, want 10", len(recs))
	}
	for i, r := range recs {
		if r.Value[0] != byte(i) || r.Offset != int64(i) || r.ID() == "" {
			t.Errorf("record %d: value %d offset %d id %q; want value %d offset %d and an id", i, r.Value[0], r.Offset, r.ID(), i, i)
		}
	}
	if _, err := b.Append(ctx, "ap", 3, []*stream.Record{{Value: []byte("x")}}); !errors.Is(err, stream.ErrInvalid) {
		t.Errorf("Append to partition 3 of 3: got %v, want ErrInvalid", err)
	}
}

// A claimed group refuses the log's own consumers and resets, and a group
// with live consumers cannot be claimed; committed offsets are shared.
func TestClaimGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := open(t, Config{})
	if err := b.CreateTopic(ctx, stream.Topic{Name: "cl", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Produce(ctx, &stream.Record{Topic: "cl", Value: []byte("a")}, &stream.Record{Topic: "cl", Value: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	release, err := b.ClaimGroup("g", "Kafka protocol", nil)
	if err != nil {
		t.Fatalf("ClaimGroup: %v", err)
	}
	err = b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"cl"}}, func(context.Context, []*stream.Record) error { return nil })
	if !errors.Is(err, stream.ErrGroupActive) {
		t.Errorf("Consume of a claimed group: got %v, want ErrGroupActive", err)
	}
	if _, err := b.ResetOffsets(ctx, "g", "cl", stream.Reset{To: stream.ResetEarliest}); !errors.Is(err, stream.ErrGroupActive) {
		t.Errorf("ResetOffsets of a claimed group: got %v, want ErrGroupActive", err)
	}
	if err := b.CommitOffsets(ctx, "g", map[stream.TopicPartition]int64{{Topic: "cl", Partition: 0}: 1}); err != nil {
		t.Fatalf("CommitOffsets: %v", err)
	}
	info, err := b.DescribeGroup(ctx, "g")
	if err != nil || len(info.Offsets) != 1 || info.Offsets[0].Committed != 1 || info.Offsets[0].Lag != 1 {
		t.Fatalf("DescribeGroup = %+v, %v; want committed 1, lag 1", info, err)
	}
	release()

	// Now the log's own consumer takes the group on from the commit.
	cctx, stop := context.WithCancel(ctx)
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{"cl"}}, func(_ context.Context, batch []*stream.Record) error {
			for _, r := range batch {
				got <- string(r.Value)
			}
			return nil
		})
	}()
	if v := <-got; v != "b" {
		t.Errorf("the log's consumer started with %q, want b (after the shared commit)", v)
	}
	if _, err := b.ClaimGroup("g", "Kafka protocol", nil); !errors.Is(err, stream.ErrGroupActive) {
		t.Errorf("ClaimGroup of a group with live consumers: got %v, want ErrGroupActive", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Consume: %v", err)
	}
}
