package streamtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// readAll reads every retained record of a topic by position.
func readAll(t *testing.T, ctx context.Context, b stream.Broker, topic string) []*stream.Record {
	t.Helper()
	info, err := b.DescribeTopic(ctx, topic)
	if err != nil {
		t.Fatalf("DescribeTopic(%s): %v", topic, err)
	}
	var all []*stream.Record
	for _, p := range info.Offsets {
		for off := p.Start; off < p.End; {
			recs, err := b.Read(ctx, topic, p.Partition, off, 1000)
			if err != nil {
				t.Fatalf("Read(%s/%d@%d): %v", topic, p.Partition, off, err)
			}
			if len(recs) == 0 {
				t.Fatalf("Read(%s/%d@%d) returned nothing before the end offset %d", topic, p.Partition, off, p.End)
			}
			all = append(all, recs...)
			off = recs[len(recs)-1].Offset + 1
		}
	}
	return all
}

// loadProducers produce keyed records with per-key sequence numbers until
// stop is closed, recording every record whose Produce succeeded.
type loadProducers struct {
	mu    sync.Mutex
	acked []*stream.Record
	wg    sync.WaitGroup
	stop  chan struct{}
}

func startLoad(ctx context.Context, b stream.Broker, topic string, producers int) *loadProducers {
	l := &loadProducers{stop: make(chan struct{})}
	for p := 0; p < producers; p++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for seq := 0; ; seq++ {
				select {
				case <-l.stop:
					return
				default:
				}
				batch := make([]*stream.Record, 10)
				for i := range batch {
					batch[i] = &stream.Record{Topic: topic, Key: []byte(fmt.Sprintf("p%d", p)), Value: []byte(fmt.Sprintf("p%d/%08d", p, seq*10+i))}
				}
				if err := b.Produce(ctx, batch...); err != nil {
					// After Close every call fails; before, failures are
					// allowed but the records are not counted as stored.
					time.Sleep(5 * time.Millisecond)
					continue
				}
				l.mu.Lock()
				l.acked = append(l.acked, batch...)
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *loadProducers) halt() []*stream.Record {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked
}

// checkStored verifies that every acknowledged record is stored exactly
// once and that each producer's records are in order within their partition.
func checkStored(t *testing.T, stored, acked []*stream.Record) {
	t.Helper()
	seen := map[string]int{}
	last := map[string]string{}
	for _, r := range stored {
		v := string(r.Value)
		seen[v]++
		if seen[v] == 2 {
			t.Errorf("record %s stored twice", v)
		}
		k := string(r.Key)
		if prev, ok := last[k]; ok && v < prev {
			t.Errorf("key %s: %s stored after %s", k, v, prev)
		}
		last[k] = v
	}
	lost := 0
	for _, r := range acked {
		if seen[string(r.Value)] == 0 {
			if lost < 5 {
				t.Errorf("acknowledged record %s lost", r.Value)
			}
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged records lost", lost, len(acked))
	}
}

// A broker closed under load and opened again on the same data has every
// record it acknowledged, once, in order per key; a group resumes where it
// committed.
func (s *suite) testProcessRestart(t *testing.T) {
	ctx := testContext(t)
	e := s.env(t)
	b1 := e.broker()
	createTopic(t, ctx, b1, "durable", 3)

	c := newCollector(t, 0)
	m := startMember(t, ctx, b1, fastCfg("durable-readers", "durable"), c.handler())
	load := startLoad(ctx, b1, "durable", 4)
	waitFor(t, 30*time.Second, func() bool { return c.count() >= 200 }, func() string {
		return fmt.Sprintf("consumer received only %d records under load", c.count())
	})
	m.stop()
	time.Sleep(50 * time.Millisecond)
	if err := b1.Close(); err != nil {
		t.Errorf("Close under load: %v", err)
	}
	acked := load.halt()
	if len(acked) == 0 {
		t.Fatal("no produce call succeeded before Close")
	}

	b2 := e.broker()
	stored := readAll(t, ctx, b2, "durable")
	checkStored(t, stored, acked)

	// The group resumes: what it handled before plus what it handles now
	// covers every stored record.
	c2 := newCollector(t, 0)
	m2 := startMember(t, ctx, b2, fastCfg("durable-readers", "durable"), c2.handler())
	before := c.snapshot()
	waitFor(t, 60*time.Second, func() bool {
		return coveredCount(before, c2.snapshot()) >= len(stored)
	}, func() string {
		return fmt.Sprintf("after restart the group covered %d of %d stored records", coveredCount(before, c2.snapshot()), len(stored))
	})
	m2.stop()
	c.check()
	c2.check()
	after := c2.snapshot()
	if len(after) > 0 {
		// Nothing skipped: per partition, the resumed group starts at or
		// before the first record the earlier member did not handle.
		handled := map[int32]int64{}
		for _, r := range before {
			handled[r.Partition] = max(handled[r.Partition], r.Offset+1)
		}
		first := map[int32]int64{}
		for _, r := range after {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r.Offset
			}
		}
		for p, off := range first {
			if off > handled[p] {
				t.Errorf("partition %d: group resumed at %d but had handled only up to %d", p, off, handled[p])
			}
		}
	}
}

func coveredCount(a, b []*stream.Record) int {
	seen := map[string]bool{}
	for _, r := range a {
		seen[string(r.Value)] = true
	}
	for _, r := range b {
		seen[string(r.Value)] = true
	}
	return len(seen)
}

// Restarting the engine under a live broker loses nothing acknowledged.
func (s *suite) testEngineRestart(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "survivor", 2)
	load := startLoad(ctx, b, "survivor", 2)
	time.Sleep(300 * time.Millisecond)
	s.b.Features.RestartEngine(t)
	time.Sleep(300 * time.Millisecond)
	acked := load.halt()
	// After the restart, produce must work again.
	waitFor(t, 60*time.Second, func() bool {
		return b.Produce(ctx, &stream.Record{Topic: "survivor", Key: []byte("after"), Value: []byte("after")}) == nil
	}, func() string { return "produce still failing after the engine restarted" })
	checkStored(t, readAll(t, ctx, b, "survivor"), acked)
}

