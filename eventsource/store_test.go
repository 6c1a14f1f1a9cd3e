package eventsource_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
)

// openStore opens the event store of a fresh "orders" database of base.
func openStore(t testing.TB, base store.Config) *eventsource.Store {
	t.Helper()
	base.Component = "orders"
	base.MaxOpenConns = 20
	db, err := store.Open(context.Background(), base)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	es, err := eventsource.Open(context.Background(), db, eventsource.Config{})
	if err != nil {
		t.Fatalf("open event store: %v", err)
	}
	return es
}

func ev(typ string, data any) eventsource.Event {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return eventsource.Event{Type: typ, Data: b}
}

func TestAppendAndLoad(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		es := openStore(t, base)
		got, err := es.Append(ctx, "order-1", eventsource.NoStream, ev("placed", 1), ev("paid", 2))
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		if got[0].Version != 1 || got[1].Version != 2 || got[0].Position <= 0 || got[1].Position <= got[0].Position {
			t.Fatalf("appended versions/positions: got %d/%d, %d/%d, want 1, 2 with increasing positions",
				got[0].Version, got[0].Position, got[1].Version, got[1].Position)
		}
		if _, err := es.Append(ctx, "order-2", eventsource.AnyVersion, ev("placed", 3)); err != nil {
			t.Fatalf("append any version: %v", err)
		}
		_, err = es.Append(ctx, "order-1", 1, ev("shipped", 4))
		var ce *eventsource.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, eventsource.ErrConflict) {
			t.Fatalf("append at a stale version: got %v, want a *ConflictError matching ErrConflict", err)
		}
		if ce.StreamID != "order-1" || ce.Expected != 1 || ce.Actual != 2 {
			t.Errorf("conflict: got stream %q expected %d actual %d, want order-1 1 2", ce.StreamID, ce.Expected, ce.Actual)
		}
		if _, err := es.Append(ctx, "order-1", eventsource.NoStream, ev("placed", 5)); !errors.Is(err, eventsource.ErrConflict) {
			t.Errorf("append NoStream to an existing stream: got %v, want ErrConflict", err)
		}
		if _, err := es.Append(ctx, "order-1", 2, eventsource.Event{Type: "shipped", Metadata: json.RawMessage(`{"by":"ana"}`)}); err != nil {
			t.Fatalf("append at version 2: %v", err)
		}
		all, err := es.Load(ctx, "order-1", 0)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		var types []string
		for i, e := range all {
			types = append(types, e.Type)
			if e.Version != int64(i+1) || e.StreamID != "order-1" {
				t.Errorf("event %d: got stream %q version %d, want order-1 %d", i, e.StreamID, e.Version, i+1)
			}
		}
		if got, want := strings.Join(types, ","), "placed,paid,shipped"; got != want {
			t.Errorf("loaded types: got %s, want %s", got, want)
		}
		if got, want := string(all[2].Data), "null"; got != want {
			t.Errorf("data of an event without data: got %s, want %s", got, want)
		}
		if got, want := string(all[2].Metadata), `{"by":"ana"}`; got != want {
			t.Errorf("metadata: got %s, want %s", got, want)
		}
		after, err := es.Load(ctx, "order-1", 2)
		if err != nil || len(after) != 1 || after[0].Type != "shipped" {
			t.Errorf("load after version 2: got %v %v, want the shipped event", after, err)
		}
		if v, err := es.Version(ctx, "order-1"); err != nil || v != 3 {
			t.Errorf("version: got %d %v, want 3", v, err)
		}
		if v, err := es.Version(ctx, "nobody"); err != nil || v != 0 {
			t.Errorf("version of an empty stream: got %d %v, want 0", v, err)
		}
		every, err := es.ReadAll(ctx, 0, 100)
		if err != nil || len(every) != 4 {
			t.Fatalf("read all: got %d events %v, want 4", len(every), err)
		}
		for i := 1; i < len(every); i++ {
			if every[i].Position <= every[i-1].Position {
				t.Errorf("read all: position %d after %d", every[i].Position, every[i-1].Position)
			}
		}
	})
}

