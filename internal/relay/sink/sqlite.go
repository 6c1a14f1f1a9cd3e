package sink

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"modernc.org/sqlite" // registers the "sqlite" driver
)

// sqliteDialect is SQLite through modernc.org/sqlite: "quoted" identifiers, ?
// placeholders, INSERT ... ON CONFLICT (key) DO UPDATE. The DSN is a file
// name or file: URI; Open adds a busy timeout and immediate transactions
// unless the DSN sets them, so concurrent writers wait instead of failing.
type sqliteDialect struct{}

func (sqliteDialect) name() string              { return SQLite }
func (sqliteDialect) driver() string            { return "sqlite" }
func (sqliteDialect) quote(id string) string    { return quoteDouble(id) }
func (sqliteDialect) placeholder(int) string    { return "?" }
func (sqliteDialect) maxParams() int            { return 32766 }
func (sqliteDialect) txOptions() *sql.TxOptions { return nil }
func (sqliteDialect) lockSuffix() string        { return "" }
func (sqliteDialect) denied(err error) bool     { return false }

func (sqliteDialect) dsn(s string) string {
	add := func(p string) {
		if strings.Contains(s, "?") {
			s += "&" + p
		} else {
			s += "?" + p
		}
	}
	if !strings.Contains(s, "busy_timeout") {
		add("_pragma=busy_timeout(10000)")
	}
	if !strings.Contains(s, "_txlock") {
		add("_txlock=immediate")
	}
	return s
}

func (sqliteDialect) defaultSchema(context.Context, *sql.DB) (string, error) { return "main", nil }

// SQLite's pragma_table_xinfo reports hidden 2 and 3 for generated
// columns; an INTEGER PRIMARY KEY alone is the rowid, filled in when
// omitted.
const sqliteCatalog = `
SELECT 'main', m.name, c.name, lower(c.type),
	c."notnull" = 0 AND c.pk = 0,
	c.dflt_value IS NOT NULL OR c."notnull" = 0 OR c.hidden IN (2, 3) OR (c.pk = 1 AND lower(c.type) = 'integer' AND (SELECT count(*) FROM pragma_table_info(m.name) WHERE pk > 0) = 1),
	c.hidden IN (2, 3) OR (c.pk = 1 AND lower(c.type) = 'integer' AND (SELECT count(*) FROM pragma_table_info(m.name) WHERE pk > 0) = 1),
	c.pk
FROM sqlite_schema m, pragma_table_xinfo(m.name) c
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY m.name, c.cid`

func (sqliteDialect) catalog(ctx context.Context, db *sql.DB) ([]TableInfo, error) {
	return scanCatalog(ctx, db, sqliteCatalog)
}

func (d sqliteDialect) upsert(table string, columns, key []string, rows int) string {
	q := insertValues(d, table, columns, rows) + " ON CONFLICT (" + strings.Join(key, ",") + ") DO "
	set := updateSet(columns, key, func(c string) string { return "excluded." + c })
	if set == "" {
		return q + "NOTHING"
	}
	return q + "UPDATE SET " + set
}

func (d sqliteDialect) insert(table string, columns []string, rows int) string {
	return insertValues(d, table, columns, rows)
}

func (d sqliteDialect) delete(table string, key []string, rows int) string {
	return deleteIn(d, table, key, rows)
}

func (sqliteDialect) createPositions(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
	"route" text NOT NULL,
	"partition" integer NOT NULL,
	"committed_offset" integer NOT NULL,
	"updated_at" timestamp NOT NULL,
	PRIMARY KEY ("route", "partition"))`
}

func (sqliteDialect) createRecords(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
	"route" text NOT NULL,
	"record_id" text NOT NULL,
	"written_at" integer NOT NULL,
	PRIMARY KEY ("route", "record_id"))`
}

// classify: SQLITE_BUSY and SQLITE_LOCKED (another writer holds the
// database) are transient, other SQLite errors permanent.
func (sqliteDialect) classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return transient(err)
		}
		return &PermanentError{Index: -1, Err: err}
	}
	if connectionLost(err) {
		return transient(err)
	}
	return &PermanentError{Index: -1, Err: err}
}
