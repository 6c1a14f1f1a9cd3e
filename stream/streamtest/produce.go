package streamtest

import (
	"bytes"
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

// A record comes back with the key, value, headers and timestamp it was
// produced with, on the partition its key hashes to.
func (s *suite) testRoundTrip(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "orders", 3)

	ts := time.Date(2026, 3, 1, 12, 30, 45, 123e6, time.UTC)
	in := []*stream.Record{
		{Topic: "orders", Key: []byte("order-1"), Value: []byte(`{"total":10}`),
			Headers: []stream.Header{{Key: "content-type", Value: []byte("application/json")}, {Key: "bin", Value: []byte{0, 1, 2, 255}}}},
		{Topic: "orders", Key: []byte("order-2"), Value: []byte("plain"), Timestamp: ts},
		{Topic: "orders", Value: []byte("no key")},
		{Topic: "orders", Key: []byte("empty-value"), Value: []byte{}},
	}
	if err := b.Produce(ctx, in...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	for i, r := range in[:2] {
		if want := stream.Partition(r.Key, 3); r.Partition != want {
			t.Errorf("record %d: partition %d, want %d = murmur2(%q) mod 3", i, r.Partition, want, r.Key)
		}
	}
	if !in[1].Timestamp.Equal(ts) {
		t.Errorf("Produce changed a set timestamp to %v", in[1].Timestamp)
	}

	c := newCollector(t, 0)
	m := startMember(t, ctx, b, fastCfg("g", "orders"), c.handler())
	c.waitCount(len(in), 30*time.Second)
	m.stop()
	c.check()

	got := byValue(t, c.snapshot(), true)
	for i, want := range in {
		r, ok := got[string(want.Value)]
		if !ok {
			t.Errorf("record %d (%q) not consumed", i, want.Value)
			continue
		}
		if !r.Equal(want) {
			t.Errorf("record %d: got key %q value %q headers %v, want key %q value %q headers %v",
				i, r.Key, r.Value, r.Headers, want.Key, want.Value, want.Headers)
		}
		if r.Partition != want.Partition || r.Offset != want.Offset {
			t.Errorf("record %d consumed at %d@%d, produced at %d@%d", i, r.Partition, r.Offset, want.Partition, want.Offset)
		}
		if d := r.Timestamp.Sub(want.Timestamp); d > time.Millisecond || d < -time.Millisecond {
			t.Errorf("record %d: timestamp %v, want %v (millisecond precision)", i, r.Timestamp, want.Timestamp)
		}
		if r.ID() == "" || r.ID() != want.ID() {
			t.Errorf("record %d: id %q, want the produced id %q", i, r.ID(), want.ID())
		}
	}
}

// Produce fills in partitions, dense offsets, ids and timestamps; records of
// one call for one partition get consecutive offsets in slice order; an id the
// producer set is kept.
func (s *suite) testProduceAssigns(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "t", 2)

	recs := make([]*stream.Record, 20)
	for i := range recs {
		recs[i] = &stream.Record{Topic: "t", Key: []byte("same-key"), Value: value(i)}
	}
	recs[5].SetHeader(stream.HeaderID, []byte("my-own-id"))
	before := time.Now().Add(-time.Second)
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	ids := map[string]bool{}
	for i, r := range recs {
		if r.Partition != recs[0].Partition {
			t.Errorf("record %d on partition %d, record 0 on %d: same key must share a partition", i, r.Partition, recs[0].Partition)
		}
		if r.Offset != int64(i) {
			t.Errorf("record %d: offset %d, want %d", i, r.Offset, i)
		}
		if r.Timestamp.Before(before) || r.Timestamp.After(time.Now().Add(time.Second)) {
			t.Errorf("record %d: timestamp %v not stamped with the current time", i, r.Timestamp)
		}
		if ids[r.ID()] {
			t.Errorf("record %d: id %q not unique", i, r.ID())
		}
		ids[r.ID()] = true
	}
	if got := recs[5].ID(); got != "my-own-id" {
		t.Errorf("a producer-set id became %q", got)
	}
	// Keyless records spread over the partitions.
	keyless := produceN(t, ctx, b, "t", 20, 20, nil)
	parts := map[int32]int{}
	for _, r := range keyless {
		parts[r.Partition]++
	}
	if len(parts) != 2 {
		t.Errorf("20 keyless records landed on partitions %v, want both partitions used", parts)
	}
}

