package cli_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/arus-platform/arus/internal/relay/relaytest"
	"github.com/arus-platform/arus/internal/testenv"
)

// The relay's acceptance scenario (internal/relay/relaytest: five
// databases, 20,000 records with updates and deletes, one MariaDB
// destination cut off for 30 s, one PostgreSQL destination's connections
// killed) against the real binary in embedded mode, which is killed with
// kill -9 at a random point of the ingest and restarted on the same data
// and port. The clients post every batch again, with the same
// Idempotency-Key, until it is answered 202. No acknowledged record is
// lost; the dataset's topic, which also holds the records stored whose
// answer the kill cut off, decides what every table must hold, and each
// holds exactly that: the insert-only table each upsert once. The delivery
// log agrees, but for the entries the killed process had not yet written.
func TestRelayCrashFiveDatabases(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped under -short")
	}
	ctx := context.Background()
	run := startRelayScenario(t)
	s, admin, api := run.s, run.admin, run.api

	w := s.Workload(20000)
	ingestCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ingested := make(chan error, 1)
	go func() { ingested <- w.Run(ingestCtx, api) }()
	killConnections := func() {
		t.Helper()
		waitUntil(t, "connections of the PostgreSQL destination to kill", time.Minute, func() bool {
			n, err := s.KillConnections(ctx)
			return err == nil && n > 0
		})
	}

	// The faults: the cut and the connections killed early in the ingest,
	// kill -9 at a random point of it, the connections killed again after
	// the restart.
	killAt := 2000 + rand.IntN(w.Records*3/5)
	waitUntil(t, "the ingest to start", time.Minute, func() bool { return w.Acked() >= 1000 })
	cutAt := time.Now()
	s.Proxy.SetCut(true)
	killConnections()
	waitUntil(t, "the kill point", 2*time.Minute, func() bool { return w.Acked() >= killAt })
	droppedBefore, err := relaytest.LogDropped(ctx, api)
	if err != nil {
		t.Fatal(err)
	}
	run.p.kill(t)
	if w.Acked() == w.Records {
		t.Fatal("the ingest ended before the kill")
	}
	t.Logf("killed with %d of %d records acknowledged (kill point %d)", w.Acked(), w.Records, killAt)
	run.restart(t)
	restartAcked := w.Acked()
	waitUntil(t, "the ingest to resume", 2*time.Minute, func() bool { return w.Acked() >= min(restartAcked+1000, w.Records) })
	killConnections()
	if err := <-ingested; err != nil {
		t.Fatalf("%v\n%s", err, run.p.log())
	}
	t.Logf("ingested %d records with %d retries", w.Acked(), w.Retries())

	tp, st := checkTopicHoldsAcked(ctx, t, api, admin, w)

	// Every table holds exactly what the topic says, the other four while
	// the fifth is still cut off.
	others := []string{relaytest.RouteFull, relaytest.RoutePrices, relaytest.RouteLog, relaytest.RouteCatalogue}
	if !s.WaitTables(ctx, t, st, 2*time.Minute, others...) {
		t.FailNow()
	}
	if !s.Proxy.Cut() {
		t.Fatal("the proxy was not cut while the others were delivered")
	}
	time.Sleep(time.Until(cutAt.Add(30 * time.Second))) // the length of the fault, not a wait for a result
	s.Proxy.SetCut(false)
	if !s.WaitTables(ctx, t, st, 2*time.Minute, relaytest.Routes...) {
		t.FailNow()
	}
	droppedAfter, err := relaytest.LogDropped(ctx, api)
	if err != nil {
		t.Fatal(err)
	}
	if droppedBefore+droppedAfter > 0 {
		t.Logf("the relay dropped %d delivery log entries on a full queue before the kill, %d after", droppedBefore, droppedAfter)
	}
	s.CheckDeliveryLog(ctx, t, api, admin, tp, relaytest.Coverage{Dropped: droppedBefore + droppedAfter}, time.Minute)
}

// relayRun is arus serve running the relay's five-database scenario
// (internal/relay/relaytest) in embedded mode, configured through its API
// with its routes running.
type relayRun struct {
	s                *relaytest.Scenario
	bin, data, admin string
	p                *arusProcess
	api              relaytest.API
}

var relayServe = []string{"--components", "backbone,relay"}

func startRelayScenario(t *testing.T) *relayRun {
	t.Helper()
	ctx := context.Background()
	run := &relayRun{s: relaytest.New(t, testenv.Postgres(t), testenv.MySQL(t)), bin: buildArus(t), data: t.TempDir()}
	out, err := exec.Command(run.bin, "keys", "create", "--data", run.data, "--name", "ops",
		"--scope", "relay.read", "--scope", "relay.write", "--scope", "topics.read", "--scope", "records.read").Output()
	if err != nil {
		t.Fatalf("arus keys create: %v", err)
	}
	run.admin = strings.TrimSpace(string(out))
	run.p = startArus(t, run.bin, run.data, relayServe...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the last lines of the relay's log:\n%s", run.p.log())
		}
	})
	run.api = relaytest.API{URL: run.p.url, HTTP: &http.Client{Timeout: 10 * time.Second}}
	run.s.Configure(ctx, t, run.api, run.admin)
	waitUntil(t, "the routes to run", time.Minute, func() bool { return run.s.RoutesRunning(ctx, run.api, run.admin) })
	return run
}

// restart starts arus serve again, after a kill, on the same data and port.
func (r *relayRun) restart(t *testing.T) {
	t.Helper()
	r.p = startArus(t, r.bin, r.data, append(relayServe, "--listen", strings.TrimPrefix(r.p.url, "http://"))...)
}

// checkTopicHoldsAcked reads the dataset's topic and checks that no
// acknowledged record is lost, that each is stored once, or twice with the
// same id when a kill cut off its answer, and that the records give the
// rows the clients sent. It returns the topic and the state it gives.
func checkTopicHoldsAcked(ctx context.Context, t *testing.T, api relaytest.API, admin string, w *relaytest.Workload) (*relaytest.Topic, *relaytest.State) {
	t.Helper()
	tp := relaytest.ReadTopic(ctx, t, api, admin)
	ids, acked := tp.IDs(), w.AckedIDs()
	twice := 0
	for id := range acked {
		switch ids[id] {
		case 0:
			t.Fatalf("acknowledged record %s is lost", id)
		case 1:
		default:
			twice++
		}
	}
	if len(ids) != len(acked) || len(acked) != w.Records {
		t.Fatalf("the topic holds %d records, %d acknowledged, %d sent", len(ids), len(acked), w.Records)
	}
	t.Logf("%d records stored twice (their first answer was lost to a kill)", twice)
	st := tp.State()
	for _, name := range relaytest.Routes {
		if !slices.Equal(st.Rows(name), w.Expected().Rows(name)) {
			t.Fatalf("route %s: the topic's records give other rows than the clients sent", name)
		}
	}
	return tp, st
}

// waitUntil polls cond until it holds, and fails the test after timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}
