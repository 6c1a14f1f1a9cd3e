package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// TestEverythingAtOnce runs producers, members that join and leave with
// failing handlers, retention under a hard cap, and topic and group
// administration all at once, then checks that nothing deadlocked, every
// partition reads back densely from its start to its end, and Close returns.
func TestEverythingAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	b := open(t, Config{HardCapBytes: 2 << 20})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	topics := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				recs := make([]*stream.Record, 1+rand.IntN(20))
				for j := range recs {
					recs[j] = &stream.Record{Topic: topics[rand.IntN(3)], Key: fmt.Appendf(nil, "%d", rand.IntN(50)), Value: make([]byte, rand.IntN(2000))}
				}
				b.Produce(ctx, recs...)
			}
		})
	}
	for i := range 6 {
		wg.Go(func() {
			for ctx.Err() == nil {
				cctx, c := context.WithTimeout(ctx, time.Duration(50+rand.IntN(300))*time.Millisecond)
				b.Consume(cctx, stream.ConsumerConfig{Group: fmt.Sprintf("g%d", i%3), Topics: topics[:1+rand.IntN(3)], MaxBatch: 1 + rand.IntN(100), RetryBackoff: time.Millisecond},
					func(ctx context.Context, batch []*stream.Record) error {
						if rand.IntN(10) == 0 {
							return fmt.Errorf("random failure")
						}
						if rand.IntN(10) == 0 && len(batch) > 1 {
							return &stream.PartialError{N: len(batch) / 2, Err: fmt.Errorf("partial")}
						}
						return nil
					})
				c()
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			switch rand.IntN(9) {
			case 0:
				b.DeleteTopic(ctx, topics[rand.IntN(3)])
			case 1:
				b.CreateTopic(ctx, stream.Topic{Name: topics[rand.IntN(3)], Partitions: int32(1 + rand.IntN(6)), RetentionTime: time.Duration(rand.IntN(3)) * 100 * time.Millisecond, RetentionBytes: int64(rand.IntN(3)) * 100000})
			case 2:
				b.ResetOffsets(ctx, fmt.Sprintf("g%d", rand.IntN(3)), topics[rand.IntN(3)], stream.Reset{To: stream.ResetEarliest})
			case 3:
				b.DeleteGroup(ctx, fmt.Sprintf("g%d", rand.IntN(3)))
			case 4:
				b.ListGroups(ctx)
			case 5:
				b.ListTopics(ctx)
			case 6:
				b.OffsetForTime(ctx, topics[rand.IntN(3)], 0, time.Now().Add(-time.Duration(rand.IntN(1000))*time.Millisecond))
			case 7:
				b.Read(ctx, topics[rand.IntN(3)], 0, int64(rand.IntN(100)), 50)
			case 8:
				b.EnforceRetention(ctx)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	wg.Wait()
	infos, err := b.ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		for _, po := range info.Offsets {
			off := po.Start
			for {
				recs, err := b.Read(context.Background(), info.Name, po.Partition, off, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) == 0 {
					break
				}
				for _, r := range recs {
					if r.Offset != off {
						t.Fatalf("%s/%d: offset %d, want %d", info.Name, po.Partition, r.Offset, off)
					}
					off++
				}
			}
			if off != po.End {
				t.Errorf("%s/%d: read up to %d, end %d", info.Name, po.Partition, off, po.End)
			}
		}
	}
	groups, _ := b.ListGroups(context.Background())
	for _, g := range groups {
		for _, o := range g.Offsets {
			if o.Committed > o.End {
				t.Errorf("group %s %s/%d committed %d beyond end %d", g.Group, o.Topic, o.Partition, o.Committed, o.End)
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung")
	}
}
