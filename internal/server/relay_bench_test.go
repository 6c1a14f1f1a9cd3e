package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/testenv"
)

// fanOut is a running server with the cars dataset routed to three
// PostgreSQL schemas and two MariaDB databases.
type fanOut struct {
	r      *running
	key    string
	admin  string
	routes []string // route bodies, created by addRoutes
	pg, my *sql.DB
	counts []string // one COUNT(*) query per destination table, with its DB
	dbs    []*sql.DB
}

func newFanOut(b testing.TB) *fanOut {
	pgDSN, myDSN := testenv.Postgres(b), testenv.MySQL(b)
	tag := fmt.Sprintf("fan%06d", rand.IntN(1_000_000))
	f := &fanOut{}
	var err error
	if f.pg, err = sql.Open("pgx", pgDSN); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.pg.Close() })
	if f.my, err = sql.Open("mysql", myDSN); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.my.Close() })
	f.r = start(b, Config{})
	f.admin = f.r.key(b, "relay.read", "relay.write")
	create := func(path, body string) map[string]any { return f.create(b, path, body) }
	create("/api/v1/relay/datasets", `{"name":"cars","key_fields":["id"]}`)
	app := create("/api/v1/relay/applications", `{"name":"fan","datasets":["cars"],"rate_limit":10000000,"burst":10000000}`)
	f.key = app["api_key"].(string)
	mapping := `[{"column":"id","field":"id"},{"column":"car_name","field":"car_name"},{"column":"price","field":"price"}]`
	for i := 1; i <= 3; i++ {
		s := fmt.Sprintf("%s_pg%d", tag, i)
		mustExec(b, f.pg, `CREATE SCHEMA `+s)
		b.Cleanup(func() { f.pg.ExecContext(context.Background(), `DROP SCHEMA `+s+` CASCADE`) })
		mustExec(b, f.pg, `CREATE TABLE `+s+`.cars (id INTEGER PRIMARY KEY, car_name TEXT, price BIGINT)`)
		d := create("/api/v1/relay/destinations", fmt.Sprintf(`{"name":"pg%d","kind":"postgres","host":"127.0.0.1","port":5432,"database":"test","user":"postgres","password":"any","options":{"search_path":%q,"sslmode":"disable"}}`, i, s))
		f.routes = append(f.routes, fmt.Sprintf(`{"name":"pg%d","dataset":"cars","destination":%q,"table":"cars","mode":"upsert","key_columns":["id"],"mapping":%s}`, i, d["id"], mapping))
		f.counts, f.dbs = append(f.counts, `SELECT COUNT(*) FROM `+s+`.cars`), append(f.dbs, f.pg)
	}
	user := tag
	mustExec(b, f.my, fmt.Sprintf(`CREATE USER '%s'@'%%' IDENTIFIED BY 'relay-pass'`, user))
	b.Cleanup(func() { f.my.ExecContext(context.Background(), fmt.Sprintf(`DROP USER '%s'@'%%'`, user)) })
	for i := 1; i <= 2; i++ {
		db := fmt.Sprintf("%s_my%d", tag, i)
		mustExec(b, f.my, `CREATE DATABASE `+db)
		b.Cleanup(func() { f.my.ExecContext(context.Background(), `DROP DATABASE `+db) })
		mustExec(b, f.my, fmt.Sprintf(`GRANT ALL ON %s.* TO '%s'@'%%'`, db, user))
		mustExec(b, f.my, `CREATE TABLE `+db+`.cars (id INT PRIMARY KEY, car_name VARCHAR(100), price BIGINT)`)
		d := create("/api/v1/relay/destinations", fmt.Sprintf(`{"name":"my%d","kind":"mysql","host":"127.0.0.1","port":3306,"database":%q,"user":%q,"password":"relay-pass"}`, i, db, user))
		f.routes = append(f.routes, fmt.Sprintf(`{"name":"my%d","dataset":"cars","destination":%q,"table":"cars","mode":"upsert","key_columns":["id"],"mapping":%s}`, i, d["id"], mapping))
		f.counts, f.dbs = append(f.counts, `SELECT COUNT(*) FROM `+db+`.cars`), append(f.dbs, f.my)
	}
	return f
}

