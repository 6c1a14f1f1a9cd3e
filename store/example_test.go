package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"testing/fstest"

	"github.com/arus-platform/arus/store"
)

// A service opens its own store (SQLite in the data directory here; set
// DSN to a postgres:// URL for PostgreSQL), applies its migrations and
// writes in a transaction.
func Example() {
	dir, err := os.MkdirTemp("", "arus-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	db, err := store.Open(ctx, store.Config{Dir: dir, Component: "orders"}) // <dir>/orders.db
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	// Usually an embed.FS of files named NNNN_name.sql (or
	// NNNN_name.postgres.sql, NNNN_name.sqlite.sql for one dialect).
	migrations := fstest.MapFS{
		"0001_orders.sql":   {Data: []byte(`CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER NOT NULL)`)},
		"0002_currency.sql": {Data: []byte(`ALTER TABLE orders ADD COLUMN currency TEXT NOT NULL DEFAULT 'IDR'`)},
	}
	if err := db.Migrate(ctx, migrations); err != nil {
		log.Fatal(err)
	}
	v, err := db.Version(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(db.Dialect, "version", v)

	insert := db.Rebind(`INSERT INTO orders (id, total) VALUES (?, ?)`) // $1, $2 on PostgreSQL
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insert, "order-1", 42)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = db.ExecContext(ctx, insert, "order-1", 43)
	fmt.Println("inserted twice:", store.IsUniqueViolation(err))
	// Output:
	// sqlite version 2
	// inserted twice: true
}
