package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
)

func produceValues(t *testing.T, ctx context.Context, b *Broker, topic string, n int) {
	t.Helper()
	var recs []*stream.Record
	for i := range n {
		recs = append(recs, &stream.Record{Topic: topic, Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
}

func committedOffset(t *testing.T, ctx context.Context, b *Broker, group, topic string, p int32) int64 {
	t.Helper()
	n, err := b.client.HGet(ctx, b.k.offsets(group, topic), fmt.Sprint(p)).Int64()
	if err != nil {
		t.Fatalf("read committed offset: %v", err)
	}
	return n
}

// A member whose lease expired and was taken over cannot commit, renew or
// release; its successor can.
func TestLeaseFencing(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	produceValues(t, ctx, b, "t", 10)
	x := tp{"t", 0}

	a, err := b.acquire(ctx, "g", "a#1", x, 150*time.Millisecond, stream.StartEarliest)
	if err != nil {
		t.Fatalf("a acquire: %v", err)
	}
	if _, err := b.acquire(ctx, "g", "b#1", x, time.Minute, stream.StartEarliest); !errors.Is(err, errLeaseHeld) {
		t.Fatalf("b acquire while a holds the lease: got %v, want errLeaseHeld", err)
	}
	if _, err := b.commit(ctx, "g", x, a.token, 0, 3, false); err != nil {
		t.Fatalf("a commit while holding the lease: %v", err)
	}

	time.Sleep(250 * time.Millisecond) // a pauses past its lease
	bl, err := b.acquire(ctx, "g", "b#1", x, time.Minute, stream.StartEarliest)
	if err != nil {
		t.Fatalf("b acquire after a's lease expired: %v", err)
	}
	if bl.epoch <= a.epoch {
		t.Errorf("b's epoch %d, want more than a's %d", bl.epoch, a.epoch)
	}
	if bl.committed != 3 {
		t.Errorf("b starts at %d, want a's committed offset 3", bl.committed)
	}

	tests := []struct {
		name string
		call func() error
	}{
		{"commit", func() error { _, err := b.commit(ctx, "g", x, a.token, 3, 8, false); return err }},
		{"release", func() error { _, err := b.commit(ctx, "g", x, a.token, 3, 3, true); return err }},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, errFenced) {
			t.Errorf("a %s after losing the lease: got %v, want errFenced", tt.name, err)
		}
	}
	held, err := b.renew(ctx, "g", []tp{x}, []string{a.token}, time.Minute)
	if err != nil || held[0] {
		t.Errorf("a renew after losing the lease: held %v, %v; want not held", held, err)
	}
	if got := committedOffset(t, ctx, b, "g", "t", 0); got != 3 {
		t.Errorf("committed offset %d after the fenced commit, want 3", got)
	}
	if _, err := b.commit(ctx, "g", x, bl.token, 3, 5, false); err != nil {
		t.Errorf("b commit: %v", err)
	}
	if got := committedOffset(t, ctx, b, "g", "t", 0); got != 5 {
		t.Errorf("committed offset %d after b's commit, want 5", got)
	}
	// Even the same member name, with an old token, is fenced.
	if _, err := b.commit(ctx, "g", x, fmt.Sprintf("%d|b#1", a.epoch), 5, 9, false); !errors.Is(err, errFenced) {
		t.Errorf("commit with a stale epoch: got %v, want errFenced", err)
	}
}

// A commit acknowledges the entries it commits that are in the group's
// pending list (left there by a reader that acknowledges), a few or more
// than one XPENDING call returns, and returns the group's membership
// generation.
func TestCommitAcknowledgesAndReturnsGeneration(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	total := int64(1210)
	produceValues(t, ctx, b, "t", int(total))
	x := tp{"t", 0}
	l, err := b.acquire(ctx, "g", "a#1", x, time.Minute, stream.StartEarliest)
	if err != nil {
		t.Fatal(err)
	}
	var m membership
	for _, member := range []string{"a#1", "b#1"} { // two changes of membership
		if m, err = b.heartbeat(ctx, "g", member, subscription(member, []string{"t"}), time.Minute, false); err != nil {
			t.Fatal(err)
		}
	}
	if m.gen < 2 {
		t.Fatalf("generation after two members joined: %d, want 2 or more", m.gen)
	}
	key := b.k.partition("t", 0)
	if err := b.client.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "g", Consumer: "a#1", Streams: []string{key, ">"}, Count: total, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	pending := func() int64 {
		t.Helper()
		p, err := b.client.XPending(ctx, key, "g").Result()
		if err != nil {
			t.Fatal(err)
		}
		return p.Count
	}
	for _, to := range []int64{5, total} { // a few, then more than the script's XPENDING reads at once
		gen, err := b.commit(ctx, "g", x, l.token, total-pending(), to, false)
		if err != nil || gen != m.gen {
			t.Fatalf("commit to %d: generation %d, %v; want %d", to, gen, err, m.gen)
		}
		if p := pending(); p != total-to {
			t.Errorf("pending after committing to %d: %d, want %d", to, p, total-to)
		}
	}
}

// A new owner acknowledges the entries below the committed offset that a
// reader acknowledging them left pending (a version that read with
// acknowledgement and stopped between its commit and its XACK), and leaves
// the rest pending as they were.
func TestTakeoverAcknowledgesCommitted(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	produceValues(t, ctx, b, "t", 10)
	x := tp{"t", 0}
	if _, err := b.acquire(ctx, "g", "a#1", x, time.Minute, stream.StartEarliest); err != nil {
		t.Fatal(err)
	}
	key := b.k.partition("t", 0)
	if err := b.client.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "g", Consumer: "a#1", Streams: []string{key, ">"}, Count: 100, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	// a commits 4, releases the lease and stops before acknowledging.
	if err := b.client.HSet(ctx, b.k.offsets("g", "t"), "0", 4).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.client.Del(ctx, b.k.lease("g", "t", 0)).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.acquire(ctx, "g", "b#1", x, time.Minute, stream.StartEarliest); err != nil {
		t.Fatal(err)
	}
	pend, err := b.client.XPending(ctx, key, "g").Result()
	if err != nil || pend.Count != 6 || pend.Lower != entryID(4) || pend.Consumers["a#1"] != 6 {
		t.Errorf("pending after b took over = %+v, %v; want offsets 4 to 9, still a#1's", pend, err)
	}
}

// Consuming leaves nothing in the group's pending list, while records are
// read ahead and not yet committed too, and the Redis group shows how far
// the group has read.
func TestConsumeReadsWithoutPending(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	produceValues(t, ctx, b, "t", 5)
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{"t"}, MaxBatch: 5},
			func(ctx context.Context, batch []*stream.Record) error {
				select {
				case entered <- struct{}{}:
				default:
				}
				<-gate
				return nil
			})
	}()
	<-entered
	produceValues(t, ctx, b, "t", 5) // read ahead while the first batch is held
	key := b.k.partition("t", 0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		groups, err := b.client.XInfoGroups(ctx, key).Result()
		if err != nil || len(groups) != 1 {
			t.Fatalf("groups of the partition: %v, %v", groups, err)
		}
		if groups[0].LastDeliveredID == entryID(9) {
			if groups[0].Pending != 0 {
				t.Errorf("pending while records are read ahead: %d, want 0", groups[0].Pending)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group read up to %s, want %s", groups[0].LastDeliveredID, entryID(9))
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(gate)
	waitOffset(t, ctx, b, "g", "t", 0, 10)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A new owner delivers again the entries the previous owner read but never
// committed, from the committed offset, before new ones, and its commits
// acknowledge them although they are pending for the previous owner.
func TestTakeoverDeliversPending(t *testing.T) {
	ctx := testContext(t)
	cfg := testConfig(t)
	cfg.LeaseTTL = 500 * time.Millisecond
	b := openBroker(t, cfg)
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	produceValues(t, ctx, b, "t", 10)
	x := tp{"t", 0}

	// Member a takes the lease, reads everything, commits 4 and "crashes".
	a, err := b.acquire(ctx, "g", "a#1", x, 300*time.Millisecond, stream.StartEarliest)
	if err != nil {
		t.Fatal(err)
	}
	key := b.k.partition("t", 0)
	read, err := b.client.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "g", Consumer: "a#1", Streams: []string{key, ">"}, Count: 100, Block: -1}).Result()
	if err != nil || len(read[0].Messages) != 10 {
		t.Fatalf("a reads: %v, %v", read, err)
	}
	if _, err := b.commit(ctx, "g", x, a.token, 0, 4, false); err != nil {
		t.Fatal(err)
	}
	pend, err := b.client.XPending(ctx, key, "g").Result()
	if err != nil || pend.Count != 6 || pend.Consumers["a#1"] != 6 {
		t.Fatalf("pending after a's commit = %+v, %v; want 6 pending for a#1", pend, err)
	}

	// Member b joins; once a's lease has expired it gets a's pending
	// entries, offsets 4 to 9, before anything new.
	var mu sync.Mutex
	var got []int64
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{"t"}, Member: "b"},
			func(ctx context.Context, batch []*stream.Record) error {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range batch {
					got = append(got, r.Offset)
				}
				return nil
			})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b handled %v, want offsets 4 to 9", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	produceValues(t, ctx, b, "t", 1)
	waitOffset(t, ctx, b, "g", "t", 0, 11)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []int64{4, 5, 6, 7, 8, 9, 10}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("b handled offsets %v, want %v", got, want)
	}
	if p, err := b.client.XPending(ctx, key, "g").Result(); err != nil || p.Count != 0 {
		t.Errorf("pending after b committed everything = %+v, %v; want none", p, err)
	}
}

