package streamtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

func keyOf(i int) []byte { return []byte(fmt.Sprintf("key-%d", i%17)) }

// Every group sees every record.
func (s *suite) testGroupsIndependent(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "shared", 2)
	in := produceN(t, ctx, b, "shared", 100, 50, keyOf)

	a, c := newCollector(t, 0), newCollector(t, 0)
	ma := startMember(t, ctx, b, fastCfg("group-a", "shared"), a.handler())
	mc := startMember(t, ctx, b, fastCfg("group-c", "shared"), c.handler())
	a.waitCount(100, 30*time.Second)
	c.waitCount(100, 30*time.Second)
	ma.stop()
	mc.stop()
	a.check()
	c.check()
	sameSet(t, a.snapshot(), in, false)
	sameSet(t, c.snapshot(), in, false)
}

// waitAssigned waits until the group has n live members that together own
// all partitions of topic, each partition once, each member at least one.
func waitAssigned(t *testing.T, ctx context.Context, b stream.Broker, group, topic string, partitions int32, n int, timeout time.Duration) stream.GroupInfo {
	t.Helper()
	var last stream.GroupInfo
	var lastErr error
	var stableSince time.Time
	var stableKey string
	// The assignment must hold for a while: a hand-over can pass through a
	// moment that looks complete before it settles.
	waitFor(t, timeout, func() bool {
		if !assigned(ctx, b, group, topic, partitions, n, &last, &lastErr) {
			stableKey = ""
			return false
		}
		key := fmt.Sprint(last.Members)
		if key != stableKey {
			stableKey, stableSince = key, time.Now()
			return false
		}
		return time.Since(stableSince) >= 300*time.Millisecond
	}, func() string {
		return fmt.Sprintf("group %s: want %d members owning the %d partitions of %s once each, stable for 300ms; last: %+v, %v", group, n, partitions, topic, last.Members, lastErr)
	})
	return last
}

func assigned(ctx context.Context, b stream.Broker, group, topic string, partitions int32, n int, last *stream.GroupInfo, lastErr *error) bool {
	*last, *lastErr = b.DescribeGroup(ctx, group)
	if *lastErr != nil || len(last.Members) != n {
		return false
	}
	owned := map[int32]int{}
	for _, m := range last.Members {
		if len(m.Partitions) == 0 {
			return false
		}
		for _, p := range m.Partitions {
			if p.Topic == topic {
				owned[p.Partition]++
			}
		}
	}
	for p := int32(0); p < partitions; p++ {
		if owned[p] != 1 {
			return false
		}
	}
	return len(owned) == int(partitions)
}

// Members of one group split the partitions and never handle one partition
// at the same time.
func (s *suite) testMembersSplit(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "split", 4)

	shared := newCollector(t, 0) // checks no partition is handled twice at once
	per := []*collector{newCollector(t, 0), newCollector(t, 0)}
	for i, c := range per {
		cfg := fastCfg("splitters", "split")
		cfg.Member = fmt.Sprintf("member-%d", i)
		c := c
		startMember(t, ctx, b, cfg, shared.wrap(c.wrap(func(context.Context, []*stream.Record) error {
			time.Sleep(time.Millisecond) // give overlaps a chance to show
			return nil
		})))
	}
	g := waitAssigned(t, ctx, b, "splitters", "split", 4, 2, s.b.Features.RebalanceTimeout)
	owner := map[int32]string{}
	for _, m := range g.Members {
		for _, p := range m.Partitions {
			owner[p.Partition] = cmp.Or(m.ClientID, m.ID)
		}
	}

	in := produceN(t, ctx, b, "split", 400, 20, func(i int) []byte { return []byte(fmt.Sprintf("k%d", i)) })
	shared.waitCount(400, 60*time.Second)
	shared.check()
	per[0].check()
	per[1].check()
	sameSet(t, shared.snapshot(), in, true)
	for i, c := range per {
		got := c.snapshot()
		if len(got) == 0 {
			t.Errorf("member-%d received nothing", i)
		}
		for _, r := range got {
			if want := fmt.Sprintf("member-%d", i); owner[r.Partition] != want {
				t.Errorf("member-%d handled partition %d, which the group assigned to %s", i, r.Partition, owner[r.Partition])
				break
			}
		}
	}
}

