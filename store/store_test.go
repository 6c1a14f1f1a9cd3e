package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

func TestMigrateAndQuery(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg store.Config) {
		ctx := context.Background()
		cfg.Component = "items"
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer db.Close()
		if err := db.Migrate(ctx, os.DirFS("testdata/good")); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		// A second run applies nothing and fails on nothing.
		if err := db.Migrate(ctx, os.DirFS("testdata/good")); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if v, err := db.Version(ctx); err != nil || v != 2 {
			t.Fatalf("Version = %d, %v; want 2", v, err)
		}
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO items (id, name, note) VALUES (?, ?, ?)`), 1, "a?b", "it's")
			return err
		})
		if err != nil {
			t.Fatalf("insert: %v", err)
		}
		var name, note string
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT name, note FROM items WHERE id = ? AND name <> '?'`), 1).Scan(&name, &note); err != nil {
			t.Fatalf("select: %v", err)
		}
		if name != "a?b" || note != "it's" {
			t.Errorf("got %q %q, want %q %q", name, note, "a?b", "it's")
		}
		_, err = db.ExecContext(ctx, db.Rebind(`INSERT INTO items (id, name) VALUES (?, ?)`), 2, "a?b")
		if !store.IsUniqueViolation(err) {
			t.Errorf("duplicate insert: error %v, want a unique violation", err)
		}
		// A failing transaction leaves nothing behind.
		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO items (id, name) VALUES (?, ?)`), 3, "c"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM items`).Scan(&n); err != nil || n != 1 {
			t.Errorf("after rollback %d rows (%v), want 1", n, err)
		}
	})
}

// Several processes starting at once each run Migrate; every migration is
// applied exactly once.
func TestMigrateConcurrently(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg store.Config) {
		ctx := context.Background()
		cfg.Component = "race"
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := store.Open(ctx, cfg)
				if err != nil {
					errs <- err
					return
				}
				defer db.Close()
				errs <- db.Migrate(ctx, os.DirFS("testdata/good"))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent Migrate: %v", err)
			}
		}
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM arus_migrations WHERE component = ?`), "race").Scan(&n); err != nil || n != 2 {
			t.Errorf("%d migration rows (%v), want 2", n, err)
		}
	})
}

func TestMigrationFilesAreChecked(t *testing.T) {
	_, err := store.Migrations(os.DirFS("testdata/gap"), store.SQLite)
	if err == nil || !strings.Contains(err.Error(), "found 3") {
		t.Errorf("Migrations with a gap = %v, want an error naming version 3", err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  store.Config
		want string
	}{
		{store.Config{Component: "Bad-Name", Dir: "x"}, `component name "Bad-Name"`},
		{store.Config{Component: "ok"}, "no DSN and no data directory"},
		{store.Config{Component: "ok", DSN: "mysql://root@localhost/db"}, `scheme "mysql" is not supported`},
		{store.Config{Component: "ok", DSN: "postgres://u@h/db?schema=Drop-Table"}, `schema "Drop-Table"`},
		{store.Config{Component: "ok", DSN: "postgres://u@h/db?schema=x;drop"}, "DSN query: invalid semicolon"},
		{store.Config{Component: "ok", Dir: "x", MaxOpenConns: -1}, "max open connections -1"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want error containing %q", c.cfg, err, c.want)
		}
	}
}

// Calls of a Group made at once share transactions; a call that fails
// takes back its own writes only, and every other call's writes commit.
func TestGroupSharesCommits(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg store.Config) {
		ctx := context.Background()
		cfg.Component = "grouped"
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range []string{`CREATE TABLE grouped (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`, `INSERT INTO grouped (id, n) VALUES (0, -1)`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		g := store.NewGroup(db, 7)
		if db.Dialect == store.Postgres {
			g.Parallel(3) // each batch under savepoints as well
		}
		const calls = 60
		errs := make([]error, calls)
		var wg sync.WaitGroup
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = g.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO grouped (id, n) VALUES (?, ?)`), i+1, i); err != nil {
						return err
					}
					if i%3 != 0 {
						return nil
					}
					// Every third call then writes a row the table has.
					_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO grouped (id, n) VALUES (0, ?)`), i)
					return err
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			var n int
			if err := db.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM grouped WHERE n = ?`), i).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if i%3 != 0 && (err != nil || n != 1) {
				t.Errorf("call %d: %v with %d rows; want its row written", i, err, n)
			}
			if i%3 == 0 && (!store.IsUniqueViolation(err) || n != 0) {
				t.Errorf("call %d: %v with %d rows; want the refusal and no row", i, err, n)
			}
		}
	})
}

// Reader reads what was committed without the writer's connection: on
// SQLite a read while a transaction holds the one writing connection
// answers (through the readers) instead of waiting for it to end, sees the
// state before that transaction until it commits, and then sees the
// commit. On SQLite the readers refuse writes.
func TestReaderReadsBesideTheWriter(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg store.Config) {
		ctx := context.Background()
		db := openItems(t, cfg)
		if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO items (id, name) VALUES (?, ?)`), 1, "one"); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			t.Helper()
			// Bounded: without readers on SQLite this read would wait for
			// the open transaction below for ever.
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var n int
			if err := db.Reader().QueryRowContext(rctx, `SELECT COUNT(*) FROM items`).Scan(&n); err != nil {
				t.Fatalf("read through Reader: %v", err)
			}
			return n
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO items (id, name) VALUES (?, ?)`), 2, "two"); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Errorf("during the transaction Reader counts %d items, want the 1 committed", n)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 2 {
			t.Errorf("after the commit Reader counts %d items, want 2", n)
		}
		if db.Dialect == store.SQLite {
			if _, err := db.Reader().ExecContext(ctx, `INSERT INTO items (id, name) VALUES (3, 'three')`); err == nil {
				t.Error("a write through the SQLite readers succeeded; they must be read-only")
			}
		}
	})
}

// openItems opens the store "items" with the migrations of testdata/good,
// closed at the end of the test.
func openItems(t *testing.T, cfg store.Config) *store.DB {
	t.Helper()
	ctx := context.Background()
	cfg.Component = "items"
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, os.DirFS("testdata/good")); err != nil {
		t.Fatal(err)
	}
	return db
}

// A parallel Group commits a second batch while the first is still
// running on PostgreSQL: the first call's writes wait for the second
// call's, which would never come if the second waited for the first.
func TestGroupCommitsInParallel(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DSN: storetest.PostgresSchema(t), Component: "parallel"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := store.NewGroup(db, 0).Parallel(2)
	started, second := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			select {
			case <-second:
				return nil
			case <-time.After(time.Minute):
				return errors.New("the second call did not run while the first was in its transaction")
			}
		})
	}()
	<-started
	if err := g.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error { close(second); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}
