package outbox_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/streamtest"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     outbox.Config
		wantErr string
		want    string
	}{
		{name: "default name is the component", want: "orders"},
		{name: "own name", cfg: outbox.Config{Name: "billing_events"}, want: "billing_events"},
		{name: "upper case", cfg: outbox.Config{Name: "Orders"}, wantErr: "name"},
		{name: "starts with a digit", cfg: outbox.Config{Name: "1orders"}, wantErr: "name"},
		{name: "quote", cfg: outbox.Config{Name: "o'x"}, wantErr: "name"},
		{name: "too long", cfg: outbox.Config{Name: strings.Repeat("a", 41)}, wantErr: "name"},
		{name: "negative size", cfg: outbox.Config{MaxRecordBytes: -1}, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate(&store.DB{Component: "orders"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got := tt.cfg.Name; got != tt.want {
				t.Errorf("got name %q, want %q", got, tt.want)
			}
			if got, want := tt.cfg.MaxRecordBytes, stream.DefaultMaxRecordBytes; got != want {
				t.Errorf("got max record bytes %d, want %d", got, want)
			}
		})
	}
}

func TestForwarderConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     outbox.ForwarderConfig
		wantErr string
	}{
		{name: "defaults"},
		{name: "batch too large", cfg: outbox.ForwarderConfig{BatchSize: 10001}, wantErr: "batch size"},
		{name: "negative batch", cfg: outbox.ForwarderConfig{BatchSize: -1}, wantErr: "batch size"},
		{name: "negative poll", cfg: outbox.ForwarderConfig{PollInterval: -time.Second}, wantErr: "poll interval"},
		{name: "negative buckets", cfg: outbox.ForwarderConfig{Buckets: -1}, wantErr: "buckets"},
		{name: "negative retention deletes at once", cfg: outbox.ForwarderConfig{Retention: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if tt.cfg.BatchSize != outbox.DefaultBatchSize || tt.cfg.PollInterval != outbox.DefaultPollInterval ||
				tt.cfg.Buckets != 64 || tt.cfg.Logger == nil || tt.cfg.Now == nil {
				t.Errorf("defaults not filled in: %+v", tt.cfg)
			}
		})
	}
}

func TestOpenTwiceAndTableNames(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		db := openDB(t, base)
		for range 2 { // the second Open finds the migrations applied
			o, err := outbox.Open(ctx, db, outbox.Config{})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if got, want := o.Table(), "orders_outbox"; got != want {
				t.Errorf("got table %q, want %q", got, want)
			}
		}
		// A second outbox in the same store has its own table.
		o2, err := outbox.Open(ctx, db, outbox.Config{Name: "audit"})
		if err != nil {
			t.Fatalf("open audit outbox: %v", err)
		}
		write(t, db, o2, seqRecord("audit", "a", 0))
		if got := countRows(t, db, "orders_outbox"); got != 0 {
			t.Errorf("orders_outbox holds %d rows, want 0", got)
		}
		if got := countRows(t, db, "audit_outbox"); got != 1 {
			t.Errorf("audit_outbox holds %d rows, want 1", got)
		}
	})
}

