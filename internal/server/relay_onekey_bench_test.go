package server

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/testenv"
)

// BenchmarkRelayOneKey measures one partition's delivery into one table:
// b.N records that all carry the same key (as a load tool posting one body
// again and again sends them) are ingested before the route exists, so all
// of them are in one partition; once an insert-only route into PostgreSQL
// is created, the time from its first row to its last gives rows/s.
// cpu-us/row is the process's CPU from the route's creation until every
// row is in and the delivery log has written its entries: steadier than
// rows/s on a shared machine.
//
//	go test -run '^$' -bench RelayOneKey -benchtime 20000x ./internal/server/
func BenchmarkRelayOneKey(b *testing.B) {
	pgDSN := testenv.Postgres(b)
	pg, err := sql.Open("pgx", pgDSN)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pg.Close() })
	schema := fmt.Sprintf("onekey%06d", rand.IntN(1_000_000))
	mustExec(b, pg, `CREATE SCHEMA `+schema)
	b.Cleanup(func() { pg.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) })
	mustExec(b, pg, `CREATE TABLE `+schema+`.cars (seq BIGSERIAL PRIMARY KEY, id INTEGER, car_name TEXT, stock INTEGER)`)

	f := &fanOut{r: start(b, Config{}), pg: pg}
	f.admin = f.r.key(b, "relay.read", "relay.write")
	f.create(b, "/api/v1/relay/datasets", `{"name":"cars","key_fields":["id"]}`)
	f.key = f.create(b, "/api/v1/relay/applications", `{"name":"onekey","datasets":["cars"],"rate_limit":10000000,"burst":10000000}`)["api_key"].(string)
	d := f.create(b, "/api/v1/relay/destinations", fmt.Sprintf(`{"name":"pg","kind":"postgres","host":"127.0.0.1","port":5432,"database":"test","user":"postgres","no_password":true,"options":{"search_path":%q,"sslmode":"disable"}}`, schema))

	body := `{"id":1,"car_name":"porche 911 15","stock":"4"}`
	batch := "[" + strings.TrimSuffix(strings.Repeat(body+",", 100), ",") + "]"
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		for lo := 0; lo < b.N; lo += 100 {
			next <- min(100, b.N-lo)
		}
		close(next)
	}()
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				req := batch
				if n < 100 {
					req = "[" + strings.TrimSuffix(strings.Repeat(body+",", n), ",") + "]"
				}
				if rep := f.r.call(b, "POST", "/api/v1/datasets/cars/records", f.key, req); rep.status != 202 {
					b.Errorf("ingest: %d %s", rep.status, rep.body)
					return
				}
			}
		}()
	}
	wg.Wait()

	cpu0 := cpuTime()
	f.create(b, "/api/v1/relay/routes", fmt.Sprintf(`{"name":"pg","dataset":"cars","destination":%q,"table":"cars","mode":"insert",
		"mapping":[{"column":"id","field":"id"},{"column":"car_name","field":"car_name"},{"column":"stock","field":"stock"}]}`, d["id"]))
	count := func() int {
		var n int
		_ = pg.QueryRow(`SELECT COUNT(*) FROM ` + schema + `.cars`).Scan(&n)
		return n
	}
	for count() == 0 {
		time.Sleep(2 * time.Millisecond)
	}
	start := time.Now()
	for count() < b.N {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if err := f.r.deliveryLog.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(elapsed.Seconds(), "delivery-s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/row")
}

// cpuTime is the CPU the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