// Records with the same key keep their order, with several producers writing
// at once.
func (s *suite) testPerKeyOrder(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "events", 4)

	const producers, keysPer, perKey = 4, 5, 60
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; seq < perKey; seq++ {
				var batch []*stream.Record
				for k := 0; k < keysPer; k++ {
					key := fmt.Sprintf("p%d-k%d", p, k)
					batch = append(batch, &stream.Record{Topic: "events", Key: []byte(key), Value: []byte(fmt.Sprintf("%s/%04d", key, seq))})
				}
				if err := b.Produce(ctx, batch...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Produce: %v", err)
	}

	total := producers * keysPer * perKey
	c := newCollector(t, 50)
	cfg := fastCfg("order", "events")
	cfg.MaxBatch = 50
	m := startMember(t, ctx, b, cfg, c.handler())
	c.waitCount(total, 60*time.Second)
	m.stop()
	c.check()

	last := map[string]string{}
	seen := map[string]bool{}
	for _, r := range c.snapshot() {
		v := string(r.Value)
		if seen[v] {
			t.Errorf("record %s delivered twice", v)
		}
		seen[v] = true
		key, _, _ := strings.Cut(v, "/")
		if key != string(r.Key) {
			t.Errorf("record %s has key %q", v, r.Key)
		}
		if prev, ok := last[key]; ok && v <= prev {
			t.Errorf("key %s: %s delivered after %s", key, v, prev)
		}
		last[key] = v
	}
	if len(seen) != total {
		t.Errorf("consumed %d distinct records, want %d", len(seen), total)
	}
}

// Values up to the maximum record size round-trip; a larger record is
// refused with ErrRecordTooLarge and nothing of its call is stored.
func (s *suite) testLargeValues(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "big", 1)

	// Leave room for the key and the id header within 1 MiB.
	big := bytes.Repeat([]byte("0123456789abcdef"), (stream.DefaultMaxRecordBytes-256)/16)
	in := &stream.Record{Topic: "big", Key: []byte("k"), Value: big}
	if err := b.Produce(ctx, in); err != nil {
		t.Fatalf("Produce %d-byte value: %v", len(big), err)
	}
	got, err := b.Read(ctx, "big", 0, 0, 10)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(got) != 1 || !bytes.Equal(got[0].Value, big) {
		t.Fatalf("Read returned %d records; want the %d-byte value back", len(got), len(big))
	}

	tooBig := make([]byte, stream.DefaultMaxRecordBytes+1)
	err = b.Produce(ctx, &stream.Record{Topic: "big", Value: []byte("small")}, &stream.Record{Topic: "big", Value: tooBig})
	wantErr(t, "Produce over the limit", err, stream.ErrRecordTooLarge)
	var pe *stream.ProduceError
	if !errors.As(err, &pe) || len(pe.Failed) != 2 {
		t.Errorf("Produce over the limit: error %v, want a ProduceError failing both records", err)
	}
	if err != nil && !strings.Contains(err.Error(), fmt.Sprint(stream.DefaultMaxRecordBytes)) {
		t.Errorf("error %q does not name the limit %d", err, stream.DefaultMaxRecordBytes)
	}
	info, err := b.DescribeTopic(ctx, "big")
	if err != nil {
		t.Fatalf("DescribeTopic: %v", err)
	}
	if n := info.Records(); n != 1 {
		t.Errorf("topic holds %d records after a refused call, want 1", n)
	}
}

// One consumer follows many topics at once.
func (s *suite) testManyTopics(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	const n = 40
	var topics []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("topic-%02d", i)
		topics = append(topics, name)
		createTopic(t, ctx, b, name, 1)
		produceN(t, ctx, b, name, 1, 1, nil)
	}
	list, err := b.ListTopics(ctx)
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	var names []string
	for _, ti := range list {
		names = append(names, ti.Name)
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("ListTopics not sorted by name: %v", names)
	}
	for _, want := range topics {
		if i := sort.SearchStrings(names, want); i == len(names) || names[i] != want {
			t.Errorf("ListTopics lacks %s", want)
		}
	}
	c := newCollector(t, 0)
	m := startMember(t, ctx, b, fastCfg("all", topics...), c.handler())
	c.waitCount(n, 60*time.Second)
	m.stop()
	c.check()
	got := map[string]bool{}
	for _, r := range c.snapshot() {
		got[r.Topic] = true
	}
	if len(got) != n {
		t.Errorf("consumed from %d topics, want %d", len(got), n)
	}
}