func TestWriteAndForward(t *testing.T) {
	ts := time.Unix(1700000000, 123456789)
	tests := []struct {
		name string
		rec  stream.Record
	}{
		{name: "key and value", rec: stream.Record{Topic: "orders", Key: []byte("order-1"), Value: []byte(`{"total":42}`)}},
		{name: "no key", rec: stream.Record{Topic: "orders", Value: []byte("v")}},
		{name: "empty key and value", rec: stream.Record{Topic: "orders", Key: []byte{}, Value: []byte{}}},
		{name: "no value", rec: stream.Record{Topic: "orders", Key: []byte("k")}},
		{name: "headers", rec: stream.Record{Topic: "orders.placed", Key: []byte("k"), Value: []byte("v"),
			Headers: []stream.Header{{Key: "a", Value: []byte("1")}, {Key: "a", Value: []byte("2")}, {Key: "empty", Value: []byte{}}}}},
		{name: "nil and empty header values", rec: stream.Record{Topic: "orders", Key: []byte("k"), Value: []byte("v"),
			Headers: []stream.Header{{Key: "nil"}, {Key: "empty", Value: []byte{}}, {Key: "nil"}}}},
		{name: "id given", rec: stream.Record{Topic: "orders", Key: []byte("k"),
			Headers: []stream.Header{{Key: stream.HeaderID, Value: []byte("my-id")}}}},
		{name: "timestamp given", rec: stream.Record{Topic: "orders", Key: []byte("k"), Timestamp: ts}},
		{name: "binary", rec: stream.Record{Topic: "orders", Key: []byte{0, 255, 0}, Value: bytes.Repeat([]byte{0, 1, 2, 255}, 1000)}},
	}
	storetest.Run(t, func(t *testing.T, base store.Config) {
		db, o := openOutbox(t, base)
		p := &memProducer{}
		f := newForwarder(t, o, p, outbox.ForwarderConfig{})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rec := tt.rec
				before := time.Now()
				write(t, db, o, &rec)
				id := rec.ID()
				if id == "" {
					t.Fatal("Write left the record without an id")
				}
				if got := forwardAll(t, f); got != 1 {
					t.Fatalf("got %d published, want 1", got)
				}
				recs := p.records()
				got := recs[len(recs)-1]
				if got.ID() != id {
					t.Errorf("got record_id %q, want %q (the id stamped by Write)", got.ID(), id)
				}
				if got.Topic != rec.Topic {
					t.Errorf("got topic %q, want %q", got.Topic, rec.Topic)
				}
				if d := streamtest.RecordDiff(got, &rec); d != "" {
					t.Errorf("got %s", d)
				}
				if !tt.rec.Timestamp.IsZero() {
					if !got.Timestamp.Equal(tt.rec.Timestamp) {
						t.Errorf("got timestamp %v, want %v", got.Timestamp, tt.rec.Timestamp)
					}
				} else if got.Timestamp.Before(before.Add(-time.Second)) || got.Timestamp.After(time.Now()) {
					t.Errorf("got timestamp %v, want the time of Write", got.Timestamp)
				}
			})
		}
		if got := pending(t, o); got != 0 {
			t.Errorf("got %d pending, want 0", got)
		}
	})
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name string
		recs []*stream.Record
		want error
	}{
		{name: "nil record", recs: []*stream.Record{seqRecord("t", "k", 0), nil}},
		{name: "bad topic", recs: []*stream.Record{seqRecord("t", "k", 0), {Topic: "no spaces"}}, want: stream.ErrInvalid},
		{name: "empty topic", recs: []*stream.Record{{Value: []byte("v")}}, want: stream.ErrInvalid},
		{name: "too large", recs: []*stream.Record{seqRecord("t", "k", 0), {Topic: "t", Value: make([]byte, 200)}}, want: stream.ErrRecordTooLarge},
	}
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		db := openDB(t, base)
		o, err := outbox.Open(ctx, db, outbox.Config{MaxRecordBytes: 150})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := db.InTx(ctx, func(tx *sql.Tx) error { return o.Write(ctx, tx, tt.recs...) })
				if err == nil {
					t.Fatal("got no error")
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("got %v, want %v", err, tt.want)
				}
				if got := pending(t, o); got != 0 {
					t.Errorf("got %d pending, want 0", got)
				}
			})
		}
	})
}

func TestRolledBackWriteIsNotPublished(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		db, o := openOutbox(t, base)
		p := &memProducer{}
		f := newForwarder(t, o, p, outbox.ForwarderConfig{})
		boom := errors.New("state change failed")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if err := o.Write(ctx, tx, seqRecord("orders", "k", 0)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want %v", err, boom)
		}
		if got := forwardAll(t, f); got != 0 {
			t.Errorf("got %d published, want 0", got)
		}
	})
}

func TestForwardInBatchesKeepsKeyOrder(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		db, o := openOutbox(t, base)
		const keys, perKey = 10, 100
		seq := map[string]int{}
		for tx := range 20 {
			var recs []*stream.Record
			for i := range keys * perKey / 20 {
				key := "k" + string(rune('a'+(tx*7+i)%keys))
				recs = append(recs, seqRecord("orders", key, seq[key]))
				seq[key]++
			}
			write(t, db, o, recs...)
		}
		p := &memProducer{}
		f := newForwarder(t, o, p, outbox.ForwarderConfig{BatchSize: 64})
		if got, want := forwardAll(t, f), keys*perKey; got != want {
			t.Errorf("got %d published, want %d", got, want)
		}
		checkOnceInOrder(t, p.records(), keys*perKey)
		if got := pending(t, o); got != 0 {
			t.Errorf("got %d pending, want 0", got)
		}
	})
}

func TestForwardPublishFailure(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		db, o := openOutbox(t, base)
		var recs []*stream.Record
		for i := range 6 {
			recs = append(recs, seqRecord("orders", "k"+string(rune('a'+i)), 0))
		}
		write(t, db, o, recs...)
		ids := map[string]bool{}
		for _, r := range recs {
			ids[r.ID()] = true
		}

		p := &memProducer{fail: func(call int, recs []*stream.Record) error {
			switch call {
			case 1:
				return stream.ErrUnavailable
			case 2:
				return &stream.ProduceError{Failed: []int{1, 4}, Err: stream.ErrUnavailable}
			}
			return nil
		}}
		f := newForwarder(t, o, p, outbox.ForwarderConfig{})
		ctx := context.Background()

		n, err := f.Forward(ctx)
		if !errors.Is(err, stream.ErrUnavailable) || n != 0 {
			t.Fatalf("round 1: got %d, %v; want 0 and %v", n, err, stream.ErrUnavailable)
		}
		if got := pending(t, o); got != 6 {
			t.Fatalf("after a failed publish: got %d pending, want 6", got)
		}
		n, err = f.Forward(ctx)
		if !errors.Is(err, stream.ErrUnavailable) || n != 4 {
			t.Fatalf("round 2: got %d, %v; want 4 and %v", n, err, stream.ErrUnavailable)
		}
		if got := pending(t, o); got != 2 {
			t.Fatalf("after a partial publish: got %d pending, want 2", got)
		}
		if got := forwardAll(t, f); got != 2 {
			t.Fatalf("round 3: got %d published, want 2", got)
		}
		got := p.records()
		if len(got) != 6 {
			t.Fatalf("got %d records, want 6", len(got))
		}
		for _, r := range got {
			if !ids[r.ID()] {
				t.Errorf("published record_id %s, which Write did not stamp", r.ID())
			}
			delete(ids, r.ID())
		}
	})
}

