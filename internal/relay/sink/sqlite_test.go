package sink

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

var sqliteHarness = harness{
	dialect: SQLite,
	open: func(t testing.TB) (*DB, *sql.DB) {
		path := filepath.Join(t.TempDir(), "dest.db")
		s, err := Open(ctxT(t), SQLite, Config{DSN: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		admin, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Close() })
		return s, admin
	},
	ddl: map[string]string{
		"items":  `CREATE TABLE items (id bigint PRIMARY KEY, name varchar(20) NOT NULL, price numeric(10,2), active boolean, data json, at timestamp, note text DEFAULT 'x')`,
		"events": `CREATE TABLE events (seq integer PRIMARY KEY AUTOINCREMENT, body text NOT NULL)`,
		"pairs":  `CREATE TABLE pairs (a int, b varchar(10), v int, PRIMARY KEY (a, b))`,
	},
}

func TestSQLite(t *testing.T) { runSuite(t, sqliteHarness) }

func TestSQLiteClassify(t *testing.T) {
	s, admin := sqliteHarness.setup(t, "items")
	ctx := ctxT(t)
	mustExec(t, admin, "INSERT INTO items (id, name) VALUES (1, 'a')")
	_, dup := s.db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (1, 'b')")
	_, undefined := s.db.ExecContext(ctx, "SELECT nope FROM items")

	// Another writer holds the database: SQLITE_BUSY once the (short) busy
	// timeout runs out.
	busyDB, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "busy.db")+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer busyDB.Close()
	busyDB.SetMaxOpenConns(2)
	mustExec(t, busyDB, "CREATE TABLE x (a int)")
	c1, err := busyDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := busyDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c1.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	_, busy := c2.ExecContext(ctx, "BEGIN IMMEDIATE")
	c1.ExecContext(ctx, "ROLLBACK")

	for _, tc := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"unique violation", dup, false},
		{"undefined column", undefined, false},
		{"busy", busy, true},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error provoked", tc.name)
			continue
		}
		got := sqliteDialect{}.classify(tc.err)
		var pe *PermanentError
		if isT := errors.Is(got, ErrTransient); isT != tc.transient || (!isT && !errors.As(got, &pe)) {
			t.Errorf("%s: classify(%v) = %v, want transient %v (else *PermanentError)", tc.name, tc.err, got, tc.transient)
		}
	}
}