// Records can be read by partition and offset without a group.
func (s *suite) testReadByPosition(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "log", 1)
	in := produceN(t, ctx, b, "log", 50, 25, nil)

	got, err := b.Read(ctx, "log", 0, 10, 15)
	if err != nil {
		t.Fatalf("Read(10, 15): %v", err)
	}
	if len(got) == 0 || len(got) > 15 {
		t.Fatalf("Read(10, 15) returned %d records, want 1 to 15", len(got))
	}
	for i, r := range got {
		if r.Offset != int64(10+i) || !bytes.Equal(r.Value, in[10+i].Value) {
			t.Errorf("Read(10, 15)[%d] = offset %d value %q, want offset %d value %q", i, r.Offset, r.Value, 10+i, in[10+i].Value)
		}
	}
	if got, err := b.Read(ctx, "log", 0, 50, 10); err != nil || len(got) != 0 {
		t.Errorf("Read at the end = %d records, %v; want none and no error", len(got), err)
	}
	_, err = b.Read(ctx, "log", 0, 51, 10)
	wantErr(t, "Read past the end", err, stream.ErrOffsetOutOfRange)
	_, err = b.Read(ctx, "missing", 0, 0, 10)
	wantErr(t, "Read of an unknown topic", err, stream.ErrTopicNotFound)
	_, err = b.Read(ctx, "log", 7, 0, 10)
	wantErr(t, "Read of partition 7 of a 1-partition topic", err, stream.ErrInvalid)
	_, err = b.Read(ctx, "log", 0, -1, 10)
	wantErr(t, "Read at offset -1", err, stream.ErrInvalid)
}

// OffsetForTime finds the first record at or after a time.
func (s *suite) testOffsetForTime(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "timed", 1)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*stream.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, &stream.Record{Topic: "timed", Value: value(i), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	cases := []struct {
		at   time.Time
		want int64
	}{
		{base.Add(-time.Minute), 0},
		{base, 0},
		{base.Add(7 * time.Second), 7},
		{base.Add(7*time.Second + 500*time.Millisecond), 8},
		{base.Add(19 * time.Second), 19},
		{base.Add(time.Minute), 20},
	}
	for _, c := range cases {
		got, err := b.OffsetForTime(ctx, "timed", 0, c.at)
		if err != nil || got != c.want {
			t.Errorf("OffsetForTime(base%+v) = %d, %v; want %d", c.at.Sub(base), got, err, c.want)
		}
	}
	_, err := b.OffsetForTime(ctx, "nope", 0, base)
	wantErr(t, "OffsetForTime of an unknown topic", err, stream.ErrTopicNotFound)
}

// Consuming a topic that does not exist yet creates it (Strict off), and
// records produced later arrive.
func (s *suite) testConsumeCreatesTopic(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	c := newCollector(t, 0)
	m := startMember(t, ctx, b, fastCfg("early", "later"), c.handler())
	waitFor(t, 30*time.Second, func() bool {
		_, err := b.DescribeTopic(ctx, "later")
		return err == nil
	}, func() string { return "topic not created by Consume" })
	in := produceN(t, ctx, b, "later", 10, 10, func(i int) []byte { return []byte(fmt.Sprint(i)) })
	c.waitCount(10, 30*time.Second)
	m.stop()
	c.check()
	sameSet(t, c.snapshot(), in, false)
}

// Topics are created, described, listed and deleted; bad input is refused
// with errors that name the value.
func (s *suite) testTopicAdmin(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "admin.topic", 3)

	err := b.CreateTopic(ctx, stream.Topic{Name: "admin.topic", Partitions: 3})
	wantErr(t, "CreateTopic of an existing topic", err, stream.ErrTopicExists)
	for _, bad := range []stream.Topic{{Name: "bad name", Partitions: 1}, {Name: "ok", Partitions: 0}, {Name: "", Partitions: 1}} {
		err := b.CreateTopic(ctx, bad)
		wantErr(t, fmt.Sprintf("CreateTopic(%+v)", bad), err, stream.ErrInvalid)
	}

	produceN(t, ctx, b, "admin.topic", 30, 30, func(i int) []byte { return []byte(fmt.Sprint(i)) })
	info, err := b.DescribeTopic(ctx, "admin.topic")
	if err != nil {
		t.Fatalf("DescribeTopic: %v", err)
	}
	if info.Name != "admin.topic" || info.Partitions != 3 || len(info.Offsets) != 3 {
		t.Fatalf("DescribeTopic = %+v, want admin.topic with 3 partitions", info)
	}
	for i, p := range info.Offsets {
		if p.Partition != int32(i) || p.Start != 0 {
			t.Errorf("partition %d offsets %+v, want partition %d from 0", i, p, i)
		}
	}
	if n := info.Records(); n != 30 {
		t.Errorf("topic holds %d records, want 30", n)
	}

	_, err = b.DescribeTopic(ctx, "no.such.topic")
	wantErr(t, "DescribeTopic of an unknown topic", err, stream.ErrTopicNotFound)
	if err != nil && !strings.Contains(err.Error(), "no.such.topic") {
		t.Errorf("error %q does not name the topic", err)
	}

	if err := b.DeleteTopic(ctx, "admin.topic"); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	waitFor(t, 30*time.Second, func() bool {
		_, err := b.DescribeTopic(ctx, "admin.topic")
		return errors.Is(err, stream.ErrTopicNotFound)
	}, func() string { return "topic still described after DeleteTopic" })
	err = b.DeleteTopic(ctx, "admin.topic")
	wantErr(t, "DeleteTopic of a deleted topic", err, stream.ErrTopicNotFound)
}

