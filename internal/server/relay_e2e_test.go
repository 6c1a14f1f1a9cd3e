package server

import (
	"context"
	"slices"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/arus-platform/arus/internal/relay/relaytest"
	"github.com/arus-platform/arus/internal/testenv"
)

// The relay's acceptance run: 20,000 records ingested concurrently, with
// updates and deletes, into three PostgreSQL and two MariaDB destinations
// with different column subsets and modes, while one MariaDB destination is
// cut off for 30 s and one PostgreSQL destination has its connections
// killed. Every table ends exactly as the records say, nothing doubled, the
// other destinations do not wait for the one cut off, and the delivery log
// agrees. The same scenario runs against the real binary, killed with
// kill -9 mid-ingest, in internal/cli's TestRelayCrashFiveDatabases.
func TestRelayFiveDatabasesUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end run; skipped under -short")
	}
	ctx := context.Background()
	s := relaytest.New(t, testenv.Postgres(t), testenv.MySQL(t))
	r := start(t, Config{})
	api := relaytest.API{URL: r.url}
	admin := r.key(t, "relay.read", "relay.write", "topics.read", "records.read")
	s.Configure(ctx, t, api, admin)
	waitFor(t, "the routes to run", time.Minute, func() bool { return s.RoutesRunning(ctx, api, admin) })

	w := s.Workload(20000)
	ingestCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ingested := make(chan error, 1)
	go func() { ingested <- w.Run(ingestCtx, api) }()

	// Faults while the records flow.
	waitFor(t, "the ingest to start", time.Minute, func() bool { return w.Acked() >= 500 })
	cutAt := time.Now()
	s.Proxy.SetCut(true)
	for range 2 {
		waitFor(t, "connections of the PostgreSQL destination to kill", time.Minute, func() bool {
			n, err := s.KillConnections(ctx)
			return err == nil && n > 0
		})
		acked := w.Acked()
		waitFor(t, "more records", time.Minute, func() bool { return w.Acked() >= min(acked+2000, w.Records) })
	}
	if err := <-ingested; err != nil {
		t.Fatal(err)
	}
	t.Logf("ingested %d records with %d retries", w.Acked(), w.Retries())

	// The topic holds every acknowledged record once, and what it holds
	// decides the tables; here it agrees with what the clients sent.
	tp := relaytest.ReadTopic(ctx, t, api, admin)
	ids := tp.IDs()
	acked := w.AckedIDs()
	for id := range acked {
		if ids[id] != 1 {
			t.Fatalf("acknowledged record %s is stored %d times, want once", id, ids[id])
		}
	}
	if len(ids) != len(acked) || len(acked) != w.Records {
		t.Fatalf("the topic holds %d records, %d acknowledged, %d sent", len(ids), len(acked), w.Records)
	}
	st := tp.State()
	for _, name := range relaytest.Routes {
		if !slices.Equal(st.Rows(name), w.Expected().Rows(name)) {
			t.Fatalf("route %s: the topic's records give other rows than the clients sent", name)
		}
	}

	// The other destinations must not wait for the one that is cut off.
	others := []string{relaytest.RouteFull, relaytest.RoutePrices, relaytest.RouteLog, relaytest.RouteCatalogue}
	if !s.WaitTables(ctx, t, st, 2*time.Minute, others...) {
		t.FailNow()
	}
	if !s.Proxy.Cut() {
		t.Fatal("the proxy was not cut while the others were delivered")
	}
	if got, _ := s.TableRows(ctx, relaytest.RouteStock); slices.Equal(got, st.Rows(relaytest.RouteStock)) {
		t.Fatal("the destination behind the cut proxy is complete while cut off")
	}
	time.Sleep(time.Until(cutAt.Add(30 * time.Second))) // the length of the fault, not a wait for a result
	s.Proxy.SetCut(false)
	s.WaitTables(ctx, t, st, 2*time.Minute, relaytest.Routes...)

	// The delivery log agrees: every record on every route, as sent.
	s.CheckDeliveryLog(ctx, t, api, admin, tp, relaytest.Coverage{}, time.Minute)
	if n := r.deliveryLog.Dropped(); n != 0 {
		t.Errorf("delivery log dropped %d entries", n)
	}
}

// waitFor polls cond until it holds, and fails the test after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}