func TestAppendRejects(t *testing.T) {
	es := openStore(t, store.Config{Dir: t.TempDir()})
	tests := []struct {
		name     string
		stream   string
		expected int64
		events   []eventsource.Event
		want     string
	}{
		{"empty stream id", "", 0, []eventsource.Event{ev("a", 1)}, "stream id is empty"},
		{"long stream id", strings.Repeat("x", 201), 0, []eventsource.Event{ev("a", 1)}, "the maximum is 200"},
		{"no events", "s", 0, nil, "no events"},
		{"bad expected", "s", -2, []eventsource.Event{ev("a", 1)}, "expected version -2"},
		{"empty type", "s", 0, []eventsource.Event{{Data: json.RawMessage(`1`)}}, "type is empty"},
		{"bad data", "s", 0, []eventsource.Event{{Type: "a", Data: json.RawMessage(`{`)}}, "data is not valid JSON"},
		{"bad metadata", "s", 0, []eventsource.Event{{Type: "a", Metadata: json.RawMessage(`x`)}}, "metadata is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := es.Append(context.Background(), tt.stream, tt.expected, tt.events...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if v, _ := es.Version(context.Background(), "s"); v != 0 {
		t.Errorf("refused appends wrote events: version %d", v)
	}
}

// Of N appenders at the same expected version, exactly one wins; the
// others get a conflict, and the stream holds the winner's event only.
func TestConcurrentAppendersOneWins(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		es := openStore(t, base)
		const appenders, rounds = 16, 10
		for round := range rounds {
			stream := fmt.Sprintf("hot-%d", round)
			if _, err := es.Append(ctx, stream, eventsource.NoStream, ev("opened", round)); err != nil {
				t.Fatalf("open stream: %v", err)
			}
			var wins, conflicts int
			var mu sync.Mutex
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range appenders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, err := es.Append(ctx, stream, 1, ev("took", i))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errors.Is(err, eventsource.ErrConflict):
						conflicts++
					default:
						t.Errorf("append: %v", err)
					}
				}()
			}
			close(start)
			wg.Wait()
			if wins != 1 || conflicts != appenders-1 {
				t.Fatalf("round %d: got %d wins and %d conflicts, want 1 and %d", round, wins, conflicts, appenders-1)
			}
			if v, _ := es.Version(ctx, stream); v != 2 {
				t.Fatalf("round %d: stream version %d, want 2", round, v)
			}
		}
	})
}

func TestSnapshots(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		es := openStore(t, base)
		for i := range 5 {
			if _, err := es.Append(ctx, "counter", int64(i), ev("added", i+1)); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
		_, events, ok, err := es.LoadSnapshot(ctx, "counter")
		if err != nil || ok || len(events) != 5 {
			t.Fatalf("load without snapshot: got ok=%v %d events %v, want no snapshot and 5 events", ok, len(events), err)
		}
		if err := es.SaveSnapshot(ctx, eventsource.Snapshot{StreamID: "counter", Version: 3, Data: json.RawMessage(`6`)}); err != nil {
			t.Fatalf("save snapshot: %v", err)
		}
		if err := es.SaveSnapshot(ctx, eventsource.Snapshot{StreamID: "counter", Version: 2, Data: json.RawMessage(`3`)}); err != nil {
			t.Fatalf("save older snapshot: %v", err)
		}
		snap, events, ok, err := es.LoadSnapshot(ctx, "counter")
		if err != nil || !ok {
			t.Fatalf("load snapshot: ok=%v %v", ok, err)
		}
		if snap.Version != 3 || string(snap.Data) != "6" || len(events) != 2 || events[0].Version != 4 {
			t.Errorf("load snapshot: got version %d data %s and %d events, want version 3 data 6 and events 4, 5",
				snap.Version, snap.Data, len(events))
		}
		if err := es.SaveSnapshot(ctx, eventsource.Snapshot{StreamID: "counter", Version: 1, Data: json.RawMessage(`{`)}); err == nil {
			t.Error("save snapshot with bad JSON: got no error")
		}

		// An aggregate folds the same state with and without snapshots.
		sum := func(s int, e eventsource.Event) (int, error) {
			var n int
			err := json.Unmarshal(e.Data, &n)
			return s + n, err
		}
		plain := &eventsource.Aggregate[int]{Store: es, New: func() int { return 0 }, Apply: sum}
		snapped := &eventsource.Aggregate[int]{Store: es, New: func() int { return 0 }, Apply: sum, SnapshotEvery: 4}
		for i := range 10 {
			if _, err := snapped.Update(ctx, "sum", func(s int, v int64) ([]eventsource.Event, error) {
				return []eventsource.Event{ev("added", i)}, nil
			}); err != nil {
				t.Fatalf("update: %v", err)
			}
		}
		snap, _, ok, err = es.LoadSnapshot(ctx, "sum")
		if err != nil || !ok || snap.Version != 8 || string(snap.Data) != "28" {
			t.Errorf("aggregate snapshot: got ok=%v version %d data %s %v, want version 8 data 28", ok, snap.Version, snap.Data, err)
		}
		a, va, err1 := plain.Load(ctx, "sum")
		b, vb, err2 := snapped.Load(ctx, "sum")
		if err1 != nil || err2 != nil || a != 45 || b != 45 || va != 10 || vb != 10 {
			t.Errorf("load: plain %d@%d %v, from snapshot %d@%d %v, want 45@10 both", a, va, err1, b, vb, err2)
		}
		if err := es.DeleteSnapshots(ctx); err != nil {
			t.Fatalf("delete snapshots: %v", err)
		}
		if _, _, ok, _ := es.LoadSnapshot(ctx, "sum"); ok {
			t.Error("snapshot left after DeleteSnapshots")
		}
	})
}

