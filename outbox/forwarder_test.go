package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// TestLateCommitIsNotSkipped interleaves two transactions: A writes first
// (so its row has the lower id) but commits after B, and after a
// forwarder has run. The forwarder publishes B's row at once and A's row
// on its next round: nothing skipped, nothing twice, key order kept.
func TestLateCommitIsNotSkipped(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		db, o := openOutbox(t, base)
		if db.Dialect == store.SQLite {
			t.Skip("SQLite has one writer at a time, so transactions cannot interleave")
		}
		p := &memProducer{}
		f := newForwarder(t, o, p, outbox.ForwarderConfig{})

		write(t, db, o, seqRecord("orders", "k", 0))
		txA, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer txA.Rollback()
		if err := o.Write(ctx, txA, seqRecord("orders", "k", 1)); err != nil {
			t.Fatal(err)
		}
		write(t, db, o, seqRecord("orders", "k2", 0)) // B commits

		if got := forwardAll(t, f); got != 2 {
			t.Errorf("before A commits: got %d published, want 2 (k:0 and k2:0)", got)
		}
		if err := txA.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := forwardAll(t, f); got != 1 {
			t.Errorf("after A commits: got %d published, want 1 (k:1)", got)
		}
		checkOnceInOrder(t, p.records(), 3)
		if got := pending(t, o); got != 0 {
			t.Errorf("got %d pending, want 0", got)
		}
	})
}

// blockingProducer holds its first Produce call until release is closed.
type blockingProducer struct {
	memProducer
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (p *blockingProducer) Produce(ctx context.Context, recs ...*stream.Record) error {
	first := false
	p.once.Do(func() { first = true })
	if first {
		close(p.entered)
		<-p.release
	}
	return p.memProducer.Produce(ctx, recs...)
}

// TestSecondForwarderWaitsForClaimedKeys runs a round of one forwarder
// that stalls while publishing, and checks that a second forwarder
// publishes nothing of the claimed keys meanwhile, then everything left
// once the first is done.
func TestSecondForwarderWaitsForClaimedKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		db, o := openOutbox(t, base)
		for i := range 10 {
			write(t, db, o, seqRecord("orders", "k", i))
		}
		shared := &blockingProducer{entered: make(chan struct{}), release: make(chan struct{})}
		f1 := newForwarder(t, o, shared, outbox.ForwarderConfig{BatchSize: 4})
		f2 := newForwarder(t, o, shared, outbox.ForwarderConfig{BatchSize: 4})

		done := make(chan int)
		go func() {
			n, err := f1.Forward(ctx)
			if err != nil {
				t.Errorf("first forwarder: %v", err)
			}
			done <- n
		}()
		<-shared.entered
		if db.Dialect == store.Postgres {
			n, err := f2.Forward(ctx)
			if err != nil {
				t.Fatalf("second forwarder: %v", err)
			}
			if n != 0 {
				t.Errorf("second forwarder published %d records of a key the first holds, want 0", n)
			}
		}
		second := make(chan int, 1)
		if db.Dialect == store.SQLite {
			// The second forwarder of the process waits for its turn.
			go func() { second <- forwardAll(t, f2) }()
		}
		close(shared.release)
		if got := <-done; got != 4 {
			t.Errorf("first forwarder published %d, want 4", got)
		}
		if db.Dialect == store.Postgres {
			second <- forwardAll(t, f2)
		}
		if got := <-second; got != 6 {
			t.Errorf("second forwarder published %d, want 6", got)
		}
		checkOnceInOrder(t, shared.records(), 10)
	})
}

// TestConcurrentForwarders runs three forwarders while four writers write
// records of their own keys in transactions of varying size. Every record
// is published once, in order per key.
func TestConcurrentForwarders(t *testing.T) {
	tests := []struct {
		name    string
		buckets int
	}{
		{name: "take turns"},
		{name: "share buckets", buckets: 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, base store.Config) {
				const writers, keysPerWriter, perKey = 4, 5, 40
				db, o := openOutbox(t, base)
				p := &memProducer{}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var run sync.WaitGroup
				for i := range 3 {
					// Separate handles on PostgreSQL, as separate processes would have.
					fo := o
					if db.Dialect == store.Postgres {
						fdb := openDB(t, base)
						var err error
						if fo, err = outbox.Open(ctx, fdb, outbox.Config{}); err != nil {
							t.Fatal(err)
						}
					}
					f := newForwarder(t, fo, p, outbox.ForwarderConfig{
						BatchSize: 10 + 7*i, PollInterval: 5 * time.Millisecond, Buckets: tt.buckets,
					})
					run.Go(func() {
						if err := f.Run(ctx); err != nil {
							t.Errorf("run: %v", err)
						}
					})
				}
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						rng := rand.New(rand.NewPCG(uint64(w), 1))
						seq := make([]int, keysPerWriter)
						for written := 0; written < keysPerWriter*perKey; {
							var recs []*stream.Record
							for range 1 + rng.IntN(5) {
								k := rng.IntN(keysPerWriter)
								if seq[k] == perKey {
									continue
								}
								recs = append(recs, seqRecord("orders", fmt.Sprintf("w%d-k%d", w, k), seq[k]))
								seq[k]++
							}
							written += len(recs)
							err := db.InTx(ctx, func(tx *sql.Tx) error { return o.Write(ctx, tx, recs...) })
							if err != nil {
								t.Errorf("write: %v", err)
								return
							}
						}
					})
				}
				wg.Wait()
				want := writers * keysPerWriter * perKey
				waitFor(t, "all published", 20*time.Second, func() bool { return len(p.records()) >= want })
				cancel()
				run.Wait()
				checkOnceInOrder(t, p.records(), want)
			})
		})
	}
}

func TestForwarderMetrics(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		db, o := openOutbox(t, base)
		reg := prometheus.NewRegistry()
		failing := true
		var mu sync.Mutex
		p := &memProducer{fail: func(int, []*stream.Record) error {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				return stream.ErrUnavailable
			}
			return nil
		}}
		cfg := outbox.ForwarderConfig{Registerer: reg, PollInterval: 5 * time.Millisecond,
			MaxBackoff: 10 * time.Millisecond, StatsInterval: 10 * time.Millisecond}
		f := newForwarder(t, o, p, cfg)
		// A second forwarder of the outbox shares the collectors.
		newForwarder(t, o, p, cfg)

		for i := range 3 {
			write(t, db, o, seqRecord("orders", "k", i))
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- f.Run(ctx) }()
		waitFor(t, "pending gauge", 5*time.Second, func() bool {
			return metricValue(t, reg, "arus_outbox_pending") == 3 && metricValue(t, reg, "arus_outbox_errors_total") >= 2
		})
		mu.Lock()
		failing = false
		mu.Unlock()
		waitFor(t, "published", 5*time.Second, func() bool {
			return metricValue(t, reg, "arus_outbox_published_total") == 3 && metricValue(t, reg, "arus_outbox_pending") == 0
		})
		cancel()
		<-done
		for _, name := range []string{"arus_outbox_publish_duration_seconds", "arus_outbox_delay_seconds", "arus_outbox_oldest_pending_seconds"} {
			if !registered(t, reg, name) {
				t.Errorf("metric %s is not registered", name)
			}
		}
	})
}

func registered(t testing.TB, reg *prometheus.Registry, name string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return true
		}
	}
	return false
}
