package deliverylog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

func openLog(t *testing.T, base store.Config, mod func(*Config)) *Log {
	t.Helper()
	base.Component = "relay_log"
	db, err := store.Open(context.Background(), base)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := Config{DB: db, FlushInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	l, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

// run starts the writer; the returned func stops it and waits.
func run(t *testing.T, l *Log) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return stop
}

func entry(i int, status Status, at time.Time) Entry {
	route := []string{"r1", "r2"}[i%2]
	return Entry{Time: at, RecordID: fmt.Sprintf("rec-%03d", i), Dataset: "items", Application: []string{"shop", "pos", ""}[i%3],
		RouteID: route, Route: "route " + route, DestinationID: "d-" + route, Destination: "db " + route, DestinationHost: "db.example:5432",
		Topic: "relay.items", Partition: int32(i % 4), Offset: int64(i), RecordTime: at.Add(-time.Second),
		Status: status, Attempts: 1, Row: []byte(fmt.Sprintf(`{"id":%d}`, i)), Error: ""}
}

func TestLog(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		l := openLog(t, base, nil)
		stop := run(t, l)
		ctx := context.Background()
		t0 := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
		var all []Entry
		for i := range 30 {
			st := Delivered
			switch {
			case i%10 == 3:
				st = Skipped
			case i%10 == 7:
				st = DeadLettered
			}
			e := entry(i, st, t0.Add(time.Duration(i/2)*time.Second)) // pairs share a time
			if st == DeadLettered {
				e.Error, e.Attempts = "sink: check constraint", 3
			}
			all = append(all, e)
		}
		l.Add(all...)
		stop() // writes what is queued

		// Walk every page of 7: newest first, nothing twice, nothing lost.
		var got []string
		q := Query{Limit: 7}
		for pages := 0; ; pages++ {
			p, err := l.Query(ctx, q)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			for _, e := range p.Entries {
				got = append(got, e.RecordID)
			}
			if p.Next == "" {
				break
			}
			if pages > 10 {
				t.Fatal("too many pages")
			}
			q.After = p.Next
		}
		if len(got) != 30 {
			t.Fatalf("entries over all pages = %d, want 30: %v", len(got), got)
		}
		// Newest first; the two entries of one time in either order: their
		// ids depend on how the writer batched them.
		for k := range 15 {
			a, b := got[2*k], got[2*k+1]
			hi, lo := fmt.Sprintf("rec-%03d", 29-2*k), fmt.Sprintf("rec-%03d", 28-2*k)
			if (a != hi || b != lo) && (a != lo || b != hi) {
				t.Errorf("order = %v, want newest first", got)
				break
			}
		}
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Errorf("%s on two pages", id)
			}
			seen[id] = true
		}

		p, err := l.Query(ctx, Query{RecordID: "rec-007"})
		if err != nil || len(p.Entries) != 1 {
			t.Fatalf("by record = %v, %v", p, err)
		}
		e := p.Entries[0]
		want := all[7]
		want.ID = e.ID
		if fmt.Sprint(e) != fmt.Sprint(want) {
			t.Errorf("entry =\n%+v, want\n%+v", e, want)
		}

		for _, tc := range []struct {
			name string
			q    Query
			want int
		}{
			{"route", Query{RouteID: "r1"}, 15},
			{"destination", Query{DestinationID: "d-r2"}, 15},
			{"dataset", Query{Dataset: "items"}, 30},
			{"other dataset", Query{Dataset: "users"}, 0},
			{"application", Query{Application: "shop"}, 10},
			{"status", Query{Status: DeadLettered}, 3},
			{"skipped on r2", Query{Status: Skipped, RouteID: "r2"}, 3},
			{"time range", Query{Since: t0.Add(5 * time.Second), Until: t0.Add(10 * time.Second)}, 10},
		} {
			p, err := l.Query(ctx, tc.q)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if len(p.Entries) != tc.want {
				t.Errorf("%s: %d entries, want %d", tc.name, len(p.Entries), tc.want)
			}
		}

		for _, bad := range []Query{{Status: "lost"}, {Limit: 5000}, {After: "nope"}} {
			if _, err := l.Query(ctx, bad); !errors.Is(err, ErrInvalidQuery) {
				t.Errorf("Query(%+v) error = %v, want ErrInvalidQuery", bad, err)
			}
		}

		counts, err := l.Counts(ctx, Query{RouteID: "r2"})
		if err != nil {
			t.Fatalf("Counts: %v", err)
		}
		if got, want := fmt.Sprint(counts), "map[dead_lettered:3 delivered:9 skipped:3]"; got != want {
			t.Errorf("Counts(r2) = %s, want %s", got, want)
		}

		n, err := l.DeleteBefore(ctx, t0.Add(5*time.Second))
		if err != nil || n != 10 {
			t.Errorf("DeleteBefore = %d, %v; want 10", n, err)
		}
	})
}