// Events and the outbox records that publish them commit together: a
// failed transaction, a conflict or a refused record leaves neither.
func TestOutboxAtomic(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		es := openStore(t, base)
		ob, err := outbox.Open(ctx, es.DB(), outbox.Config{})
		if err != nil {
			t.Fatalf("open outbox: %v", err)
		}
		check := func(wantEvents int64, wantRecords int64) {
			t.Helper()
			v, err := es.Version(ctx, "order-1")
			if err != nil {
				t.Fatal(err)
			}
			n, _, err := ob.Pending(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v != wantEvents || n != wantRecords {
				t.Fatalf("got %d events and %d outbox records, want %d and %d", v, n, wantEvents, wantRecords)
			}
		}
		if _, err := es.AppendPublish(ctx, ob, "orders.events", "order-1", eventsource.NoStream, ev("placed", 1), ev("paid", 2)); err != nil {
			t.Fatalf("append and publish: %v", err)
		}
		check(2, 2)
		if _, err := es.AppendPublish(ctx, ob, "orders.events", "order-1", 1, ev("paid", 3)); !errors.Is(err, eventsource.ErrConflict) {
			t.Fatalf("append and publish at a stale version: got %v, want a conflict", err)
		}
		check(2, 2)
		if _, err := es.AppendPublish(ctx, ob, "bad topic!", "order-1", 2, ev("shipped", 4)); err == nil {
			t.Fatal("publish to an invalid topic: got no error")
		}
		check(2, 2)
		boom := errors.New("boom")
		err = es.DB().InTx(ctx, func(tx *sql.Tx) error {
			out, err := es.AppendTx(ctx, tx, "order-1", 2, ev("shipped", 5))
			if err != nil {
				return err
			}
			if err := eventsource.PublishTx(ctx, tx, ob, "orders.events", out); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("failed transaction: got %v, want boom", err)
		}
		check(2, 2)
	})
}