func TestCleanup(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		db, o := openOutbox(t, base)
		clk := newClock()
		f := newForwarder(t, o, &memProducer{}, outbox.ForwarderConfig{Retention: time.Hour, Now: clk.Now})
		for i := range 5 {
			write(t, db, o, seqRecord("orders", "k", i))
		}
		forwardAll(t, f)
		clk.Add(30 * time.Minute)
		for i := 5; i < 8; i++ {
			write(t, db, o, seqRecord("orders", "k", i))
		}
		forwardAll(t, f)
		write(t, db, o, seqRecord("orders", "k", 8)) // pending

		steps := []struct {
			advance  time.Duration
			deleted  int64
			leftRows int
		}{
			{advance: 0, deleted: 0, leftRows: 9},
			{advance: 31 * time.Minute, deleted: 5, leftRows: 4},
			{advance: 30 * time.Minute, deleted: 3, leftRows: 1},
			{advance: 100 * time.Hour, deleted: 0, leftRows: 1}, // never a pending row
		}
		for i, s := range steps {
			clk.Add(s.advance)
			n, err := f.Cleanup(ctx)
			if err != nil {
				t.Fatalf("step %d: cleanup: %v", i, err)
			}
			if n != s.deleted {
				t.Errorf("step %d: got %d deleted, want %d", i, n, s.deleted)
			}
			if got := countRows(t, db, o.Table()); got != s.leftRows {
				t.Errorf("step %d: got %d rows, want %d", i, got, s.leftRows)
			}
		}
		if got := pending(t, o); got != 1 {
			t.Errorf("got %d pending, want 1", got)
		}
	})
}

func TestNegativeRetentionDeletesOnPublish(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		db, o := openOutbox(t, base)
		p := &memProducer{}
		f := newForwarder(t, o, p, outbox.ForwarderConfig{Retention: -1})
		for i := range 3 {
			write(t, db, o, seqRecord("orders", "k", i))
		}
		if got := forwardAll(t, f); got != 3 {
			t.Errorf("got %d published, want 3", got)
		}
		if got := countRows(t, db, o.Table()); got != 0 {
			t.Errorf("got %d rows left, want 0", got)
		}
		checkOnceInOrder(t, p.records(), 3)
	})
}

func TestRunWakesOnWrite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		db, o := openOutbox(t, base)
		p := &memProducer{}
		// With an hour between polls, only the wake-up can publish in time.
		f := newForwarder(t, o, p, outbox.ForwarderConfig{PollInterval: time.Hour})
		// A record written before Run starts is published by its first
		// round; once it is, Run listens for wake-ups.
		write(t, db, o, seqRecord("orders", "k", 0))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- f.Run(ctx) }()
		waitFor(t, "first round", 5*time.Second, func() bool { return len(p.records()) == 1 })

		for i := 1; i <= 3; i++ {
			write(t, db, o, seqRecord("orders", "k", i))
			waitFor(t, "publish after Write", 5*time.Second, func() bool { return len(p.records()) == i+1 })
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		checkOnceInOrder(t, p.records(), 4)
	})
}

// TestRunRetriesFailures checks that Run goes on after the broker fails
// and publishes everything once it is back.
func TestRunRetriesFailures(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		db, o := openOutbox(t, base)
		p := &memProducer{fail: func(call int, _ []*stream.Record) error {
			if call <= 3 {
				return stream.ErrUnavailable
			}
			return nil
		}}
		f := newForwarder(t, o, p, outbox.ForwarderConfig{PollInterval: 5 * time.Millisecond, BatchSize: 7})
		for i := range 50 {
			write(t, db, o, seqRecord("orders", "k", i))
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- f.Run(ctx) }()
		waitFor(t, "all published", 10*time.Second, func() bool { return len(p.records()) == 50 })
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		checkOnceInOrder(t, p.records(), 50)
	})
}

func TestBatchBytesBoundsARound(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		db, o := openOutbox(t, base)
		value := make([]byte, 1000)
		for i := range 5 {
			write(t, db, o, &stream.Record{Topic: "orders", Key: []byte("k"), Value: append(value, byte(i))})
		}
		p := &memProducer{}
		f := newForwarder(t, o, p, outbox.ForwarderConfig{BatchBytes: 2500})
		var rounds []int
		for {
			n, err := f.Forward(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			rounds = append(rounds, n)
		}
		// Each record is just over 1000 bytes: the third reaches 2500.
		if got, want := fmt.Sprint(rounds), "[3 2]"; got != want {
			t.Errorf("got rounds of %s records, want %s", got, want)
		}
	})
}