// When a member leaves, the others take over its partitions.
func (s *suite) testRebalanceOnLeave(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "moving", 4)

	first, second := newCollector(t, 0), newCollector(t, 0)
	m1 := startMember(t, ctx, b, fastCfg("movers", "moving"), first.handler())
	startMember(t, ctx, b, fastCfg("movers", "moving"), second.handler())
	waitAssigned(t, ctx, b, "movers", "moving", 4, 2, s.b.Features.RebalanceTimeout)
	m1.stop()

	in := produceN(t, ctx, b, "moving", 200, 50, func(i int) []byte { return []byte(fmt.Sprintf("k%d", i)) })
	second.waitCount(200, s.b.Features.RebalanceTimeout+30*time.Second)
	first.check()
	second.check()
	sameSet(t, second.snapshot(), in, false)
	if n := first.count(); n != 0 {
		t.Errorf("the member that left received %d records", n)
	}
}

// A handler error commits nothing of the failed call; the records come
// again, in order.
func (s *suite) testHandlerErrorRedelivers(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "flaky", 1)
	in := produceN(t, ctx, b, "flaky", 10, 10, nil)

	var mu sync.Mutex
	attempts := map[int64]int{}
	c := newCollector(t, 0)
	m := startMember(t, ctx, b, fastCfg("flaky-group", "flaky"), c.wrap(stream.Single(func(_ context.Context, r *stream.Record) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[r.Offset]++
		if r.Offset == 3 && attempts[r.Offset] <= 2 {
			return errors.New("transient failure")
		}
		return nil
	})))
	c.waitCount(10, 30*time.Second)
	waitCommitted(t, ctx, b, "flaky-group", "flaky", 0, 10)
	m.stop()
	c.check()
	got := c.snapshot()
	sameSet(t, got, in, false)
	for i, r := range got {
		if r.Offset != int64(i) {
			t.Fatalf("accepted record %d has offset %d: redelivery broke the order", i, r.Offset)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts[3] != 3 {
		t.Errorf("record at offset 3 handled %d times, want 3 (two failures, then success)", attempts[3])
	}
	for off, n := range attempts {
		if off != 3 && n != 1 {
			t.Errorf("record at offset %d handled %d times, want 1", off, n)
		}
	}
}

// waitCommitted waits until the group's committed offset on a partition
// reaches want.
func waitCommitted(t *testing.T, ctx context.Context, b stream.Broker, group, topic string, partition int32, want int64) {
	t.Helper()
	var got int64 = -1
	waitFor(t, 30*time.Second, func() bool {
		g, err := b.DescribeGroup(ctx, group)
		if err != nil {
			return false
		}
		o, _ := offsetOf(g, topic, partition)
		got = o.Committed
		return got == want
	}, func() string {
		return fmt.Sprintf("group %s committed %d on %s/%d, want %d", group, got, topic, partition, want)
	})
}

// A PartialError commits the records before the failure; only the rest come
// again.
func (s *suite) testPartialError(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "partial", 1)
	in := produceN(t, ctx, b, "partial", 10, 10, nil)

	var calls int
	var mu sync.Mutex
	c := newCollector(t, 0)
	m := startMember(t, ctx, b, fastCfg("partial-group", "partial"), c.wrap(func(_ context.Context, batch []*stream.Record) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return &stream.PartialError{N: 1, Err: errors.New("second record failed")}
		}
		return nil
	}))
	c.waitCount(10, 30*time.Second)
	waitCommitted(t, ctx, b, "partial-group", "partial", 0, 10)
	m.stop()
	c.check()
	sameSet(t, c.snapshot(), in, false) // duplicates fail here: the prefix was committed
}