// Retention deletes old records that every registered group consumed, and
// never one that a group has not.
func (s *suite) testRetention(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	r, ok := b.(stream.Retainer)
	if !ok {
		t.Fatalf("%T does not implement stream.Retainer but Features.Retention is on", b)
	}
	if err := b.CreateTopic(ctx, stream.Topic{Name: "kept", Partitions: 1, RetentionTime: time.Hour}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	if err := b.CreateTopic(ctx, stream.Topic{Name: "unread", Partitions: 1, RetentionTime: time.Hour}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	old := time.Now().Add(-2 * time.Hour)
	var recs []*stream.Record
	for i := 0; i < 25; i++ {
		ts := old
		if i >= 20 {
			ts = time.Now()
		}
		recs = append(recs, &stream.Record{Topic: "kept", Value: value(i), Timestamp: ts})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	if err := b.Produce(ctx, &stream.Record{Topic: "unread", Value: []byte("old"), Timestamp: old}); err != nil {
		t.Fatalf("Produce: %v", err)
	}

	// The group handles offsets 0-9 only.
	c := newCollector(t, 0)
	m := startMember(t, ctx, b, fastCfg("slow", "kept"), c.wrap(stream.Single(func(_ context.Context, r *stream.Record) error {
		if r.Offset >= 10 {
			return fmt.Errorf("not yet")
		}
		return nil
	})))
	waitCommitted(t, ctx, b, "slow", "kept", 0, 10)
	m.stop()

	if _, err := r.EnforceRetention(ctx); err != nil {
		t.Fatalf("EnforceRetention: %v", err)
	}
	start := func(topic string) int64 {
		info, err := b.DescribeTopic(ctx, topic)
		if err != nil {
			t.Fatalf("DescribeTopic: %v", err)
		}
		return info.Offsets[0].Start
	}
	if got := start("kept"); got != 10 {
		t.Errorf("after retention, kept starts at %d; want 10 (old and consumed gone, unconsumed kept)", got)
	}
	if got := start("unread"); got != 1 {
		t.Errorf("after retention, a topic no group reads starts at %d; want 1 (old record deleted)", got)
	}
	got, err := b.Read(ctx, "kept", 0, 0, 100)
	if err != nil || len(got) == 0 || got[0].Offset != 10 {
		t.Fatalf("Read from 0 after retention = %d records, %v; want records from offset 10", len(got), err)
	}

	c2 := newCollector(t, 0)
	m2 := startMember(t, ctx, b, fastCfg("slow", "kept"), c2.handler())
	waitCommitted(t, ctx, b, "slow", "kept", 0, 25)
	m2.stop()
	if _, err := r.EnforceRetention(ctx); err != nil {
		t.Fatalf("EnforceRetention: %v", err)
	}
	if got := start("kept"); got != 20 {
		t.Errorf("after the group caught up, kept starts at %d; want 20 (recent records kept)", got)
	}
}
