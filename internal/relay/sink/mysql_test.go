package sink

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/arus-platform/arus/internal/testenv"
)

// mysqlDB creates a fresh database for the test and drops it afterwards;
// it returns a DSN for it (as user, when not empty) and an admin
// connection to it.
func mysqlDB(t testing.TB) (dsn func(user string) string, name string, admin *sql.DB) {
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
	defer root.Close()
	name = randomName("arus_t_")
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		testenv.Unavailable(t, "MySQL/MariaDB: create database: %v", err)
	}
	dsn = func(user string) string {
		c := cfg.Clone()
		c.DBName = name
		if user != "" {
			c.User, c.Passwd = user, ""
		}
		return c.FormatDSN()
	}
	admin, err = sql.Open("mysql", dsn(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	return dsn, name, admin
}

var mysqlHarness = harness{
	dialect: MySQL,
	open: func(t testing.TB) (*DB, *sql.DB) {
		dsn, _, admin := mysqlDB(t)
		s, err := Open(ctxT(t), MySQL, Config{DSN: dsn("")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, admin
	},
	ddl: map[string]string{
		"items":  "CREATE TABLE items (id bigint PRIMARY KEY, name varchar(20) NOT NULL, price decimal(10,2), active tinyint(1), data json, at datetime(6), note varchar(50) DEFAULT 'x')",
		"events": "CREATE TABLE events (seq bigint AUTO_INCREMENT PRIMARY KEY, body varchar(100) NOT NULL)",
		"pairs":  "CREATE TABLE pairs (a int, b varchar(10), v int, PRIMARY KEY (a, b))",
	},
}

func TestMySQL(t *testing.T) { runSuite(t, mysqlHarness) }

func TestMySQLValuesRoundTrip(t *testing.T) {
	s, admin := mysqlHarness.setup(t, "items")
	ctx := ctxT(t)
	if _, _, err := s.Prepare(ctx, "items", items, []string{"name", "price", "active", "data", "at"}); err != nil {
		t.Fatal(err)
	}
	batch := rowsOf(0, Upsert, map[string]any{"id": int64(1), "name": "one", "price": "12345678.99", "active": true, "data": map[string]any{"k": []any{1.0, "x", nil}}, "at": "2026-01-02T03:04:05.5+02:00"})
	if err := s.Write(ctx, "items", items, batch); err != nil {
		t.Fatal(err)
	}
	var price, data, at string
	var active int
	err := admin.QueryRow(`SELECT price, active, data, DATE_FORMAT(at, '%Y-%m-%dT%H:%i:%s.%f') FROM items`).Scan(&price, &active, &data, &at)
	if err != nil {
		t.Fatal(err)
	}
	if price != "12345678.99" || active != 1 || data != `{"k":[1,"x",null]}` || at != "2026-01-02T01:04:05.500000" {
		t.Errorf("row = %s %v %s %s; want 12345678.99 1 {\"k\":[1,\"x\",null]} 2026-01-02T01:04:05.500000", price, active, data, at)
	}
}

// A user without CREATE cannot make the bookkeeping table: the route runs
// at-least-once, and still writes.
func TestMySQLWithoutCreateIsAtLeastOnce(t *testing.T) {
	dsn, db, admin := mysqlDB(t)
	user := randomName("arus_t_ro_")
	mustExec(t, admin,
		"CREATE USER '"+user+"'@'%'",
		"CREATE USER '"+user+"'@'localhost'",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON "+db+".* TO '"+user+"'@'%'",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON "+db+".* TO '"+user+"'@'localhost'",
		mysqlHarness.ddl["items"],
	)
	t.Cleanup(func() {
		admin.Exec("DROP USER '" + user + "'@'%'")
		admin.Exec("DROP USER '" + user + "'@'localhost'")
	})
	ctx := ctxT(t)
	s, err := Open(ctx, MySQL, Config{DSN: dsn(user)})
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
}

func TestMySQLClassify(t *testing.T) {
	dsn, _, admin := mysqlDB(t)
	mustExec(t, admin, "CREATE TABLE k (id int PRIMARY KEY, v int) ENGINE=InnoDB", "INSERT INTO k VALUES (1, 0), (2, 0)")
	ctx := ctxT(t)
	db, err := sql.Open("mysql", dsn(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) error { _, err := db.ExecContext(ctx, q); return err }

	// Lock wait timeout (1205): another transaction holds the row.
	holder, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "UPDATE k SET v = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	waiter, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waiter.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1")
	_, lockWait := waiter.ExecContext(ctx, "UPDATE k SET v = 2 WHERE id = 1")
	waiter.Close()
	holder.Rollback()

	// Deadlock (1213): two transactions take two rows in opposite orders.
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
		a.ExecContext(ctx, "UPDATE k SET v = 1 WHERE id = 1")
		b.ExecContext(ctx, "UPDATE k SET v = 1 WHERE id = 2")
		var wg sync.WaitGroup
		var errA, errB error
		wg.Add(1)
		go func() { defer wg.Done(); _, errA = a.ExecContext(ctx, "UPDATE k SET v = 2 WHERE id = 2") }()
		time.Sleep(200 * time.Millisecond)
		_, errB = b.ExecContext(ctx, "UPDATE k SET v = 2 WHERE id = 1")
		if errB != nil {
			a.Rollback()
		} else {
			b.Rollback()
		}
		wg.Wait()
		if errB != nil {
			return errB
		}
		return errA
	}()

	// The server closes the connection (KILL): the driver reports a bad
	// or invalid connection.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id int
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	mustExec(t, admin, "KILL "+itoa(id))
	time.Sleep(50 * time.Millisecond)
	_, killed := conn.ExecContext(ctx, "SELECT 1")
	conn.Raw(func(any) error { return nil })
	conn.Close()

	cfg, _ := mysql.ParseDSN(dsn(""))
	cfg.Addr, cfg.Timeout = "127.0.0.1:1", 2*time.Second
	_, refused := Open(ctx, MySQL, Config{DSN: cfg.FormatDSN()})

	for _, tc := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"duplicate key", exec("INSERT INTO k VALUES (1, 0)"), false},
		{"unknown column", exec("SELECT nope FROM k"), false},
		{"out of range", exec("INSERT INTO k VALUES (99999999999, 0)"), false},
		{"lock wait timeout", lockWait, true},
		{"deadlock", deadlock, true},
		{"killed connection", killed, true},
		{"connection refused", refused, true},
		{"gone away", &mysql.MySQLError{Number: 2006, Message: "MySQL server has gone away"}, true},
		{"invalid connection", mysql.ErrInvalidConn, true},
		{"bad connection", fmt.Errorf("exec: %w", driver.ErrBadConn), true},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error provoked", tc.name)
			continue
		}
		got := mysqlDialect{}.classify(tc.err)
		var pe *PermanentError
		if isT := errors.Is(got, ErrTransient); isT != tc.transient || (!isT && !errors.As(got, &pe)) {
			t.Errorf("%s: classify(%v) = %v, want transient %v (else *PermanentError)", tc.name, tc.err, got, tc.transient)
		}
	}
}

