package delivery

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/secret"
	"github.com/arus-platform/arus/internal/testenv"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// env is a relay with its store in a temporary directory, an embedded
// broker and a dataset "items" keyed by id.
type env struct {
	t      testing.TB
	relay  *relay.Relay
	broker stream.Broker
	ds     relay.Dataset
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, brokertest.Embedded.Open(t))
}

// newEnvWith is newEnv on broker b.
func newEnvWith(t testing.TB, b stream.Broker) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	open := func(component string) *store.DB {
		db, err := store.Open(ctx, store.Config{Dir: dir, Component: component})
		if err != nil {
			t.Fatalf("store.Open(%s): %v", component, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	as, err := auth.Open(ctx, open("auth"), auth.Config{Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatalf("auth.Open: %v", err)
	}
	box, err := secret.New(make([]byte, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	// SQLite destinations of these tests live in their own temporary
	// directories.
	r, err := relay.New(ctx, relay.Config{DB: open("relay"), Auth: as, Secrets: box, Producer: b, Logger: brokertest.Logger(),
		SQLiteDir: os.TempDir()})
	if err != nil {
		t.Fatalf("relay.New: %v", err)
	}
	ds, err := r.CreateDataset(ctx, relay.Dataset{Name: "items", KeyFields: []string{"id"}})
	if err != nil {
		t.Fatalf("CreateDataset: %v", err)
	}
	return &env{t: t, relay: r, broker: b, ds: ds}
}

// engine starts an engine with short intervals; stop ends it.
func (e *env) engine(mod func(*Config)) (eng *Engine, stop func()) {
	e.t.Helper()
	cfg := Config{Relay: e.relay, Broker: e.broker, Logger: brokertest.Logger(),
		PollInterval: 50 * time.Millisecond, Heartbeat: 100 * time.Millisecond,
		RetryBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, MaxAttempts: 2, MaxBatch: 100}
	if mod != nil {
		mod(&cfg)
	}
	eng, err := New(cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	}
	e.t.Cleanup(stop)
	return eng, stop
}

// produce stores records of the dataset as ingest would: envelopes
// {op, data} keyed by id, with the dataset and application headers.
func (e *env) produce(op string, rows ...map[string]any) {
	e.t.Helper()
	recs := make([]*stream.Record, len(rows))
	for i, row := range rows {
		data, _ := json.Marshal(row)
		value, _ := json.Marshal(relay.Envelope{Op: op, Data: data})
		recs[i] = &stream.Record{Topic: e.ds.Topic, Key: []byte(fmt.Sprint(row["id"])), Value: value, Headers: []stream.Header{
			{Key: relay.HeaderDataset, Value: []byte(e.ds.Name)},
			{Key: relay.HeaderApplication, Value: []byte("shop")},
		}}
	}
	if err := e.broker.Produce(context.Background(), recs...); err != nil {
		e.t.Fatalf("Produce: %v", err)
	}
}

func (e *env) route(in relay.RouteInput) relay.Route {
	e.t.Helper()
	if in.Dataset == "" {
		in.Dataset = e.ds.Name
	}
	rt, err := e.relay.CreateRoute(context.Background(), in)
	if err != nil {
		e.t.Fatalf("CreateRoute: %v", err)
	}
	return rt
}

// dest is a destination database for a test: how to create it in the
// relay, a connection to check it, and DDL per table.
type dest struct {
	kind  string
	input relay.DestinationInput
	db    *sql.DB
	ddl   map[string]string
}

func (e *env) create(d dest, name string) relay.Destination {
	e.t.Helper()
	in := d.input
	in.Name = name
	out, err := e.relay.CreateDestination(context.Background(), in)
	if err != nil {
		e.t.Fatalf("CreateDestination: %v", err)
	}
	return out
}

func (d dest) exec(t testing.TB, tables ...string) {
	t.Helper()
	for _, tb := range tables {
		if _, err := d.db.Exec(d.ddl[tb]); err != nil {
			t.Fatalf("create %s: %v", tb, err)
		}
	}
}

var ddl = map[string]map[string]string{
	relay.KindSQLite: {
		"items":  `CREATE TABLE items (id bigint PRIMARY KEY, title text NOT NULL, price numeric(10,2), note text)`,
		"events": `CREATE TABLE events (seq integer PRIMARY KEY AUTOINCREMENT, rid text NOT NULL, v integer)`,
		"checks": `CREATE TABLE checks (id bigint PRIMARY KEY, qty integer NOT NULL CHECK (qty >= 0))`,
	},
	relay.KindMySQL: {
		"items":  `CREATE TABLE items (id bigint PRIMARY KEY, title text NOT NULL, price decimal(10,2), note text)`,
		"events": `CREATE TABLE events (seq bigint AUTO_INCREMENT PRIMARY KEY, rid varchar(20) NOT NULL, v int)`,
		"checks": `CREATE TABLE checks (id bigint PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0))`,
	},
	relay.KindPostgres: {
		"items":  `CREATE TABLE items (id bigint PRIMARY KEY, title text NOT NULL, price numeric(10,2), note text)`,
		"events": `CREATE TABLE events (seq bigserial PRIMARY KEY, rid text NOT NULL, v integer)`,
		"checks": `CREATE TABLE checks (id bigint PRIMARY KEY, qty integer NOT NULL CHECK (qty >= 0))`,
	},
}

func sqliteDest(t testing.TB) dest {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dest.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return dest{kind: relay.KindSQLite, input: relay.DestinationInput{Kind: relay.KindSQLite, Database: path, Create: true}, db: db, ddl: ddl[relay.KindSQLite]}
}

// postgresDest is a fresh schema of the test database, dropped at the
// end; hostport, when set, replaces the server's address (a proxy).
func postgresDest(t testing.TB, hostport string) dest {
	t.Helper()
	base := testenv.Postgres(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "d_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if hostport != "" {
		u.Host = hostport
	}
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	u.User = url.User(u.User.Username())
	return dest{kind: relay.KindPostgres, input: relay.DestinationInput{Kind: relay.KindPostgres, DSN: u.String(), Password: "unused"},
		db: db, ddl: ddl[relay.KindPostgres]}
}

// mysqlDest is a fresh database of the test MariaDB/MySQL server with a
// user of its own that has a password, so the destination is given by
// connection fields and a password as a user would.
func mysqlDest(t testing.TB) dest { return mysqlDestWith(t, "ALL") }

// mysqlDestWith is mysqlDest with the user granted only privileges.
func mysqlDestWith(t testing.TB, privileges string) dest {
	t.Helper()
	base := testenv.MySQL(t)
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatal(err)
	}
	root, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "arus_d_" + hex.EncodeToString(b[:])
	const password = "s3cret-pw"
	for _, q := range []string{
		"CREATE DATABASE " + name,
		"CREATE USER '" + name + "'@'%' IDENTIFIED BY '" + password + "'",
		"CREATE USER '" + name + "'@'localhost' IDENTIFIED BY '" + password + "'",
		"GRANT " + privileges + " ON " + name + ".* TO '" + name + "'@'%'",
		"GRANT " + privileges + " ON " + name + ".* TO '" + name + "'@'localhost'",
	} {
		if _, err := root.Exec(q); err != nil {
			root.Close()
			testenv.Unavailable(t, "MySQL/MariaDB: %s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		_, _ = root.Exec("DROP USER IF EXISTS '" + name + "'@'%'")
		_, _ = root.Exec("DROP USER IF EXISTS '" + name + "'@'localhost'")
		_, _ = root.Exec("DROP DATABASE IF EXISTS " + name)
		root.Close()
	})
	c := cfg.Clone()
	c.DBName = name
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return dest{kind: relay.KindMySQL, db: db, ddl: ddl[relay.KindMySQL], input: relay.DestinationInput{Kind: relay.KindMySQL,
		Host: host, Port: p, Database: name, User: name, Password: password}}
}

// eachDest runs fn against SQLite, PostgreSQL and MariaDB destinations.
func eachDest(t *testing.T, fn func(t *testing.T, d dest)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteDest(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresDest(t, "")) })
	t.Run("mysql", func(t *testing.T) { fn(t, mysqlDest(t)) })
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, got := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out; last saw %s", what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rows returns the query's rows rendered as strings.
func rows(t testing.TB, db *sql.DB, query string) []string {
	t.Helper()
	rs, err := db.Query(query)
	if err != nil {
		return []string{"error: " + err.Error()}
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
		s := ""
		for i, v := range vals {
			if i > 0 {
				s += "|"
			}
			if v.Valid {
				s += v.String
			} else {
				s += "NULL"
			}
		}
		out = append(out, s)
	}
	return out
}

func count(t testing.TB, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		return -1
	}
	return n
}