// A member that stops before its handler succeeded commits nothing; the next
// member gets the records.
func (s *suite) testCloseWithoutCommit(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "uncommitted", 1)
	in := produceN(t, ctx, b, "uncommitted", 5, 5, nil)

	entered := make(chan struct{}, 1)
	m := startMember(t, ctx, b, fastCfg("closer", "uncommitted"), func(hctx context.Context, _ []*stream.Record) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-hctx.Done()
		return hctx.Err()
	})
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("handler never called")
	}
	m.stop()

	c := newCollector(t, 0)
	m2 := startMember(t, ctx, b, fastCfg("closer", "uncommitted"), c.handler())
	c.waitCount(5, s.b.Features.RebalanceTimeout)
	m2.stop()
	c.check()
	got := c.snapshot()
	sameSet(t, got, in, false)
	if len(got) > 0 && got[0].Offset != 0 {
		t.Errorf("after an uncommitted close the group resumed at offset %d, want 0", got[0].Offset)
	}
}

// After the process restarts, a group resumes at its committed offset.
func (s *suite) testRestartResumes(t *testing.T) {
	ctx := testContext(t)
	e := s.env(t)
	b1 := e.broker()
	createTopic(t, ctx, b1, "resume", 1)
	first := produceN(t, ctx, b1, "resume", 50, 25, nil)
	c1 := newCollector(t, 0)
	m := startMember(t, ctx, b1, fastCfg("resumer", "resume"), c1.handler())
	c1.waitCount(50, 30*time.Second)
	waitCommitted(t, ctx, b1, "resumer", "resume", 0, 50)
	m.stop()
	c1.check()
	sameSet(t, c1.snapshot(), first, false)
	if err := b1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	b2 := e.broker()
	second := produceN(t, ctx, b2, "resume", 50, 25, func(i int) []byte { return []byte("after") })
	c2 := newCollector(t, 0)
	m2 := startMember(t, ctx, b2, fastCfg("resumer", "resume"), c2.handler())
	c2.waitCount(50, 30*time.Second)
	m2.stop()
	c2.check()
	got := c2.snapshot()
	if len(got) > 0 && got[0].Offset != 50 {
		t.Errorf("after restart the group resumed at offset %d, want 50", got[0].Offset)
	}
	// second's values repeat first's (value(i) restarts at 0): compare offsets.
	for i, r := range got {
		if r.Offset != int64(50+i) || string(r.Key) != "after" {
			t.Fatalf("after restart record %d: offset %d key %q, want offset %d key \"after\"", i, r.Offset, r.Key, 50+i)
		}
	}
	if len(got) != len(second) {
		t.Errorf("after restart received %d records, want %d", len(got), len(second))
	}
}

