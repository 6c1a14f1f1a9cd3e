package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

var quiet = slog.New(slog.DiscardHandler)

// openDB opens the "orders" store of base, closed when the test ends.
func openDB(t testing.TB, base store.Config) *store.DB {
	t.Helper()
	base.Component = "orders"
	db, err := store.Open(context.Background(), base)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openOutbox opens the outbox of a fresh "orders" store.
func openOutbox(t testing.TB, base store.Config) (*store.DB, *outbox.Outbox) {
	t.Helper()
	db := openDB(t, base)
	o, err := outbox.Open(context.Background(), db, outbox.Config{})
	if err != nil {
		t.Fatalf("open outbox: %v", err)
	}
	return db, o
}

func newForwarder(t testing.TB, o *outbox.Outbox, p stream.Producer, cfg outbox.ForwarderConfig) *outbox.Forwarder {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	f, err := outbox.NewForwarder(o, p, cfg)
	if err != nil {
		t.Fatalf("new forwarder: %v", err)
	}
	return f
}

// write writes records in one transaction of db.
func write(t testing.TB, db *store.DB, o *outbox.Outbox, recs ...*stream.Record) {
	t.Helper()
	err := db.InTx(context.Background(), func(tx *sql.Tx) error {
		return o.Write(context.Background(), tx, recs...)
	})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
}

// seqRecord returns a record for key whose value is its sequence number.
func seqRecord(topic, key string, seq int) *stream.Record {
	return &stream.Record{Topic: topic, Key: []byte(key), Value: []byte(strconv.Itoa(seq))}
}

// forwardAll runs rounds until one publishes nothing.
func forwardAll(t testing.TB, f *outbox.Forwarder) int {
	t.Helper()
	total := 0
	for {
		n, err := f.Forward(context.Background())
		if err != nil {
			t.Fatalf("forward: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func pending(t testing.TB, o *outbox.Outbox) int64 {
	t.Helper()
	n, _, err := o.Pending(context.Background())
	if err != nil {
		t.Fatalf("pending: %v", err)
	}
	return n
}

// memProducer is a broker stand-in that keeps what it is given, in order.
// fail, when set, decides the outcome of each call.
type memProducer struct {
	mu   sync.Mutex
	recs []*stream.Record
	fail func(call int, recs []*stream.Record) error
	call int
}

func (p *memProducer) Produce(ctx context.Context, recs ...*stream.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.call++
	var err error
	if p.fail != nil {
		err = p.fail(p.call, recs)
	}
	failed := map[int]bool{}
	if pe, ok := err.(*stream.ProduceError); ok {
		for _, i := range pe.Failed {
			failed[i] = true
		}
	} else if err != nil {
		return err
	}
	for i, r := range recs {
		if !failed[i] {
			c := *r
			c.Offset = int64(len(p.recs))
			p.recs = append(p.recs, &c)
		}
	}
	return err
}

func (p *memProducer) records() []*stream.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*stream.Record(nil), p.recs...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkOnceInOrder checks that recs hold each id once and, per key, the
// values 0, 1, 2, ... in order, want records in all.
func checkOnceInOrder(t testing.TB, recs []*stream.Record, want int) {
	t.Helper()
	seen := map[string]bool{}
	next := map[string]int{}
	for _, r := range recs {
		id := r.ID()
		if seen[id] {
			t.Errorf("record_id %s (key %s value %s) published twice", id, r.Key, r.Value)
		}
		seen[id] = true
		seq, err := strconv.Atoi(string(r.Value))
		if err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		if got, want := seq, next[string(r.Key)]; got != want {
			t.Errorf("key %s: got value %d, want %d", r.Key, got, want)
		}
		next[string(r.Key)] = seq + 1
	}
	if got := len(seen); got != want {
		t.Errorf("got %d distinct records, want %d", got, want)
	}
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func countRows(t testing.TB, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM %s", table)).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