// Concurrent updates through an Aggregate lose none: each conflict makes
// the loser load again and decide again.
func TestAggregateUpdateRetries(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		es := openStore(t, base)
		counter := &eventsource.Aggregate[int]{
			Store:       es,
			New:         func() int { return 0 },
			Apply:       func(n int, e eventsource.Event) (int, error) { return n + 1, nil },
			MaxAttempts: 100,
		}
		const workers, each = 8, 10
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					if _, err := counter.Update(ctx, "counter", func(n int, v int64) ([]eventsource.Event, error) {
						return []eventsource.Event{ev("incremented", n+1)}, nil
					}); err != nil {
						t.Errorf("update: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		n, v, err := counter.Load(ctx, "counter")
		if err != nil || n != workers*each || v != workers*each {
			t.Fatalf("counter: got %d at version %d %v, want %d", n, v, err, workers*each)
		}
		// Each event's data is the count its writer decided on: no two
		// writers decided on the same state.
		events, err := es.Load(ctx, "counter", 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range events {
			if got, want := string(e.Data), fmt.Sprint(i+1); got != want {
				t.Fatalf("event %d: data %s, want %s", i+1, got, want)
			}
		}
		// A decision that fails appends nothing and returns its error.
		boom := errors.New("no")
		if _, err := counter.Update(ctx, "counter", func(int, int64) ([]eventsource.Event, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Errorf("failing decision: got %v, want its error", err)
		}
	})
}

func TestRecord(t *testing.T) {
	e := eventsource.Event{StreamID: "order-1", Version: 3, Type: "paid", Data: json.RawMessage(`{"amount":150000}`),
		Metadata: json.RawMessage(`{"by":"cashier-2"}`), Position: 42}
	r := eventsource.Record("orders.events", e)
	if r.Topic != "orders.events" || string(r.Key) != "order-1" || string(r.Value) != `{"amount":150000}` {
		t.Errorf("record: got topic %s key %s value %s", r.Topic, r.Key, r.Value)
	}
	for key, want := range map[string]string{
		eventsource.HeaderStream: "order-1", eventsource.HeaderVersion: "3", eventsource.HeaderType: "paid",
		eventsource.HeaderPosition: "42", eventsource.HeaderMetadata: `{"by":"cashier-2"}`,
	} {
		if got, _ := r.Header(key); string(got) != want {
			t.Errorf("header %s: got %q, want %q", key, got, want)
		}
	}
}

func TestAppendStreamsTx(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		es := openStore(t, base)
		if _, err := es.Append(ctx, "a", eventsource.NoStream, ev("placed", 0)); err != nil {
			t.Fatal(err)
		}
		parts := []eventsource.StreamAppend{
			{StreamID: "a", Expected: 1, Events: []eventsource.Event{ev("paid", 1)}},
			{StreamID: "b", Expected: eventsource.NoStream, Events: []eventsource.Event{ev("placed", 2), ev("paid", 3)}},
			{StreamID: "a", Expected: 2, Events: []eventsource.Event{ev("shipped", 4)}},
			{StreamID: "c", Expected: eventsource.AnyVersion, Events: []eventsource.Event{ev("placed", 5)}},
		}
		var got [][]eventsource.Event
		err := es.DB().InTx(ctx, func(tx *sql.Tx) error {
			var err error
			got, err = es.AppendStreamsTx(ctx, tx, parts)
			return err
		})
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		want := []string{"a/2", "b/1", "b/2", "a/3", "c/1"}
		var pos int64
		k := 0
		for _, evs := range got {
			for _, e := range evs {
				if s := fmt.Sprintf("%s/%d", e.StreamID, e.Version); k >= len(want) || s != want[k] || e.Position <= pos {
					t.Errorf("event %d: got %s at position %d, want %s after position %d", k, s, e.Position, want[min(k, len(want)-1)], pos)
				}
				pos = e.Position
				k++
			}
		}
		if k != len(want) {
			t.Errorf("got %d events, want %d", k, len(want))
		}
		// A stale part fails the call, naming its stream, and nothing of
		// it is appended.
		err = es.DB().InTx(ctx, func(tx *sql.Tx) error {
			_, err := es.AppendStreamsTx(ctx, tx, []eventsource.StreamAppend{
				{StreamID: "c", Expected: 1, Events: []eventsource.Event{ev("paid", 6)}},
				{StreamID: "b", Expected: 1, Events: []eventsource.Event{ev("shipped", 7)}},
			})
			return err
		})
		var ce *eventsource.ConflictError
		if !errors.As(err, &ce) || ce.StreamID != "b" || ce.Expected != 1 || ce.Actual != 2 {
			t.Fatalf("stale part: got %v, want a conflict on b, expected 1, actual 2", err)
		}
		for id, v := range map[string]int64{"a": 3, "b": 2, "c": 1} {
			if got, err := es.Version(ctx, id); err != nil || got != v {
				t.Errorf("version of %s: got %d %v, want %d", id, got, err, v)
			}
		}
	})
}
