// Package storetest runs a store test on every dialect: SQLite in a
// temporary directory and PostgreSQL in a fresh schema that is dropped when
// the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/arus-platform/arus/internal/testenv"
	"github.com/arus-platform/arus/store"
)

// Run calls fn once per dialect with a store configuration (Component left
// empty for the caller to set) whose data is private to this test.
func Run(t *testing.T, fn func(t *testing.T, base store.Config)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, store.Config{Dir: t.TempDir()})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, store.Config{DSN: PostgresSchema(t)})
	})
}

// PostgresSchema returns a DSN of the test database with a schema parameter
// naming a new schema, dropped with everything in it when the test ends.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	dsn := testenv.Postgres(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("test PostgreSQL DSN: %v", err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
	})
	return u.String()
}