// TestRetention: Run deletes entries older than Retention.
func TestRetention(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		now := time.Now()
		l := openLog(t, base, func(c *Config) {
			c.Retention = 24 * time.Hour
			c.RetentionInterval = 30 * time.Millisecond
		})
		stop := run(t, l)
		l.Add(entry(1, Delivered, now.Add(-48*time.Hour)), entry(2, Delivered, now))
		deadline := time.Now().Add(10 * time.Second)
		for {
			p, err := l.Query(context.Background(), Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Entries) == 1 && p.Entries[0].RecordID == "rec-002" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("entries = %+v, want only rec-002", p.Entries)
			}
			time.Sleep(20 * time.Millisecond)
		}
		stop()
	})
}

// TestFullQueueDrops: Add never blocks; what does not fit is counted.
func TestFullQueueDrops(t *testing.T) {
	l := openLog(t, store.Config{Dir: t.TempDir()}, func(c *Config) { c.QueueSize = 5 })
	var batch []Entry
	for i := range 8 {
		batch = append(batch, entry(i, Delivered, time.Now()))
	}
	l.Add(batch...) // no writer running: the queue fills
	if got := l.Dropped(); got != 3 {
		t.Errorf("Dropped = %d, want 3", got)
	}
	stop := run(t, l)
	stop()
	p, err := l.Query(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 5 {
		t.Errorf("entries written = %d, want 5", len(p.Entries))
	}
}

// A store that refuses writes for a moment loses nothing: the writer tries
// the batch again until the store takes it.
func TestWriteRetries(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		l := openLog(t, base, nil)
		// The table goes away, so every write fails until it is back.
		if _, err := l.db.ExecContext(ctx, `ALTER TABLE relay_log RENAME TO relay_log_away`); err != nil {
			t.Fatal(err)
		}
		run(t, l)
		l.Add(entry(1, Delivered, time.Now()), entry(2, Skipped, time.Now()), entry(3, Delivered, time.Now()))
		waitUntil(t, "a failed write tried again", func() bool { return l.Retries() > 0 })
		if _, err := l.db.ExecContext(ctx, `ALTER TABLE relay_log_away RENAME TO relay_log`); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the entries written", func() bool {
			p, err := l.Query(ctx, Query{})
			return err == nil && len(p.Entries) == 3
		})
		if n := l.Dropped(); n != 0 {
			t.Errorf("Dropped = %d, want 0", n)
		}
	})
}

