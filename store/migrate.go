package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationFile = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgres))?\.sql$`)

// Migrations reads the migrations of a dialect from fsys: files named
// NNNN_name.sql apply to both dialects, NNNN_name.sqlite.sql and
// NNNN_name.postgres.sql to one. Versions must be unique per dialect and
// start at 1 without gaps.
func Migrations(fsys fs.FS, d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	byVersion := map[int]Migration{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("store: migration file %q: name it NNNN_name.sql, NNNN_name.sqlite.sql or NNNN_name.postgres.sql", e.Name())
		}
		if m[3] != "" && m[3] != d.String() {
			continue
		}
		v, _ := strconv.Atoi(m[1])
		if prev, dup := byVersion[v]; dup {
			return nil, fmt.Errorf("store: migrations %q and %q share version %d", prev.Name, e.Name(), v)
		}
		body, err := fs.ReadFile(fsys, path.Clean(e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", e.Name(), err)
		}
		byVersion[v] = Migration{Version: v, Name: e.Name(), SQL: string(body)}
	}
	var out []Migration
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("store: migration versions must run 1, 2, 3...; found %d (%s) at position %d", m.Version, m.Name, i+1)
		}
	}
	return out, nil
}

// Migrate applies the component's migrations from fsys that have not been
// applied yet, each in its own transaction with its bookkeeping row. It is
// safe when several processes start at once: on PostgreSQL they serialise on
// an advisory lock per component, on SQLite on the database's write lock.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS) error {
	migs, err := Migrations(fsys, db.Dialect)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate %s: %w", db.Component, err)
	}
	defer conn.Close()

	if db.Dialect == Postgres {
		key := lockKey("arus.migrate." + db.Component)
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
			return fmt.Errorf("store: migrate %s: lock: %w", db.Component, err)
		}
		defer func() {
			// Use a fresh context: the lock must go even if ctx ended.
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
		}()
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS arus_migrations (
		component TEXT NOT NULL,
		version INTEGER NOT NULL,
		name TEXT NOT NULL,
		applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("store: migrate %s: bookkeeping table: %w", db.Component, err)
	}
	for _, m := range migs {
		if err := db.apply(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) apply(ctx context.Context, conn *sql.Conn, m Migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate %s: begin: %w", db.Component, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM arus_migrations WHERE component = ? AND version = ?`),
		db.Component, m.Version).Scan(&n); err != nil {
		return fmt.Errorf("store: migrate %s: %w", db.Component, err)
	}
	if n > 0 {
		return nil
	}
	if strings.TrimSpace(m.SQL) != "" {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("store: migrate %s: %s: %w", db.Component, m.Name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO arus_migrations (component, version, name) VALUES (?, ?, ?)`),
		db.Component, m.Version, m.Name); err != nil {
		return fmt.Errorf("store: migrate %s: record %s: %w", db.Component, m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate %s: commit %s: %w", db.Component, m.Name, err)
	}
	return nil
}

// Version returns the highest migration version applied for the component,
// 0 when none.
func (db *DB) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, db.Rebind(`SELECT MAX(version) FROM arus_migrations WHERE component = ?`), db.Component).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: version of %s: %w", db.Component, err)
	}
	return int(v.Int64), nil
}

func lockKey(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64())
}