func (f *fanOut) create(b testing.TB, path, body string) map[string]any {
	rep := f.r.call(b, "POST", path, f.admin, body)
	if rep.status != 201 {
		b.Fatalf("POST %s: %d %s", path, rep.status, rep.body)
	}
	var v map[string]any
	_ = json.Unmarshal([]byte(rep.body), &v)
	return v
}

// addRoutes creates the five routes; the engine starts them within its
// poll interval.
func (f *fanOut) addRoutes(b testing.TB) {
	for _, r := range f.routes {
		f.create(b, "/api/v1/relay/routes", r)
	}
}

// most returns the most rows any destination table holds.
func (f *fanOut) most() int {
	most := 0
	for i, q := range f.counts {
		var n int
		if err := f.dbs[i].QueryRow(q).Scan(&n); err == nil {
			most = max(most, n)
		}
	}
	return most
}

// ingest posts records with ids [from, to) in batches of 100 from 8 clients.
func (f *fanOut) ingest(b testing.TB, from, to int) {
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		for lo := from; lo < to; lo += 100 {
			next <- lo
		}
		close(next)
	}()
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				var recs []string
				for id := lo; id < min(lo+100, to); id++ {
					recs = append(recs, fmt.Sprintf(`{"id":%d,"car_name":"car %d","price":%d}`, id, id, 100_000_000+id))
				}
				if rep := f.r.call(b, "POST", "/api/v1/datasets/cars/records", f.key, "["+strings.Join(recs, ",")+"]"); rep.status != 202 {
					b.Errorf("ingest: %d %s", rep.status, rep.body)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// delivered returns the fewest rows any destination table holds.
func (f *fanOut) delivered() int {
	least := -1
	for i, q := range f.counts {
		var n int
		if err := f.dbs[i].QueryRow(q).Scan(&n); err != nil {
			return 0
		}
		if least < 0 || n < least {
			least = n
		}
	}
	return least
}

// BenchmarkRelayFanOut measures delivery into five databases: b.N records
// are ingested before the routes exist; once the routes are created, the
// time from the first row written to all rows in all five tables gives the
// aggregate rows/s (5 × b.N rows) of delivery alone.
//
//	go test -run '^$' -bench RelayFanOut -benchtime 100000x ./internal/server/
func BenchmarkRelayFanOut(b *testing.B) {
	f := newFanOut(b)
	f.ingest(b, 0, b.N)
	f.addRoutes(b)
	for f.most() == 0 {
		time.Sleep(2 * time.Millisecond)
	}
	start := time.Now()
	for f.delivered() < b.N {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(5*b.N)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(elapsed.Seconds(), "delivery-s")
}

// BenchmarkRelayLatency ingests at a steady rate and measures, for marker
// records sent along, the time from their 202 until they are in all five
// databases.
//
//	go test -run '^$' -bench RelayLatency -benchtime 1x ./internal/server/
func BenchmarkRelayLatency(b *testing.B) {
	f := newFanOut(b)
	f.addRoutes(b)
	f.ingest(b, 0, 100)
	for f.delivered() < 100 {
		time.Sleep(50 * time.Millisecond)
	}
	const rate, seconds = 5000, 10
	var lat []time.Duration
	id := 1000
	tick := time.NewTicker(100 * time.Millisecond) // 500 records every 100 ms
	defer tick.Stop()
	for step := 0; step < seconds*10; step++ {
		<-tick.C
		f.ingest(b, id, id+rate/10)
		if step%10 == 9 {
			marker := id + rate/10 - 1
			t0 := time.Now()
			for !f.allHave(marker) {
				time.Sleep(5 * time.Millisecond)
			}
			lat = append(lat, time.Since(t0))
		}
		id += rate / 10
	}
	var worst time.Duration
	for _, l := range lat {
		worst = max(worst, l)
	}
	b.ReportMetric(worst.Seconds()*1000, "worst-ms-to-all-5")
}

func (f *fanOut) allHave(id int) bool {
	for i, q := range f.counts {
		q += fmt.Sprintf(" WHERE id = %d", id)
		var n int
		if err := f.dbs[i].QueryRow(q).Scan(&n); err != nil || n == 0 {
			return false
		}
	}
	return true
}

func mustExec(t testing.TB, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