// A new group told to start at the end sees only records produced after it
// joined.
func (s *suite) testStartLatest(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "tail", 2)
	produceN(t, ctx, b, "tail", 20, 20, keyOf)

	c := newCollector(t, 0)
	cfg := fastCfg("tailer", "tail")
	cfg.StartAt = stream.StartLatest
	m := startMember(t, ctx, b, cfg, c.handler())
	// Keep producing markers until one arrives: then the member is live.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; c.count() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("no record produced after joining arrived")
		}
		if err := b.Produce(ctx, &stream.Record{Topic: "tail", Key: []byte("marker"), Value: []byte(fmt.Sprintf("marker-%d", i))}); err != nil {
			t.Fatalf("Produce marker: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.stop()
	c.check()
	for _, r := range c.snapshot() {
		if !strings.HasPrefix(string(r.Value), "marker-") {
			t.Errorf("a StartLatest group received %q, produced before it joined", r.Value)
		}
	}
}

// Offsets can be reset to the earliest or latest record, a time or an exact
// offset; the group then consumes from there.
func (s *suite) testResetOffsets(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "replay", 2)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var in []*stream.Record
	for i := 0; i < 40; i++ {
		in = append(in, &stream.Record{Topic: "replay", Key: keyOf(i), Value: value(i), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	if err := b.Produce(ctx, in...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	end := map[int32]int64{}
	for _, r := range in {
		end[r.Partition] = max(end[r.Partition], r.Offset+1)
	}

	c := newCollector(t, 0)
	m := startMember(t, ctx, b, fastCfg("replayer", "replay"), c.handler())
	c.waitCount(40, 30*time.Second)
	waitCommitted(t, ctx, b, "replayer", "replay", 0, end[0])
	waitCommitted(t, ctx, b, "replayer", "replay", 1, end[1])

	// While the member is live, a reset is refused.
	_, err := b.ResetOffsets(ctx, "replayer", "replay", stream.Reset{To: stream.ResetEarliest})
	wantErr(t, "ResetOffsets of an active group", err, stream.ErrGroupActive)
	m.stop()
	// Membership may take a moment to clear after the member left.
	waitFor(t, s.b.Features.RebalanceTimeout, func() bool {
		g, err := b.DescribeGroup(ctx, "replayer")
		return err == nil && len(g.Members) == 0
	}, func() string { return "group still has members after its only member stopped" })

	reset := func(to stream.Reset) map[int32]int64 {
		t.Helper()
		offs, err := b.ResetOffsets(ctx, "replayer", "replay", to)
		if err != nil {
			t.Fatalf("ResetOffsets(%+v): %v", to, err)
		}
		got := map[int32]int64{}
		for _, o := range offs {
			got[o.Partition] = o.Committed
		}
		g := describeGroup(t, ctx, b, "replayer")
		for p, want := range got {
			if o, _ := offsetOf(g, "replay", p); o.Committed != want {
				t.Errorf("after reset %+v, DescribeGroup says partition %d at %d; ResetOffsets said %d", to, p, o.Committed, want)
			}
		}
		return got
	}
	if got := reset(stream.Reset{To: stream.ResetEarliest}); got[0] != 0 || got[1] != 0 {
		t.Errorf("reset to earliest = %v, want 0 on both partitions", got)
	}
	if got := reset(stream.Reset{To: stream.ResetLatest}); got[0] != end[0] || got[1] != end[1] {
		t.Errorf("reset to latest = %v, want %v", got, end)
	}
	if got := reset(stream.Reset{To: stream.ResetOffset, Offset: 3, Partitions: []int32{0}}); got[0] != 3 {
		t.Errorf("reset partition 0 to offset 3 = %v", got)
	} else if g := describeGroup(t, ctx, b, "replayer"); func() int64 { o, _ := offsetOf(g, "replay", 1); return o.Committed }() != end[1] {
		t.Errorf("reset of partition 0 moved partition 1 too")
	}
	at := base.Add(20 * time.Second)
	want := map[int32]int64{}
	for p := int32(0); p < 2; p++ {
		off, err := b.OffsetForTime(ctx, "replay", p, at)
		if err != nil {
			t.Fatalf("OffsetForTime: %v", err)
		}
		want[p] = off
	}
	if got := reset(stream.Reset{To: stream.ResetTime, Time: at}); got[0] != want[0] || got[1] != want[1] {
		t.Errorf("reset to %v = %v, want %v", at, got, want)
	}

	// The group now replays exactly the records from the reset position on.
	var expect []*stream.Record
	for _, r := range in {
		if r.Offset >= want[r.Partition] {
			expect = append(expect, r)
		}
	}
	c2 := newCollector(t, 0)
	m2 := startMember(t, ctx, b, fastCfg("replayer", "replay"), c2.handler())
	c2.waitCount(len(expect), 30*time.Second)
	m2.stop()
	c2.check()
	sameSet(t, c2.snapshot(), expect, false)

	// Bad input.
	_, err = b.ResetOffsets(ctx, "replayer", "replay", stream.Reset{To: stream.ResetOffset, Offset: 1000})
	wantErr(t, "reset to offset 1000 beyond the end", err, stream.ErrInvalid)
	if err != nil && !strings.Contains(err.Error(), "1000") {
		t.Errorf("error %q does not name the offset", err)
	}
	_, err = b.ResetOffsets(ctx, "replayer", "no-such-topic", stream.Reset{To: stream.ResetEarliest})
	wantErr(t, "reset on an unknown topic", err, stream.ErrTopicNotFound)
	_, err = b.ResetOffsets(ctx, "replayer", "replay", stream.Reset{})
	wantErr(t, "reset with no target", err, stream.ErrInvalid)
	_, err = b.ResetOffsets(ctx, "replayer", "replay", stream.Reset{To: stream.ResetEarliest, Partitions: []int32{9}})
	wantErr(t, "reset of partition 9 of a 2-partition topic", err, stream.ErrInvalid)
}

// Lag is the end offset minus the committed offset, per partition, and the
// oldest unconsumed record's timestamp is reported.
func (s *suite) testLag(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "lagging", 2)
	produceN(t, ctx, b, "lagging", 60, 30, keyOf)
	c := newCollector(t, 0)
	m := startMember(t, ctx, b, fastCfg("lagger", "lagging"), c.handler())
	c.waitCount(60, 30*time.Second)
	m.stop()
	committed := describeGroup(t, ctx, b, "lagger")

	more := produceN(t, ctx, b, "lagging", 17, 17, keyOf)
	perPartition := map[int32]int64{}
	firstTS := map[int32]time.Time{}
	for _, r := range more {
		if perPartition[r.Partition] == 0 {
			firstTS[r.Partition] = r.Timestamp
		}
		perPartition[r.Partition]++
	}
	g := describeGroup(t, ctx, b, "lagger")
	if got := g.Lag(); got != 17 {
		t.Errorf("group lag %d, want 17", got)
	}
	for p := int32(0); p < 2; p++ {
		o, ok := offsetOf(g, "lagging", p)
		if !ok {
			t.Errorf("no offset for partition %d", p)
			continue
		}
		before, _ := offsetOf(committed, "lagging", p)
		if o.Committed != before.Committed || o.Lag != perPartition[p] || o.End != o.Committed+o.Lag {
			t.Errorf("partition %d: committed %d end %d lag %d; want committed %d, lag %d = end - committed",
				p, o.Committed, o.End, o.Lag, before.Committed, perPartition[p])
		}
		if o.Lag > 0 {
			if d := o.Oldest.Sub(firstTS[p]); d > time.Millisecond || d < -time.Millisecond {
				t.Errorf("partition %d: oldest unconsumed at %v, want %v", p, o.Oldest, firstTS[p])
			}
		}
	}
}

// Groups are listed, described with their members, and deleted.
func (s *suite) testGroupAdmin(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "grp", 2)
	produceN(t, ctx, b, "grp", 10, 10, keyOf)

	// Kafka takes any string as a group id; so does every backend.
	const alpha = "svc:alpha/v2 é"
	for _, name := range []string{"zeta", alpha} {
		c := newCollector(t, 0)
		cfg := fastCfg(name, "grp")
		cfg.Member = name + "-member"
		m := startMember(t, ctx, b, cfg, c.handler())
		c.waitCount(10, 30*time.Second)
		if name == "zeta" {
			g := waitAssigned(t, ctx, b, name, "grp", 2, 1, s.b.Features.RebalanceTimeout)
			// The member's own name is its client id where the backend
			// tells the two apart (Kafka), else its id.
			m := g.Members[0]
			if name := cmp.Or(m.ClientID, m.ID); name != "zeta-member" || m.ID == "" {
				t.Errorf("member id %q, client id %q; want zeta-member as the client id, or as the id where there is none", m.ID, m.ClientID)
			}
		}
		waitCommitted(t, ctx, b, name, "grp", 0, func() int64 { o, _ := offsetOf(describeGroup(t, ctx, b, name), "grp", 0); return o.End }())
		m.stop()
	}
	groups, err := b.ListGroups(ctx)
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.Group)
	}
	if !sort.StringsAreSorted(names) || !contains(names, alpha) || !contains(names, "zeta") {
		t.Errorf("ListGroups = %q, want %q and zeta, sorted", names, alpha)
	}

	_, err = b.DescribeGroup(ctx, "no-such-group")
	wantErr(t, "DescribeGroup of an unknown group", err, stream.ErrGroupNotFound)
	if err != nil && !strings.Contains(err.Error(), "no-such-group") {
		t.Errorf("error %q does not name the group", err)
	}
	if err := b.DeleteGroup(ctx, alpha); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	_, err = b.DescribeGroup(ctx, alpha)
	wantErr(t, "DescribeGroup after DeleteGroup", err, stream.ErrGroupNotFound)
	err = b.DeleteGroup(ctx, alpha)
	wantErr(t, "DeleteGroup of a deleted group", err, stream.ErrGroupNotFound)
	err = b.Consume(ctx, stream.ConsumerConfig{Group: "bad\tgroup", Topics: []string{"grp"}}, nil)
	wantErr(t, "Consume with an invalid group name", err, stream.ErrInvalid)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
