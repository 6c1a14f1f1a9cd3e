//go:build chaos

package cli_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/relay/relaytest"
)

// TestChaosRelay runs the relay's five-database scenario (see
// TestRelayCrashFiveDatabases) under a loop of faults while the clients
// post: round after round, the process is killed with kill -9 and
// restarted, the MariaDB destination is cut off, the PostgreSQL
// destination's connections are killed. Nothing acknowledged may be lost
// or written twice, and every table ends exactly as the topic says.
//
// It runs on demand, not in every CI run:
//
//	ARUS_CHAOS_ROUNDS=12 go test -tags chaos -run TestChaos -timeout 30m ./internal/cli/
func TestChaosRelay(t *testing.T) {
	rounds := 6
	if v := os.Getenv("ARUS_CHAOS_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			t.Fatalf("ARUS_CHAOS_ROUNDS=%q: want 1 to 1000", v)
		}
		rounds = n
	}
	ctx := context.Background()
	run := startRelayScenario(t)
	s, admin, api := run.s, run.admin, run.api

	w := s.Workload(rounds * 4000)
	ingestCtx, cancel := context.WithTimeout(ctx, time.Duration(rounds)*3*time.Minute)
	defer cancel()
	ingested := make(chan error, 1)
	go func() { ingested <- w.Run(ingestCtx, api) }()

	kills, cuts, connKills, dropped := 0, 0, 0, 0
	logDropped := func() int {
		n, err := relaytest.LogDropped(ctx, api)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for round := range rounds {
		// Each fault strikes at a random point of its round's share.
		at := (round*w.Records + rand.IntN(w.Records*4/5)) / (rounds + 1)
		waitUntil(t, "the ingest to reach the next fault", 3*time.Minute, func() bool { return w.Acked() >= at })
		switch round % 3 {
		case 0:
			dropped += logDropped() // the counter restarts with the process
			run.p.kill(t)
			kills++
			run.restart(t)
		case 1:
			s.Proxy.SetCut(true)
			cuts++
			from := w.Acked()
			waitUntil(t, "the ingest to go on while MariaDB is cut off", 3*time.Minute, func() bool { return w.Acked() >= min(from+1500, w.Records) })
			s.Proxy.SetCut(false)
		case 2:
			waitUntil(t, "connections of the PostgreSQL destination to kill", time.Minute, func() bool {
				n, err := s.KillConnections(ctx)
				return err == nil && n > 0
			})
			connKills++
		}
		t.Logf("round %d: %d of %d records acknowledged", round+1, w.Acked(), w.Records)
	}
	if err := <-ingested; err != nil {
		t.Fatalf("%v\n%s", err, run.p.log())
	}
	t.Logf("%d records with %d retries through %d kill -9, %d cuts of MariaDB, %d kills of PostgreSQL connections",
		w.Acked(), w.Retries(), kills, cuts, connKills)

	s.Proxy.SetCut(false)
	tp, st := checkTopicHoldsAcked(ctx, t, api, admin, w)
	if !s.WaitTables(ctx, t, st, 5*time.Minute, relaytest.Routes...) {
		t.FailNow()
	}
	s.CheckDeliveryLog(ctx, t, api, admin, tp, relaytest.Coverage{Dropped: dropped + logDropped()}, 2*time.Minute)
}