// Entries being written when the writer is told to stop are not lost to
// the stop: a write failing at that moment is tried again after it.
func TestStopLetsTheWriteInFlightFinish(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		l := openLog(t, base, nil)
		if _, err := l.db.ExecContext(ctx, `ALTER TABLE relay_log RENAME TO relay_log_away`); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- l.Run(rctx) }()
		l.Add(entry(1, Delivered, time.Now()), entry(2, Skipped, time.Now()), entry(3, Delivered, time.Now()))
		waitUntil(t, "a failed write tried again", func() bool { return l.Retries() > 0 })
		cancel() // the writer is told to stop while its write waits to be tried again
		if _, err := l.db.ExecContext(ctx, `ALTER TABLE relay_log_away RENAME TO relay_log`); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		p, err := l.Query(ctx, Query{})
		if err != nil || len(p.Entries) != 3 || l.Dropped() != 0 {
			t.Errorf("after the stop: %d entries written (%v), %d dropped; want 3 and 0", len(p.Entries), err, l.Dropped())
		}
	})
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// The same entry added twice is kept once; Flush waits for what was added;
// LastOffset is a route's highest offset of a partition.
func TestFlushLastOffsetAndOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		l := openLog(t, base, func(c *Config) { c.FlushInterval = time.Hour })
		run(t, l)
		if _, ok, err := l.LastOffset(ctx, "r1", "relay.items", 1); err != nil || ok {
			t.Fatalf("LastOffset of an empty log = %v, %v", ok, err)
		}
		now := time.Now()
		l.Add(entry(1, Delivered, now), entry(5, Delivered, now), entry(9, Skipped, now), entry(1, Delivered, now))
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// Nothing else writes within the hour-long flush interval: the
		// entries are there because of Flush.
		p, err := l.Query(ctx, Query{})
		if err != nil || len(p.Entries) != 3 {
			t.Fatalf("entries after Flush = %d, %v; want 3 (the repeated one once)", len(p.Entries), err)
		}
		last, ok, err := l.LastOffset(ctx, "r2", "relay.items", 1)
		if err != nil || !ok || last != 9 {
			t.Errorf("LastOffset(r2, partition 1) = %d, %v, %v; want 9", last, ok, err)
		}
	})
}

func TestHideRowsLeavesOutTheRowsOfMaskedTopics(t *testing.T) {
	p := Page{Entries: []Entry{
		{RecordID: "a", Topic: "relay.cards", Row: json.RawMessage(`{"number":"4111111111114242"}`)},
		{RecordID: "b", Topic: "relay.cars", Row: json.RawMessage(`{"name":"porche"}`)},
	}}
	if err := p.HideRows(func(topic string) (bool, error) { return topic == "relay.cards", nil }); err != nil {
		t.Fatal(err)
	}
	if p.Entries[0].Row != nil || !p.Entries[0].RowMasked {
		t.Errorf("the masked topic's row is shown: %+v", p.Entries[0])
	}
	if string(p.Entries[1].Row) != `{"name":"porche"}` || p.Entries[1].RowMasked {
		t.Errorf("another topic's row was hidden: %+v", p.Entries[1])
	}
	b, _ := json.Marshal(p.Entries[0])
	if strings.Contains(string(b), "4111") || !strings.Contains(string(b), `"row_masked":true`) {
		t.Errorf("JSON of a masked entry: %s", b)
	}
}

// Entries of one route are inserted together, binding the route's columns
// once: every entry must still come back with its own columns, in runs
// longer than one INSERT, runs of one, and with an entry repeated.
func TestWriteRunsOfRoutes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		l := openLog(t, base, nil)
		ctx := context.Background()
		t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond).UTC()
		var in []Entry
		add := func(n int, route string) {
			for range n {
				i := len(in)
				e := entry(i, Delivered, t0.Add(time.Duration(i)*time.Millisecond))
				e.RouteID, e.Route, e.DestinationID, e.Topic = route, "route "+route, "d-"+route, "relay.items."+route
				if i%7 == 0 {
					e.Status, e.Error, e.Row = Failed, fmt.Sprintf("error %d", i), nil
				}
				in = append(in, e)
			}
		}
		add(2*entriesPerStmt+30, "r1")
		add(3, "r2")
		add(1, "r1")
		add(1, "r3")
		add(entriesPerStmt, "r2")
		batch := append(append([]Entry{}, in...), in[5]) // written twice: kept once
		if err := l.write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		p, err := l.Query(ctx, Query{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Entries) != len(in) {
			t.Fatalf("%d entries, want %d", len(p.Entries), len(in))
		}
		for i, got := range p.Entries {
			want := in[len(in)-1-i] // newest first
			got.ID = 0
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("entry %d:\n got %+v\nwant %+v", len(in)-1-i, got, want)
			}
		}
	})
}
