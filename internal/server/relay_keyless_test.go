package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/arus-platform/arus/internal/testenv"
	"github.com/arus-platform/arus/stream"
)

// relayFixture is a running server with an admin key for the relay, and
// helpers to call it.
type relayFixture struct {
	*running
	admin string
}

func newRelayFixture(t *testing.T, data string) *relayFixture {
	t.Helper()
	// A configured admin password: the console does not ask for a new one.
	r := start(t, Config{Data: data, AdminPassword: "a configured password"})
	return &relayFixture{running: r, admin: r.key(t, "relay.read", "relay.write", "topics.read", "records.read")}
}

// create POSTs body to path and returns the answer's object, failing the
// test unless it is a 201.
func (f *relayFixture) create(t *testing.T, path, body string) map[string]any {
	t.Helper()
	rep := f.call(t, "POST", path, f.admin, body)
	if rep.status != 201 {
		t.Fatalf("POST %s %s: %d %s", path, body, rep.status, rep.body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(rep.body), &v); err != nil {
		t.Fatalf("POST %s: %s: %v", path, rep.body, err)
	}
	return v
}

// pgTarget is the test PostgreSQL server's connection fields, and a
// schema of its own for the test's tables, dropped when it ends.
type pgTarget struct {
	db                   *sql.DB
	host, database, user string
	port                 int
	schema               string
}

func newPGTarget(t *testing.T) pgTarget {
	t.Helper()
	dsn := testenv.Postgres(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	schema := fmt.Sprintf("arus_srv_%d", time.Now().UnixNano())
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	return pgTarget{db: db, host: cfg.Host, port: int(cfg.Port), database: cfg.Database, user: cfg.User, schema: schema}
}

// body is the destination's JSON body, with password (none when empty)
// and its schema as the search path.
func (p pgTarget) body(name, password string) string {
	return fmt.Sprintf(`{"name":%q,"kind":"postgres","host":%q,"port":%d,"database":%q,"user":%q,"password":%q,
		"options":{"search_path":%q,"sslmode":"disable"}}`, name, p.host, p.port, p.database, p.user, password, p.schema)
}

// myTarget is the test MariaDB server's root account and a database of
// the test's own.
type myTarget struct {
	db             *sql.DB
	host, user, pw string
	port           int
	database       string
}

func newMyTarget(t *testing.T) myTarget {
	t.Helper()
	dsn := testenv.MySQL(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	name := fmt.Sprintf("arus_srv_%d", time.Now().UnixNano())
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec(`DROP DATABASE ` + name) })
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	var p int
	fmt.Sscan(port, &p)
	return myTarget{db: db, host: host, port: p, user: cfg.User, pw: cfg.Passwd, database: name}
}

// rows reads a query's rows as "a b c" strings.
func rows(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rs, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out []string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = v.String
			if !v.Valid {
				parts[i] = "NULL"
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

// waitRows waits until q answers want, and fails with what it last saw.
func waitRows(t *testing.T, db *sql.DB, q string, want []string) {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = rows(t, db, q); strings.Join(got, "|") == strings.Join(want, "|") {
			return
		}
	}
	t.Fatalf("%s:\n got %q\nwant %q", q, got, want)
}

// waitCommitted waits until the route's consumer group has committed every
// record of topic: each partition's committed offset at its end.
func (f *relayFixture) waitCommitted(t *testing.T, routeID, topic string) {
	t.Helper()
	ctx := context.Background()
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		info, err := f.broker.DescribeTopic(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		g, err := f.broker.DescribeGroup(ctx, "relay.route."+routeID)
		if err != nil {
			last = err.Error()
			continue
		}
		committed := map[int32]int64{}
		for _, o := range g.Offsets {
			if o.Topic == topic {
				committed[o.Partition] = o.Committed
			}
		}
		done := true
		for _, o := range info.Offsets {
			if o.End > o.Start && committed[o.Partition] < o.End {
				done = false
			}
		}
		if done {
			return
		}
		last = fmt.Sprintf("topic %v, group %v", info.Offsets, g.Offsets)
	}
	t.Fatalf("route %s did not commit all of %s: %s", routeID, topic, last)
}

// The original application's records: no id, numbers as strings. The
// dataset has no key fields, its route inserts, the sink converts "4" for
// an integer column, and each record is written once into the table
// however often it is stored in the topic (a retry with the same
// Idempotency-Key, copies with the same arus-id) or redelivered (a
// restart).
func TestRelayRecordsWithoutKey(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	pg := newPGTarget(t)
	if _, err := pg.db.Exec(`CREATE TABLE ` + pg.schema + `.cars (seq BIGSERIAL PRIMARY KEY, car_name TEXT NOT NULL, stock INTEGER, price NUMERIC(14,2))`); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	f := newRelayFixture(t, data)

	ds := f.create(t, "/api/v1/relay/datasets", `{"name":"cars"}`)
	if keys, _ := ds["key_fields"].([]any); keys == nil || len(keys) != 0 {
		t.Errorf("a dataset without key fields answers key_fields %v, want []", ds["key_fields"])
	}
	app := f.create(t, "/api/v1/relay/applications", `{"name":"dealer-app","datasets":["cars"]}`)
	key := app["api_key"].(string)
	dest := f.create(t, "/api/v1/relay/destinations", pg.body("pg", "unused-trust"))["id"].(string)

	route := func(mode string, deletes bool) string {
		return fmt.Sprintf(`{"name":"cars-pg","dataset":"cars","destination":%q,"table":"cars","mode":%q,"deletes":%t,"key_columns":[],
			"mapping":[{"column":"car_name","field":"car_name"},{"column":"stock","field":"stock"},{"column":"price","field":"price"}]}`, dest, mode, deletes)
	}
	for _, tc := range []struct {
		name, body, field string
	}{
		{"upsert", strings.Replace(route("upsert", false), `"key_columns":[]`, `"key_columns":["car_name"]`, 1), `"field":"mode"`},
		{"deletes", strings.Replace(route("insert", true), `"key_columns":[]`, `"key_columns":["car_name"]`, 1), `"field":"deletes"`},
	} {
		if rep := f.call(t, "POST", "/api/v1/relay/routes", f.admin, tc.body); rep.status != 422 || !strings.Contains(rep.body, tc.field) {
			t.Errorf("a %s route on a dataset without key: %d %s, want 422 naming %s", tc.name, rep.status, rep.body, tc.field)
		}
	}
	routeID := f.create(t, "/api/v1/relay/routes", route("insert", false))["id"].(string)

	if rep := f.call(t, "POST", "/api/v1/datasets/cars/records", key, `[{"car_name":"x"},{"op":"delete","data":{"car_name":"x"}}]`); rep.status != 422 ||
		!strings.Contains(rep.body, `"field":"[1].op"`) {
		t.Errorf("a delete into a dataset without key: %d %s, want 422 naming [1].op", rep.status, rep.body)
	}
	if rep := f.call(t, "PUT", "/api/v1/relay/datasets/cars", f.admin, `{"key_fields":[]}`); rep.status != 200 {
		t.Errorf("updating a dataset without key: %d %s", rep.status, rep.body)
	}

	body := `[{"stock": "4", "car_name": "porche 911 15", "price": "2500000000.50"},
		{"stock": "4", "car_name": "porche 911 15", "price": "2500000000.50"},
		{"stock": 7, "car_name": "avanza"}]`
	first := f.call(t, "POST", "/api/v1/datasets/cars/records", key, body, "Idempotency-Key", "sync-1")
	if first.status != 202 {
		t.Fatalf("ingest: %d %s", first.status, first.body)
	}
	again := f.call(t, "POST", "/api/v1/datasets/cars/records", key, body, "Idempotency-Key", "sync-1")
	if again.status != 202 || again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the retry: %d %s %v, want the first answer replayed", again.status, again.body, again.header)
	}
	if rep := f.call(t, "POST", "/api/v1/datasets/cars/records", key, `{"car_name":"jazz","stock":"1"}`); rep.status != 202 {
		t.Fatalf("ingest: %d %s", rep.status, rep.body)
	}
	q := `SELECT car_name, stock, price FROM ` + pg.schema + `.cars ORDER BY car_name`
	want := []string{"avanza 7 NULL", "jazz 1 NULL", "porche 911 15 4 2500000000.50", "porche 911 15 4 2500000000.50"}
	waitRows(t, pg.db, q, want)

	// The same records stored again with their ids, as a produce whose
	// answer was lost and was retried would store them: not written again.
	ctx := context.Background()
	var ids struct{ IDs []string }
	if err := json.Unmarshal([]byte(first.body), &ids); err != nil || len(ids.IDs) != 3 {
		t.Fatalf("ingest answer %s: %v", first.body, err)
	}
	info, err := f.broker.DescribeTopic(ctx, "relay.cars")
	if err != nil {
		t.Fatal(err)
	}
	var copies []*stream.Record
	for p, o := range info.Offsets {
		recs, err := f.broker.Read(ctx, "relay.cars", int32(p), o.Start, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if len(rec.Key) != 0 {
				id, _ := rec.Header(stream.HeaderID)
				t.Errorf("record %s has key %q, want none", id, rec.Key)
			}
			copies = append(copies, &stream.Record{Topic: rec.Topic, Value: rec.Value, Headers: rec.Headers})
		}
	}
	if len(copies) != 4 {
		t.Fatalf("relay.cars holds %d records, want 4", len(copies))
	}
	if err := f.broker.Produce(ctx, copies...); err != nil {
		t.Fatal(err)
	}
	if rep := f.call(t, "POST", "/api/v1/datasets/cars/records", key, `{"car_name":"brio","stock":"2"}`); rep.status != 202 {
		t.Fatalf("ingest: %d %s", rep.status, rep.body)
	}
	f.waitCommitted(t, routeID, "relay.cars")
	want = append([]string{"avanza 7 NULL", "brio 2 NULL"}, want[1:]...)
	if got := rows(t, pg.db, q); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after the copies:\n got %q\nwant %q", got, want)
	}

	// A restart on the same data directory delivers nothing twice.
	f.stop()
	f = newRelayFixture(t, data)
	if rep := f.call(t, "POST", "/api/v1/datasets/cars/records", key, `{"car_name":"yaris","stock":"3"}`); rep.status != 202 {
		t.Fatalf("ingest after the restart: %d %s", rep.status, rep.body)
	}
	f.waitCommitted(t, routeID, "relay.cars")
	want = append(want, "yaris 3 NULL")
	if got := rows(t, pg.db, q); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after the restart:\n got %q\nwant %q", got, want)
	}
}
