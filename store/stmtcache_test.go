package store_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/arus-platform/arus/store"
)

// TestStatementsAreReused runs the same statements over and over on the
// SQLite store's one connection, with a query's rows still open while the
// same query runs again inside the loop, in and out of transactions, and
// with a statement that fails.
func TestStatementsAreReused(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "cache"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO items (id, name) VALUES (?, ?)`
	for i := range 20 {
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, insert, i, "item"+string(rune('a'+i)))
			return err
		})
		if err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
	}
	if _, err := db.ExecContext(ctx, insert, 100, "itema"); err == nil {
		t.Fatal("a duplicate name was inserted")
	}
	const list = `SELECT id FROM items WHERE id < ? ORDER BY id`
	rows, err := db.QueryContext(ctx, list, 5)
	if err != nil {
		t.Fatal(err)
	}
	outer, inner := 0, 0
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if id != outer {
			t.Fatalf("row %d has id %d", outer, id)
		}
		outer++
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	// One connection: a transaction reading the same query twice at once.
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		r1, err := tx.QueryContext(ctx, list, 3)
		if err != nil {
			return err
		}
		defer r1.Close()
		for r1.Next() {
			r2, err := tx.QueryContext(ctx, list, 20)
			if err != nil {
				return err
			}
			for r2.Next() {
				inner++
			}
			if err := r2.Close(); err != nil {
				return err
			}
		}
		return r1.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if outer != 5 || inner != 3*20 {
		t.Fatalf("read %d and %d rows, want 5 and 60", outer, inner)
	}
	var n int
	for range 50 {
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM items WHERE id >= ?`, 10).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if n != 10 {
		t.Fatalf("count %d, want 10", n)
	}
}