// A cancelled context stops blocking calls promptly; a produce that fails
// this way never reports a record stored that was not.
func (s *suite) testContextCancellation(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	createTopic(t, ctx, b, "c", 1)

	done, cancel := context.WithCancel(ctx)
	cancel()
	r := &stream.Record{Topic: "c", Value: []byte("x")}
	if err := b.Produce(done, r); err == nil {
		// Storing it anyway is allowed, but then it must be readable.
		got, err := b.Read(ctx, "c", r.Partition, r.Offset, 1)
		if err != nil || len(got) != 1 || string(got[0].Value) != "x" {
			t.Errorf("Produce with a cancelled context reported success but Read = %v, %v", got, err)
		}
	}
	start := time.Now()
	if err := b.Consume(done, fastCfg("g", "c"), func(context.Context, []*stream.Record) error { return nil }); err != nil {
		t.Errorf("Consume with a cancelled context = %v, want nil", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Consume with a cancelled context took %s to return", d)
	}
	if _, err := b.Read(done, "c", 0, 0, 1); err == nil {
		t.Logf("Read with a cancelled context succeeded (allowed when served locally)")
	}

	// A handler blocked in its work sees cancellation and its records stay
	// uncommitted.
	produceN(t, ctx, b, "c", 5, 5, nil)
	entered := make(chan struct{}, 1)
	m := startMember(t, ctx, b, fastCfg("blocked", "c"), func(hctx context.Context, _ []*stream.Record) error {
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
	g, err := b.DescribeGroup(ctx, "blocked")
	if err != nil && !errors.Is(err, stream.ErrGroupNotFound) {
		t.Fatalf("DescribeGroup: %v", err)
	}
	if o, ok := offsetOf(g, "c", 0); ok && o.Committed != 0 {
		t.Errorf("group committed offset %d after its handler failed, want 0", o.Committed)
	}
}

// Consume returns nil when its context ends before it has joined the
// group, whatever it was doing then: on a topic it would create, on a broker
// that has not looked the topic up yet, and cancelled at any moment of
// joining.
func (s *suite) testCancelBeforeJoin(t *testing.T) {
	ctx := testContext(t)
	e := s.env(t)
	nop := func(context.Context, []*stream.Record) error { return nil }
	done, cancel := context.WithCancel(ctx)
	cancel()
	// Brokers are opened one at a time: an embedded log's directory takes
	// one process at a time.
	b := e.open()
	if err := b.Consume(done, fastCfg("early", "not.yet.created"), nop); err != nil {
		t.Errorf("Consume with a cancelled context on a topic not created yet = %v, want nil", err)
	}
	createTopic(t, ctx, b, "joined", 2)
	_ = b.Close()
	b = e.open() // knows nothing of the topic yet
	if err := b.Consume(done, fastCfg("early", "joined"), nop); err != nil {
		t.Errorf("Consume with a cancelled context on a fresh broker = %v, want nil", err)
	}
	_ = b.Close()
	// Cancelled while joining: at once, and after ever longer delays.
	for i, delay := range []time.Duration{0, 100 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond} {
		b := e.open()
		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- b.Consume(cctx, fastCfg(fmt.Sprintf("joining-%d", i), "joined"), nop) }()
		time.Sleep(delay) // the moment of cancellation, not a wait for a condition
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Consume cancelled %s after it started = %v, want nil", delay, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("Consume cancelled %s after it started did not return within 30s", delay)
		}
		_ = b.Close()
	}
}

// Brokers that tell topic sizes (stream.Sizer) count what topics hold.
func (s *suite) testTopicSizes(t *testing.T) {
	ctx := testContext(t)
	b := s.env(t).broker()
	sz, ok := b.(stream.Sizer)
	if !ok {
		t.Skip("broker does not implement stream.Sizer")
	}
	createTopic(t, ctx, b, "sized", 2)
	createTopic(t, ctx, b, "sized.empty", 1)
	produceN(t, ctx, b, "sized", 200, 50, func(i int) []byte { return bytes.Repeat([]byte{'x'}, 1000) })
	sizes, err := sz.TopicSizes(ctx, []string{"sized", "sized.empty", "no.such.topic"})
	if err != nil {
		t.Fatalf("TopicSizes: %v", err)
	}
	// 200 records of 1,000 bytes: whatever the engine's overhead and
	// compression, the topic takes some of it and the empty one less.
	if sizes["sized"] <= sizes["sized.empty"] || sizes["sized"] < 2000 {
		t.Errorf("TopicSizes = %v, want sized to hold more than sized.empty and at least 2,000 bytes", sizes)
	}
	if n, ok := sizes["no.such.topic"]; ok && n != 0 {
		t.Errorf("a topic that does not exist has size %d", n)
	}
}

// A missing (nil) key, value or header value stays missing and an empty one
// stays empty, as Kafka keeps them apart: a nil value is a tombstone. Every
// read path keeps them: by position (from the first record and from the
// middle of a batch), by a consumer group, and by a broker opened again on
// the same data once the first is closed.
func (s *suite) testNullAndEmpty(t *testing.T) {
	ctx := testContext(t)
	e := s.env(t)
	b := e.broker()
	createTopic(t, ctx, b, "nulls", 1)
	var in []*stream.Record
	for _, key := range [][]byte{nil, {}, []byte("k")} {
		for _, value := range [][]byte{nil, {}, []byte("v")} {
			in = append(in, &stream.Record{Topic: "nulls", Key: key, Value: value, Headers: []stream.Header{
				{Key: "null", Value: nil}, {Key: "empty", Value: []byte{}}, {Key: "n", Value: fmt.Appendf(nil, "%d", len(in))}}})
		}
	}
	in = append(in, &stream.Record{Topic: "nulls", Key: []byte("no-headers"), Value: []byte{}})
	if err := b.Produce(ctx, in...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	check := func(how string, got []*stream.Record, want []*stream.Record) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: got %d records, want %d", how, len(got), len(want))
		}
		for i, r := range got {
			if d := RecordDiff(r, want[i]); d != "" {
				t.Errorf("%s: record %d: %s", how, i, d)
			}
		}
	}
	got, err := b.Read(ctx, "nulls", 0, 0, 100)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	check("Read", got, in)
	if got, err = b.Read(ctx, "nulls", 0, 4, 100); err != nil {
		t.Fatalf("Read from offset 4: %v", err)
	}
	check("Read from offset 4", got, in[4:])
	c := newCollector(t, 0)
	m := startMember(t, ctx, b, fastCfg("nulls", "nulls"), c.handler())
	c.waitCount(len(in), 30*time.Second)
	m.stop()
	check("Consume", c.snapshot(), in)
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if got, err = e.broker().Read(ctx, "nulls", 0, 0, 100); err != nil {
		t.Fatalf("Read on a second broker: %v", err)
	}
	check("Read on a second broker", got, in)
}

// RecordDiff describes how got differs from want in key, value or headers,
// telling nil from empty, or returns "" when they are the same. Topic,
// partition, offset and timestamp are not compared.
func RecordDiff(got, want *stream.Record) string {
	same := func(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
	if !same(got.Key, want.Key) || !same(got.Value, want.Value) {
		return fmt.Sprintf("key %s value %s, want key %s value %s", nilOr(got.Key), nilOr(got.Value), nilOr(want.Key), nilOr(want.Value))
	}
	if len(got.Headers) != len(want.Headers) {
		return fmt.Sprintf("%d headers, want %d", len(got.Headers), len(want.Headers))
	}
	for i, h := range want.Headers {
		if g := got.Headers[i]; g.Key != h.Key || !same(g.Value, h.Value) {
			return fmt.Sprintf("header %d: %q=%s, want %q=%s", i, g.Key, nilOr(g.Value), h.Key, nilOr(h.Value))
		}
	}
	return ""
}

func nilOr(b []byte) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", b)
}
