package inventory_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/inventory"
)

// clock is a test clock that moves only when told to, or by step on
// every reading when step is set.
type clock struct {
	ns   atomic.Int64
	step time.Duration
}

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time { return time.Unix(0, c.ns.Add(int64(c.step))) }

func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// process is one process's view of the shared store: its own database
// handle, event store and inventory.
type process struct {
	db  *store.DB
	es  *eventsource.Store
	inv *inventory.Inventory
}

// openProcess opens the "ticketing" store of base with an inventory, as a
// process of its own would; closed when the test ends.
func openProcess(t testing.TB, base store.Config, cfg inventory.Config) *process {
	t.Helper()
	ctx := context.Background()
	base.Component = "ticketing"
	base.MaxOpenConns = 8
	db, err := store.Open(ctx, base)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	es, err := eventsource.Open(ctx, db, eventsource.Config{})
	if err != nil {
		t.Fatalf("open event store: %v", err)
	}
	inv, err := inventory.Open(ctx, es, cfg)
	if err != nil {
		t.Fatalf("open inventory: %v", err)
	}
	return &process{db: db, es: es, inv: inv}
}

// openProcesses opens n processes on one store.
func openProcesses(t testing.TB, base store.Config, n int, cfg inventory.Config) []*process {
	t.Helper()
	out := make([]*process, n)
	for i := range out {
		out[i] = openProcess(t, base, cfg)
	}
	return out
}

func mustAudit(t *testing.T, inv *inventory.Inventory) *inventory.Report {
	t.Helper()
	r, err := inv.Audit(context.Background())
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	if !r.OK() {
		for _, a := range r.Areas {
			for _, p := range a.Problems {
				t.Errorf("audit %s: %s", a.Area, p)
			}
		}
		t.FailNow()
	}
	return r
}

// waitUntil polls cond until it holds, failing the test after 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
