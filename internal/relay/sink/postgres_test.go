package sink

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/arus-platform/arus/internal/testenv"
)

// pgDSN returns the test DSN with search_path set to schema (and user
// replaced when not empty).
func pgDSN(t testing.TB, base, schema, user string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	if user != "" {
		u.User = url.User(user)
	}
	return u.String()
}

// pgSchema creates a fresh schema for the test and drops it afterwards.
func pgSchema(t testing.TB) (base, schema string, admin *sql.DB) {
	t.Helper()
	base = testenv.Postgres(t)
	schema = randomName("arus_t_")
	root, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	root.Close()
	admin, err = sql.Open("pgx", pgDSN(t, base, schema, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return base, schema, admin
}

var postgresHarness = harness{
	dialect: Postgres,
	open: func(t testing.TB) (*DB, *sql.DB) {
		base, schema, admin := pgSchema(t)
		s, err := Open(ctxT(t), Postgres, Config{DSN: pgDSN(t, base, schema, "")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, admin
	},
	ddl: map[string]string{
		"items":  `CREATE TABLE items (id bigint PRIMARY KEY, name varchar(20) NOT NULL, price numeric(10,2), active boolean, data jsonb, at timestamptz, note text DEFAULT 'x')`,
		"events": `CREATE TABLE events (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL)`,
		"pairs":  `CREATE TABLE pairs (a int, b varchar(10), v int, PRIMARY KEY (a, b))`,
	},
}

func TestPostgres(t *testing.T) { runSuite(t, postgresHarness) }

func TestPostgresValuesRoundTrip(t *testing.T) {
	s, admin := postgresHarness.setup(t, "items")
	ctx := ctxT(t)
	if _, _, err := s.Prepare(ctx, "items", items, []string{"name", "price", "active", "data", "at"}); err != nil {
		t.Fatal(err)
	}
	batch := rowsOf(0, Upsert, map[string]any{"id": int64(1), "name": "one", "price": "12345678.99", "active": "true", "data": map[string]any{"k": []any{1.0, "x", nil}}, "at": "2026-01-02T03:04:05.5+02:00"})
	if err := s.Write(ctx, "items", items, batch); err != nil {
		t.Fatal(err)
	}
	var price, data, at string
	var active bool
	err := admin.QueryRow(`SELECT price::text, active, data::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') FROM items`).Scan(&price, &active, &data, &at)
	if err != nil {
		t.Fatal(err)
	}
	if price != "12345678.99" || !active || data != `{"k": [1, "x", null]}` || at != "2026-01-02T01:04:05.500" {
		t.Errorf("row = %s %v %s %s; want 12345678.99 true {\"k\": [1, \"x\", null]} 2026-01-02T01:04:05.500", price, active, data, at)
	}
}

// A route that maps an identity column (GENERATED ALWAYS) writes its
// values.
func TestPostgresIdentityMappedExplicitly(t *testing.T) {
	s, admin := postgresHarness.setup(t, "events")
	ctx := ctxT(t)
	for _, target := range []Target{
		{Table: Table{Name: "events"}, Key: []string{"seq"}, Mode: Upsert},
		{Table: Table{Name: "events"}, Mode: Insert},
	} {
		route := "events-" + target.Mode.String()
		if _, _, err := s.Prepare(ctx, route, target, []string{"seq", "body"}); err != nil {
			t.Fatal(err)
		}
		seq := int64(len(route)) // 13 and 13+1
		if target.Mode == Insert {
			seq++
		}
		if err := s.Write(ctx, route, target, rowsOf(0, target.Mode, map[string]any{"seq": seq, "body": route})); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := queryStrings(t, admin, "SELECT seq, body FROM events ORDER BY seq"), []string{"13=events-upsert", "14=events-insert"}; !slices.Equal(got, want) {
		t.Errorf("rows = %v, want %v", got, want)
	}
}

// A role without CREATE on the schema cannot make the bookkeeping table:
// the route runs at-least-once, and still writes.
func TestPostgresWithoutCreateIsAtLeastOnce(t *testing.T) {
	base, schema, admin := pgSchema(t)
	role := randomName("arus_t_ro_")
	mustExec(t, admin,
		"CREATE ROLE "+role+" LOGIN",
		"GRANT USAGE ON SCHEMA "+schema+" TO "+role,
		postgresHarness.ddl["items"],
		"GRANT SELECT, INSERT, UPDATE, DELETE ON items TO "+role,
	)
	t.Cleanup(func() {
		admin.Exec("DROP OWNED BY " + role)
		admin.Exec("DROP ROLE " + role)
	})
	ctx := ctxT(t)
	s, err := Open(ctx, Postgres, Config{DSN: pgDSN(t, base, schema, role)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g, committed, err := s.Prepare(ctx, "items", items, []string{"name"})
	if err != nil {
		t.Fatal(err)
	}
	if g != AtLeastOnce || len(committed) != 0 {
		t.Fatalf("Prepare = %v, %v; want AtLeastOnce and no positions", g, committed)
	}
	for range 2 {
		if err := s.Write(ctx, "items", items, rowsOf(0, Upsert, map[string]any{"id": int64(1), "name": "a"})); err != nil {
			t.Fatal(err)
		}
	}
	if got := count(t, admin, "items"); got != 1 {
		t.Errorf("rows = %d, want 1", got)
	}
	// Once an administrator creates the table, the route is exactly-once.
	mustExec(t, admin, postgres{}.createPositions(quoteDouble(DefaultBookkeepingTable)),
		"GRANT SELECT, INSERT, UPDATE ON "+DefaultBookkeepingTable+" TO "+role)
	if g, _, err := s.Prepare(ctx, "items", items, []string{"name"}); err != nil || g != ExactlyOnce {
		t.Errorf("Prepare after the table exists = %v, %v; want ExactlyOnce", g, err)
	}
}

func TestPostgresClassify(t *testing.T) {
	base, schema, admin := pgSchema(t)
	mustExec(t, admin, "CREATE TABLE k (id int PRIMARY KEY)", "INSERT INTO k VALUES (1)")
	ctx := ctxT(t)
	db, err := sql.Open("pgx", pgDSN(t, base, schema, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) error { _, err := db.ExecContext(ctx, q); return err }

	// A connection killed by the server (57P01 admin_shutdown).
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	mustExec(t, admin, "SELECT pg_terminate_backend("+itoa(pid)+")")
	_, terminated := conn.ExecContext(ctx, "SELECT 1")
	conn.Close()

	// A real deadlock: two transactions take two rows in opposite orders;
	// the server picks a victim after deadlock_timeout (1 s by default).
	mustExec(t, admin, "INSERT INTO k VALUES (2)")
	deadlock := func() error {
		a, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil
		}
		defer a.Rollback()
		b, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil
		}
		defer b.Rollback()
		a.ExecContext(ctx, "UPDATE k SET id = id WHERE id = 1")
		b.ExecContext(ctx, "UPDATE k SET id = id WHERE id = 2")
		errA := make(chan error, 1)
		go func() { _, err := a.ExecContext(ctx, "UPDATE k SET id = id WHERE id = 2"); errA <- err }()
		time.Sleep(100 * time.Millisecond)
		_, errB := b.ExecContext(ctx, "UPDATE k SET id = id WHERE id = 1")
		if errB != nil {
			b.Rollback()
			<-errA
			return errB
		}
		a.Rollback()
		return <-errA
	}()

	if pe := (*pgconn.PgError)(nil); !errors.As(deadlock, &pe) || pe.Code != "40P01" {
		t.Errorf("deadlock provoked %v, want SQLSTATE 40P01", deadlock)
	}

	refused := func() error {
		s, err := Open(ctx, Postgres, Config{DSN: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"})
		if err == nil {
			s.Close()
		}
		return err
	}()

	// Connecting to a database that does not accept connections (55000),
	// and to one that does not exist (3D000): the destination's state.
	closedDB := "arus_closed_" + schema
	mustExec(t, admin, "CREATE DATABASE "+closedDB+" ALLOW_CONNECTIONS false")
	t.Cleanup(func() { mustExec(t, admin, "DROP DATABASE IF EXISTS "+closedDB) })
	connect := func(database string) error {
		u, err := url.Parse(pgDSN(t, base, schema, ""))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + database
		s, err := Open(ctx, Postgres, Config{DSN: u.String()})
		if err == nil {
			s.Close()
		}
		return err
	}
	notAccepting, missing := connect(closedDB), connect(closedDB+"_missing")

	for _, tc := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"not accepting connections", notAccepting, true},
		{"database missing", missing, true},
		{"unique violation", exec("INSERT INTO k VALUES (1)"), false},
		{"undefined column", exec("SELECT nope FROM k"), false},
		{"data error", exec("SELECT 1/0"), false},
		{"serialization failure", exec(`DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$`), true},
		{"deadlock", deadlock, true},
		{"cannot connect now", exec(`DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '57P03'; END $$`), true},
		{"statement timeout", exec("SET statement_timeout = 50; SELECT pg_sleep(1)"), true},
		{"terminated", terminated, true},
		{"connection refused", refused, true},
		{"context deadline", context.DeadlineExceeded, true},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error provoked", tc.name)
			continue
		}
		got := postgres{}.classify(tc.err)
		var pe *PermanentError
		if isT := errors.Is(got, ErrTransient); isT != tc.transient || (!isT && !errors.As(got, &pe)) {
			t.Errorf("%s: classify(%v) = %v, want transient %v (else *PermanentError)", tc.name, tc.err, got, tc.transient)
		}
	}
}