func waitOffset(t *testing.T, ctx context.Context, b *Broker, group, topic string, p int32, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := b.client.HGet(ctx, b.k.offsets(group, topic), fmt.Sprint(p)).Int64()
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offset %d (%v), want %d", n, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Records that a member whose lease lapsed read from the Redis group (so
// the group's own bookkeeping moved past them) are still delivered to the
// partition's owner: it reads every offset from its committed one.
func TestStolenEntriesAreDelivered(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{"t"}},
			func(ctx context.Context, batch []*stream.Record) error {
				select {
				case entered <- struct{}{}:
				default:
				}
				<-gate
				mu.Lock()
				defer mu.Unlock()
				for _, r := range batch {
					seen[r.Offset]++
				}
				return nil
			})
	}()
	produceValues(t, ctx, b, "t", 5)
	<-entered
	// The handler is stuck; the fetcher fills the partition's queue and
	// then leaves the partition alone.
	for range 3 {
		produceValues(t, ctx, b, "t", 5)
		time.Sleep(50 * time.Millisecond)
	}
	// A stale member reads from the Redis group directly, taking new
	// entries into its own pending list.
	produceValues(t, ctx, b, "t", 10)
	key := b.k.partition("t", 0)
	res, err := b.client.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "g", Consumer: "stale#1", Streams: []string{key, ">"}, Count: 100, Block: -1}).Result()
	if err != nil || len(res[0].Messages) == 0 {
		t.Fatalf("the stale member read %v, %v; want some entries", res, err)
	}
	produceValues(t, ctx, b, "t", 5)
	close(gate)
	waitOffset(t, ctx, b, "g", "t", 0, 35)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for o := range int64(35) {
		if seen[o] != 1 {
			t.Errorf("offset %d handled %d times, want once", o, seen[o])
		}
	}
	if p, err := b.client.XPending(ctx, key, "g").Result(); err != nil || p.Count != 0 {
		t.Errorf("pending after the owner committed everything = %+v, %v; want none", p, err)
	}
}
