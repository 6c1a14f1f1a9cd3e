package dlq_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

// seed fills orders.g.dlq with dead letters of records with keys k0..k5:
// k0..k2 failed with "timeout talking to db", k3..k4 with "bad total",
// k5 with "missing field". The first three are dead-lettered at t0, the
// rest at t1.
func seed(t *testing.T, b stream.Broker) (t0, t1 time.Time) {
	t.Helper()
	t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Hour)
	errs := []string{"timeout talking to db", "timeout talking to db", "timeout talking to db", "bad total", "bad total", "missing field"}
	var recs []*stream.Record
	for i, e := range errs {
		orig := &stream.Record{Topic: "orders", Partition: 0, Offset: int64(i), Key: []byte("k" + string(rune('0'+i))), Value: []byte("v"),
			Headers: []stream.Header{{Key: stream.HeaderID, Value: []byte("id-" + string(rune('0'+i)))}}}
		d := consume.DeadLetterRecord(orig, "g", errors.New(e), t0)
		d.Timestamp = t0
		if i >= 3 {
			d.Timestamp = t1
		}
		recs = append(recs, d)
	}
	if err := b.CreateTopic(context.Background(), stream.Topic{Name: "orders.g.dlq", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	produce(t, b, recs...)
	return t0, t1
}

func keys(letters []dlq.Letter) []string {
	var ks []string
	for _, l := range letters {
		ks = append(ks, string(l.Record.Key))
	}
	return ks
}

func TestRecordsFilter(t *testing.T) {
	b := brokertest.Embedded.Open(t)
	t0, t1 := seed(t, b)
	m := newManager(t, b)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		f    dlq.Filter
		want []string
	}{
		{"all", dlq.Filter{}, []string{"k0", "k1", "k2", "k3", "k4", "k5"}},
		{"error substring any case", dlq.Filter{Error: "TIMEOUT"}, []string{"k0", "k1", "k2"}},
		{"key", dlq.Filter{Key: "k4"}, []string{"k4"}},
		{"from", dlq.Filter{From: t1}, []string{"k3", "k4", "k5"}},
		{"to", dlq.Filter{To: t1}, []string{"k0", "k1", "k2"}},
		{"range and error", dlq.Filter{From: t0, To: t1.Add(time.Second), Error: "bad"}, []string{"k3", "k4"}},
		{"positions", dlq.Filter{Positions: []dlq.Position{{0, 1}, {0, 5}}}, []string{"k1", "k5"}},
		{"limit", dlq.Filter{Limit: 2}, []string{"k0", "k1"}},
		{"no match", dlq.Filter{Key: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Records(ctx, "orders.g.dlq", tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(keys(got), tc.want) {
				t.Errorf("got %v, want %v", keys(got), tc.want)
			}
		})
	}
	l, err := m.Get(ctx, "orders.g.dlq", dlq.Position{Partition: 0, Offset: 3})
	if err != nil {
		t.Fatal(err)
	}
	if l.Topic != "orders" || l.Group != "g" || l.OriginalOffset != 3 || l.Error != "bad total" || l.Attempts != 1 ||
		l.State != dlq.StatePending || !l.FirstFailure.Equal(t0) || l.Record.ID() != "id-3" {
		t.Errorf("Get: got %+v", l)
	}
	if _, err := m.Get(ctx, "orders.g.dlq", dlq.Position{Partition: 0, Offset: 99}); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("Get past the end: got %v, want ErrNotFound", err)
	}
	for _, name := range []string{"nope.g.dlq", "orders"} {
		if _, err := m.Records(ctx, name, dlq.Filter{}); !errors.Is(err, dlq.ErrNotFound) {
			t.Errorf("Records(%s): got %v, want ErrNotFound", name, err)
		}
	}
}

func TestReasons(t *testing.T) {
	b := brokertest.Embedded.Open(t)
	t0, t1 := seed(t, b)
	got, err := newManager(t, b).Reasons(context.Background(), "orders.g.dlq", dlq.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []dlq.Reason{
		{Error: "timeout talking to db", Count: 3, First: t0, Last: t0},
		{Error: "bad total", Count: 2, First: t1, Last: t1},
		{Error: "missing field", Count: 1, First: t1, Last: t1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d reasons %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].Error != want[i].Error || got[i].Count != want[i].Count || !got[i].First.Equal(want[i].First) || !got[i].Last.Equal(want[i].Last) {
			t.Errorf("reason %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestDiscard: discarded letters are not listed, and replaying all skips
// them; replayed ones are marked too. List counts what is pending.
func TestDiscard(t *testing.T) {
	b := brokertest.Embedded.Open(t)
	seed(t, b)
	m := newManager(t, b)
	ctx := context.Background()
	n, err := m.Discard(ctx, "orders.g.dlq", dlq.Filter{Error: "bad total"})
	if err != nil || n != 2 {
		t.Fatalf("Discard: got %d, %v; want 2, nil", n, err)
	}
	if n, err := m.Discard(ctx, "orders.g.dlq", dlq.Filter{Error: "bad total"}); err != nil || n != 0 {
		t.Errorf("Discard again: got %d, %v; want 0 (already discarded)", n, err)
	}
	n, err = m.Replay(ctx, "orders.g.dlq", dlq.Filter{Positions: []dlq.Position{{0, 0}}})
	if err != nil || n != 1 {
		t.Fatalf("Replay one: got %d, %v; want 1, nil", n, err)
	}
	got, _ := m.Records(ctx, "orders.g.dlq", dlq.Filter{})
	if want := []string{"k1", "k2", "k5"}; !slices.Equal(keys(got), want) {
		t.Errorf("pending after discard and replay: got %v, want %v", keys(got), want)
	}
	all, _ := m.Records(ctx, "orders.g.dlq", dlq.Filter{All: true})
	states := map[string]string{}
	for _, l := range all {
		states[string(l.Record.Key)] = l.State
	}
	if states["k0"] != dlq.StateReplayed || states["k3"] != dlq.StateDiscarded || states["k5"] != dlq.StatePending {
		t.Errorf("states: got %v", states)
	}
	n, err = m.Replay(ctx, "orders.g.dlq", dlq.Filter{})
	if err != nil || n != 3 {
		t.Fatalf("Replay all: got %d, %v; want 3 (the discarded and the replayed skipped)", n, err)
	}
	retried, err := b.Read(ctx, "orders.g.retry", 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"k0", "k1", "k2", "k5"}; !slices.Equal(keys(lettersOf(retried)), want) {
		t.Errorf("retry topic holds %v, want %v", keys(lettersOf(retried)), want)
	}
	if got := string(mustHeader(t, retried[0], consume.HeaderDLQReplays)); got != "1" {
		t.Errorf("replays header: got %q, want 1", got)
	}
	qs, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 || qs[0].Name != "orders.g.dlq" || qs[0].Records != 6 || qs[0].Pending != 0 || qs[0].Topic != "orders" || qs[0].Group != "g" {
		t.Errorf("List: got %+v, want orders.g.dlq for orders/g with 6 records, 0 pending", qs)
	}
}

func lettersOf(recs []*stream.Record) []dlq.Letter {
	var ls []dlq.Letter
	for _, r := range recs {
		ls = append(ls, dlq.Letter{Record: r})
	}
	return ls
}

func mustHeader(t *testing.T, r *stream.Record, key string) []byte {
	t.Helper()
	v, ok := r.Header(key)
	if !ok {
		t.Fatalf("record has no header %s", key)
	}
	return v
}
