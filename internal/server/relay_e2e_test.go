package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/arus-platform/arus/internal/relay/deliverylog"
	"github.com/arus-platform/arus/internal/testenv"
)

// cutProxy forwards TCP to a target and can cut every connection and refuse
// new ones for a while, as a network partition would.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close(); c.Close() }()
			go func() { io.Copy(c, up); up.Close(); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

type car struct {
	ID       int    `json:"id"`
	Name     string `json:"car_name"`
	Stock    int    `json:"stock"`
	Price    int64  `json:"price"`
	Category string `json:"category"`
	Type     string `json:"type"`
}

// The relay's acceptance run: 20,000 records ingested concurrently, with
// updates and deletes, into three PostgreSQL and two MariaDB destinations
// with different column subsets and modes, while one MariaDB destination is
// cut off for 30 s and one PostgreSQL destination has its connections
// killed. Every table ends exactly as the records say, nothing doubled, and
// the delivery log agrees.
func TestRelayFiveDatabasesUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end run; skipped under -short")
	}
	ctx := context.Background()
	pgDSN := testenv.Postgres(t)
	myDSN := testenv.MySQL(t)
	tag := fmt.Sprintf("e2e%06d", rand.IntN(1_000_000))

	// PostgreSQL: three schemas in the test database.
	pg, err := sql.Open("pgx", pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	pgSchemas := []string{tag + "_pg1", tag + "_pg2", tag + "_pg3"}
	for _, s := range pgSchemas {
		if _, err := pg.ExecContext(ctx, `CREATE SCHEMA `+s); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.ExecContext(context.Background(), `DROP SCHEMA `+s+` CASCADE`) })
	}
	mustExec(t, pg, `CREATE TABLE `+pgSchemas[0]+`.cars (id INTEGER PRIMARY KEY, car_name TEXT, stock INTEGER, price BIGINT, category TEXT, type TEXT)`)
	mustExec(t, pg, `CREATE TABLE `+pgSchemas[1]+`.prices (id INTEGER PRIMARY KEY, name TEXT, price BIGINT)`)
	mustExec(t, pg, `CREATE TABLE `+pgSchemas[2]+`.car_log (seq BIGSERIAL PRIMARY KEY, car_id INTEGER, car_name TEXT, category TEXT, type TEXT)`)

	// MariaDB: two databases and a user with a password for them.
	my, err := sql.Open("mysql", myDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer my.Close()
	myDBs := []string{tag + "_my1", tag + "_my2"}
	user := tag
	mustExec(t, my, fmt.Sprintf(`CREATE USER '%s'@'%%' IDENTIFIED BY 'relay-pass'`, user))
	t.Cleanup(func() { my.ExecContext(context.Background(), fmt.Sprintf(`DROP USER '%s'@'%%'`, user)) })
	for _, d := range myDBs {
		mustExec(t, my, `CREATE DATABASE `+d)
		t.Cleanup(func() { my.ExecContext(context.Background(), `DROP DATABASE `+d) })
		mustExec(t, my, fmt.Sprintf(`GRANT ALL ON %s.* TO '%s'@'%%'`, d, user))
	}
	mustExec(t, my, `CREATE TABLE `+myDBs[0]+`.cars (id INT PRIMARY KEY, car_name VARCHAR(100), category VARCHAR(50), type VARCHAR(50))`)
	mustExec(t, my, `CREATE TABLE `+myDBs[1]+`.stock (id INT PRIMARY KEY, car_name VARCHAR(100), stock INT)`)
	proxy := newCutProxy(t, "127.0.0.1:3306")

	r := start(t, Config{})
	admin := r.key(t, "relay.read", "relay.write")
	create := func(path, body string) map[string]any {
		t.Helper()
		rep := r.call(t, "POST", path, admin, body)
		if rep.status != 201 {
			t.Fatalf("POST %s: %d %s", path, rep.status, rep.body)
		}
		var v map[string]any
		_ = json.Unmarshal([]byte(rep.body), &v)
		return v
	}
	create("/api/v1/relay/datasets", `{"name":"cars","key_fields":["id"]}`)
	app := create("/api/v1/relay/applications", `{"name":"dealer-app","datasets":["cars"],"rate_limit":1000000,"burst":1000000}`)
	pgDest := func(name, schema string) string {
		d := create("/api/v1/relay/destinations", fmt.Sprintf(`{"name":%q,"kind":"postgres","host":"127.0.0.1","port":5432,"database":"test","user":"postgres","password":"any",
			"options":{"search_path":%q,"application_name":%q,"sslmode":"disable"}}`, name, schema, tag+"-"+name))
		return d["id"].(string)
	}
	myDest := func(name, db string, port int) string {
		d := create("/api/v1/relay/destinations", fmt.Sprintf(`{"name":%q,"kind":"mysql","host":"127.0.0.1","port":%d,"database":%q,"user":%q,"password":"relay-pass"}`,
			name, port, db, user))
		return d["id"].(string)
	}
	d1, d2, d3 := pgDest("pg1", pgSchemas[0]), pgDest("pg2", pgSchemas[1]), pgDest("pg3", pgSchemas[2])
	d4, d5 := myDest("maria1", myDBs[0], 3306), myDest("maria2", myDBs[1], proxy.port())
	route := func(name, dest, table, mode string, deletes bool, mapping string) {
		create("/api/v1/relay/routes", fmt.Sprintf(`{"name":%q,"dataset":"cars","destination":%q,"table":%q,"mode":%q,"key_columns":["id"],"deletes":%v,"mapping":%s}`,
			name, dest, table, mode, deletes, mapping))
	}
	route("full", d1, "cars", "upsert", true, `[{"column":"id","field":"id"},{"column":"car_name","field":"car_name"},{"column":"stock","field":"stock"},{"column":"price","field":"price"},{"column":"category","field":"category"},{"column":"type","field":"type"}]`)
	route("prices", d2, "prices", "upsert", true, `[{"column":"id","field":"id"},{"column":"name","field":"car_name"},{"column":"price","field":"price"}]`)
	create("/api/v1/relay/routes", fmt.Sprintf(`{"name":"log","dataset":"cars","destination":%q,"table":"car_log","mode":"insert","deletes":false,
		"mapping":[{"column":"car_id","field":"id"},{"column":"car_name","field":"car_name"},{"column":"category","field":"category"},{"column":"type","field":"type"}]}`, d3))
	route("catalogue", d4, "cars", "upsert", true, `[{"column":"id","field":"id"},{"column":"car_name","field":"car_name"},{"column":"category","field":"category"},{"column":"type","field":"type"}]`)
	route("stock", d5, "stock", "upsert", true, `[{"column":"id","field":"id"},{"column":"car_name","field":"car_name"},{"column":"stock","field":"stock"}]`)

	// 20,000 records from 8 clients; each client owns the ids ≡ c mod 8 and
	// sends their changes in order, so the final state of every id is known.
	const clients, total, ids = 8, 20000, 3000
	key := app["api_key"].(string)
	final := make([]map[int]*car, clients)
	upserts := make([]int, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		final[c] = map[int]*car{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			sent := 0
			for sent < total/clients {
				n := min(1+rng.IntN(20), total/clients-sent)
				var batch []string
				for i := 0; i < n; i++ {
					id := c + clients*rng.IntN(ids/clients)
					if _, ok := final[c][id]; ok && rng.IntN(6) == 0 {
						batch = append(batch, fmt.Sprintf(`{"op":"delete","data":{"id":%d}}`, id))
						delete(final[c], id)
						continue
					}
					x := &car{ID: id, Name: fmt.Sprintf("car-%d-%d", id, sent+i), Stock: rng.IntN(100), Price: int64(100_000_000 + rng.IntN(900)*1_000_000),
						Category: []string{"mpv", "suv", "sedan"}[rng.IntN(3)], Type: []string{"manual", "automatic"}[rng.IntN(2)]}
					b, _ := json.Marshal(x)
					batch = append(batch, string(b))
					final[c][id] = x
					upserts[c]++
				}
				for attempt := 0; ; attempt++ {
					rep := r.call(t, "POST", "/api/v1/datasets/cars/records", key, "["+strings.Join(batch, ",")+"]")
					if rep.status == 202 {
						break
					}
					if attempt > 20 {
						errs <- fmt.Errorf("ingest: %d %s", rep.status, rep.body)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				sent += n
			}
		}()
	}
	// Faults while the records flow.
	time.Sleep(300 * time.Millisecond)
	proxy.setCut(true)
	kill := func() {
		_, _ = pg.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, tag+"-pg1")
	}
	kill()
	time.Sleep(500 * time.Millisecond)
	kill()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The other destinations must not wait for the one that is cut off.
	expected := map[int]*car{}
	nUpserts := 0
	for c := range final {
		for id, x := range final[c] {
			expected[id] = x
		}
		nUpserts += upserts[c]
	}
	waitTable(t, "pg1 while maria2 is cut off", pg, `SELECT id, car_name, stock, price, category, type FROM `+pgSchemas[0]+`.cars ORDER BY id`, rowsOf(expected, "full"), 60*time.Second)
	time.Sleep(30 * time.Second)
	proxy.setCut(false)

	waitTable(t, "pg2", pg, `SELECT id, name, price FROM `+pgSchemas[1]+`.prices ORDER BY id`, rowsOf(expected, "prices"), 60*time.Second)
	waitTable(t, "maria1", my, `SELECT id, car_name, category, type FROM `+myDBs[0]+`.cars ORDER BY id`, rowsOf(expected, "catalogue"), 60*time.Second)
	waitTable(t, "maria2 after the cut", my, `SELECT id, car_name, stock FROM `+myDBs[1]+`.stock ORDER BY id`, rowsOf(expected, "stock"), 90*time.Second)
	// The insert-only log holds every upsert exactly once.
	var logRows, distinct int
	waitFor(t, 60*time.Second, func() bool {
		_ = pg.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT car_name) FROM `+pgSchemas[2]+`.car_log`).Scan(&logRows, &distinct)
		return logRows >= nUpserts
	})
	if logRows != nUpserts || distinct != nUpserts {
		t.Errorf("insert-only car_log holds %d rows (%d distinct), want each of the %d upserts once", logRows, distinct, nUpserts)
	}

	// The delivery log agrees: nothing failed for good, and every route
	// logged a delivery or a skip for each record.
	time.Sleep(2 * time.Second) // the log writes in batches
	if n := r.deliveryLog.Dropped(); n != 0 {
		t.Errorf("delivery log dropped %d entries", n)
	}
	for _, st := range r.delivery.Status() {
		counts, err := r.deliveryLog.Counts(ctx, deliverylog.Query{RouteID: st.RouteID})
		if err != nil {
			t.Fatal(err)
		}
		if counts[deliverylog.DeadLettered] != 0 {
			t.Errorf("route %s dead-lettered %d records", st.Route, counts[deliverylog.DeadLettered])
		}
		if got := counts[deliverylog.Delivered] + counts[deliverylog.Skipped]; got < total {
			t.Errorf("route %s logged %d delivered or skipped records, want %d", st.Route, got, total)
		}
	}
}

func mustExec(t testing.TB, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// rowsOf renders the expected rows of a route's table, one line per row in
// id order.
func rowsOf(cars map[int]*car, route string) []string {
	var idsSorted []int
	for id := range cars {
		idsSorted = append(idsSorted, id)
	}
	slices.Sort(idsSorted)
	var out []string
	for _, id := range idsSorted {
		c := cars[id]
		switch route {
		case "full":
			out = append(out, fmt.Sprintf("%d|%s|%d|%d|%s|%s", c.ID, c.Name, c.Stock, c.Price, c.Category, c.Type))
		case "prices":
			out = append(out, fmt.Sprintf("%d|%s|%d", c.ID, c.Name, c.Price))
		case "catalogue":
			out = append(out, fmt.Sprintf("%d|%s|%s|%s", c.ID, c.Name, c.Category, c.Type))
		case "stock":
			out = append(out, fmt.Sprintf("%d|%s|%d", c.ID, c.Name, c.Stock))
		}
	}
	return out
}

// waitTable waits until query returns exactly want (columns joined by '|').
func waitTable(t *testing.T, what string, db *sql.DB, query string, want []string, timeout time.Duration) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(timeout)
	for {
		got = got[:0]
		rows, err := db.Query(query)
		if err == nil {
			cols, _ := rows.Columns()
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				_ = rows.Scan(ptrs...)
				parts := make([]string, len(cols))
				for i, v := range vals {
					parts[i] = v.String
				}
				got = append(got, strings.Join(parts, "|"))
			}
			rows.Close()
			if strings.Join(got, "\n") == strings.Join(want, "\n") {
				return
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	missing, extra := diffRows(got, want)
	t.Errorf("%s: table has %d rows, want %d; %d missing or different (first %v), %d unexpected (first %v)",
		what, len(got), len(want), len(missing), first(missing), len(extra), first(extra))
}

func diffRows(got, want []string) (missing, extra []string) {
	g := map[string]bool{}
	for _, r := range got {
		g[r] = true
	}
	w := map[string]bool{}
	for _, r := range want {
		w[r] = true
		if !g[r] {
			missing = append(missing, r)
		}
	}
	for _, r := range got {
		if !w[r] {
			extra = append(extra, r)
		}
	}
	return missing, extra
}

func first(s []string) []string { return s[:min(3, len(s))] }

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if cond() {
			return
		}
	}
}
