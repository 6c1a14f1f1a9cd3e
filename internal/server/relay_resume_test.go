package server

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/relay/relaytest"
)

// A destination cut off and back: its route pauses, the destination is
// marked down, and once the connection is restored the waiting record is
// delivered without anything else happening (no new record, no heartbeat
// of 10 s to wait for). How long that took and how many connections were
// tried while it was down are reported, not judged.
func TestRelayDestinationBackResumesRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	pg := newPGTarget(t)
	if _, err := pg.db.Exec(`CREATE TABLE ` + pg.schema + `.cars (seq BIGSERIAL PRIMARY KEY, car_name TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	proxy := relaytest.NewCutProxy(t, net.JoinHostPort(pg.host, fmt.Sprint(pg.port)))
	f := newRelayFixture(t, t.TempDir())
	f.create(t, "/api/v1/relay/datasets", `{"name":"cars"}`)
	key := f.create(t, "/api/v1/relay/applications", `{"name":"dealer-app","datasets":["cars"]}`)["api_key"].(string)
	via := pg
	via.host, via.port = "127.0.0.1", proxy.Port()
	dest := f.create(t, "/api/v1/relay/destinations", via.body("pg", "unused-trust"))["id"].(string)
	f.create(t, "/api/v1/relay/routes", fmt.Sprintf(`{"name":"cars","dataset":"cars","destination":%q,"table":"cars","mode":"insert",
		"mapping":[{"column":"car_name","field":"car_name"}]}`, dest))
	q := `SELECT car_name FROM ` + pg.schema + `.cars ORDER BY seq`
	post := func(name string) {
		t.Helper()
		if rep := f.call(t, "POST", "/api/v1/datasets/cars/records", key, fmt.Sprintf(`{"car_name":%q}`, name)); rep.status != 202 {
			t.Fatalf("ingest %s: %d %s", name, rep.status, rep.body)
		}
	}
	post("before")
	waitRows(t, pg.db, q, []string{"before"})

	proxy.SetCut(true)
	post("while-cut")
	health := func() string {
		var d struct{ Health string }
		_ = json.Unmarshal([]byte(f.call(t, "GET", "/api/v1/relay/destinations/"+dest, f.admin, "").body), &d)
		return d.Health
	}
	waitFor(t, "the destination marked down", 30*time.Second, func() bool { return health() == "down" })
	if got := rows(t, pg.db, q); len(got) != 1 {
		t.Fatalf("while cut off the table holds %q, want only the first record", got)
	}
	// Let it stay down a while, as an outage would, before it comes back.
	downFor := 3 * time.Second
	cutAt := proxy.Accepted()
	time.Sleep(downFor)
	tried := proxy.Accepted() - cutAt

	back := time.Now()
	proxy.SetCut(false)
	waitRows(t, pg.db, q, []string{"before", "while-cut"})
	t.Logf("delivery resumed %v after the destination answered again; %d connections tried in %v while it was down",
		time.Since(back).Round(time.Millisecond), tried, downFor)
	waitFor(t, "the destination marked up", 30*time.Second, func() bool { return health() == "up" })
}