func TestMySQLUpsertForm(t *testing.T) {
	for _, tc := range []struct {
		version string
		alias   bool
	}{
		{"10.11.19-MariaDB-0+deb12u1", false},
		{"11.4.2-MariaDB", false},
		{"5.7.44-log", false},
		{"8.0.18", false},
		{"8.0.19", true},
		{"8.4.3", true},
		{"9.1.0", true},
	} {
		if got := mysqlRowAlias(tc.version); got != tc.alias {
			t.Errorf("mysqlRowAlias(%q) = %v, want %v", tc.version, got, tc.alias)
		}
	}
	cols, key := []string{"`id`", "`name`"}, []string{"`id`"}
	if got, want := (mysqlDialect{}).upsert("`t`", cols, key, 2), "INSERT INTO `t` (`id`,`name`) VALUES (?,?),(?,?) ON DUPLICATE KEY UPDATE `name` = VALUES(`name`)"; got != want {
		t.Errorf("MariaDB upsert:\n got %s\nwant %s", got, want)
	}
	if got, want := (mysqlDialect{rowAlias: true}).upsert("`t`", cols, key, 1), "INSERT INTO `t` (`id`,`name`) VALUES (?,?) AS `arus_new` ON DUPLICATE KEY UPDATE `name` = `arus_new`.`name`"; got != want {
		t.Errorf("MySQL 8 upsert:\n got %s\nwant %s", got, want)
	}
	if got, want := (mysqlDialect{}).upsert("`t`", key, key, 1), "INSERT INTO `t` (`id`) VALUES (?) ON DUPLICATE KEY UPDATE `id` = `id`"; got != want {
		t.Errorf("key-only upsert:\n got %s\nwant %s", got, want)
	}
}
