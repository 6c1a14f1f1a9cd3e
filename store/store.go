// Package store opens the SQL database a component keeps its state in —
// SQLite in the data directory by default, PostgreSQL by DSN — and runs the
// component's embedded, numbered migrations.
//
// Each component (relay, auth, schema, ...) owns its tables and opens its
// own *DB. On SQLite every component gets its own file; on PostgreSQL they
// share the database given by the DSN, optionally in a schema per component.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"               // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect is the SQL flavour of a store.
type Dialect int

const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "unknown"
}

// DB is a component's database handle. It embeds *sql.DB; queries are
// written with '?' placeholders and passed through Rebind, or with
// dialect-specific text chosen by Dialect.
type DB struct {
	*sql.DB
	Dialect   Dialect
	Component string
	// Where names the database for logs and status pages, without secrets.
	Where string

	// reader, on SQLite, is a pool of read-only connections to the file.
	reader *sql.DB
}

// readerConns is the number of read-only connections of a SQLite store.
const readerConns = 4

// Reader returns a handle for reads outside transactions that need not
// wait for the writer. On SQLite the store writes through one connection,
// which a read would otherwise queue behind, commits and their fsyncs
// included; Reader is a pool of read-only connections to the same file,
// each reading the last committed state (WAL). On PostgreSQL, whose pool
// already reads beside the writers, it is the store's own pool. A read
// through Reader sees every commit that finished before it began.
func (db *DB) Reader() *sql.DB {
	if db.reader != nil {
		return db.reader
	}
	return db.DB
}

// Close closes the store and its readers.
func (db *DB) Close() error {
	var err error
	if db.reader != nil {
		err = db.reader.Close()
	}
	return errors.Join(db.DB.Close(), err)
}

// Config selects the database of one component.
type Config struct {
	// DSN is empty for SQLite in Dir, or a PostgreSQL URL
	// (postgres://user:pass@host:5432/db?sslmode=disable). A "schema"
	// query parameter puts the component's tables in that schema, created if
	// missing.
	DSN string
	// Dir is the data directory for SQLite files (<Dir>/<component>.db).
	Dir string
	// Component names the owner: lowercase letters, digits and '_'.
	Component string
	// MaxOpenConns bounds PostgreSQL connections. Default 10.
	MaxOpenConns int
}

var componentName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Validate checks the configuration.
func (c *Config) Validate() error {
	if !componentName.MatchString(c.Component) {
		return fmt.Errorf("store: component name %q: use 1 to 40 lowercase letters, digits and '_', starting with a letter", c.Component)
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = 10
	}
	if c.MaxOpenConns < 1 {
		return fmt.Errorf("store: max open connections %d: must be at least 1", c.MaxOpenConns)
	}
	if c.DSN == "" {
		if c.Dir == "" {
			return errors.New("store: no DSN and no data directory: one is required")
		}
		return nil
	}
	u, err := url.Parse(c.DSN)
	if err != nil {
		return fmt.Errorf("store: database DSN is not a URL: %v", redactErr(err, c.DSN))
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("store: database DSN scheme %q is not supported; use postgres://user:pass@host:5432/db or leave it empty for SQLite in the data directory", u.Scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Errorf("store: database DSN query: %v", err)
	}
	if s := q.Get("schema"); s != "" && !componentName.MatchString(s) {
		return fmt.Errorf("store: schema %q: use lowercase letters, digits and '_', starting with a letter", s)
	}
	return nil
}

// Open opens the component's database and checks that it answers. It does
// not migrate: call Migrate with the component's migrations.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.DSN == "" {
		return openSQLite(ctx, cfg)
	}
	return openPostgres(ctx, cfg)
}

func openSQLite(ctx context.Context, cfg Config) (*DB, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	path := filepath.Join(cfg.Dir, cfg.Component+".db")
	// A new database is readable by this user alone; SQLite gives its
	// -wal and -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: create %s: %w", path, err)
	}
	f.Close()
	// _txlock=immediate makes every transaction take the write lock at BEGIN,
	// so two writers queue on busy_timeout instead of failing on upgrade.
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
	drv, err := sqliteDriver()
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := sql.OpenDB(cachingConnector{dsn: dsn, drv: drv})
	// One connection serialises writers inside the process; WAL keeps reads
	// by other processes (backups, the CLI) possible.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// The readers open after the writer has set the file to WAL.
	reader := sql.OpenDB(cachingConnector{dsn: "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=query_only(1)", drv: drv})
	reader.SetMaxOpenConns(readerConns)
	reader.SetMaxIdleConns(readerConns)
	if err := reader.PingContext(ctx); err != nil {
		reader.Close()
		db.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	return &DB{DB: db, Dialect: SQLite, Component: cfg.Component, Where: path, reader: reader}, nil
}

func openPostgres(ctx context.Context, cfg Config) (*DB, error) {
	u, _ := url.Parse(cfg.DSN)
	q := u.Query()
	schema := q.Get("schema")
	q.Del("schema")
	if schema != "" {
		q.Set("search_path", schema)
	}
	u.RawQuery = q.Encode()
	where := u.Redacted()
	if schema != "" {
		if err := createSchema(ctx, cfg.DSN, schema); err != nil {
			return nil, fmt.Errorf("store: %s: create schema %s: %w", where, schema, err)
		}
	}
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", where, err)
	}
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", where, err)
	}
	return &DB{DB: db, Dialect: Postgres, Component: cfg.Component, Where: where}, nil
}

func createSchema(ctx context.Context, dsn, schema string) error {
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Del("schema")
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return err
	}
	defer db.Close()
	// The name was validated against [a-z][a-z0-9_]*.
	_, err = db.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema)
	if IsUniqueViolation(err) {
		return nil // a concurrent creator won the race
	}
	return err
}

func redactErr(err error, dsn string) string {
	s := err.Error()
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			s = strings.ReplaceAll(s, p, "xxxxx")
		}
	}
	return s
}

// Rebind turns '?' placeholders into the dialect's own ($1, $2, ... on
// PostgreSQL). Question marks inside quoted strings are left alone.
func (db *DB) Rebind(query string) string {
	if db.Dialect != Postgres {
		return query
	}
	return rebindDollar(query)
}

func rebindDollar(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	inQuote := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// InTx runs fn inside a transaction, committing when fn returns nil and
// rolling back otherwise.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique or primary-key
// constraint violation, on either dialect.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		code := liteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
