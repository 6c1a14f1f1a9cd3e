package sink

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// dialect is what differs between databases: quoting, placeholders,
// statement shapes, the catalogue and how errors read.
type dialect interface {
	name() string
	driver() string
	// dsn adjusts the configured DSN (settings the sink relies on).
	dsn(string) string
	quote(ident string) string
	// placeholder is the n-th (1-based) parameter of a statement.
	placeholder(n int) string
	maxParams() int
	defaultSchema(ctx context.Context, db *sql.DB) (string, error)
	catalog(ctx context.Context, db *sql.DB) ([]TableInfo, error)
	// upsert writes rows of columns, updating the non-key columns of rows
	// whose key exists; table and names come quoted.
	upsert(table string, columns, key []string, rows int) string
	insert(table string, columns []string, rows int) string
	delete(table string, key []string, rows int) string
	// createPositions is the DDL of the bookkeeping table.
	createPositions(table string) string
	// createRecords is the DDL of the records table: (route, record_id)
	// as the key, written_at in Unix milliseconds.
	createRecords(table string) string
	// lockSuffix ends the SELECT of a route's positions inside the batch's
	// transaction ("FOR UPDATE" where the database has it).
	lockSuffix() string
	// txOptions are those of a batch's transaction.
	txOptions() *sql.TxOptions
	classify(err error) error
	// denied reports an error saying the account lacks a privilege.
	denied(err error) bool
}

// claimer is a dialect that records an insert-only batch's ids in one
// statement that returns those it added ($1 the route, $2 the ids as an
// array, $3 the time): the ids it does not return were written before.
// The uniqueness check goes through the records table's key whatever the
// table's statistics say, where a SELECT of the ids can be planned as a
// scan of the table (a cached generic plan made while it was small).
type claimer interface {
	claimRecords(table string) string
}

// Dialect names accepted by Open.
const (
	Postgres  = "postgres"
	MySQL     = "mysql"
	SQLite    = "sqlite"
	SQLServer = "sqlserver"
)

func lookupDialect(name string) (dialect, error) {
	switch strings.ToLower(name) {
	case Postgres, "postgresql", "pgx":
		return postgres{}, nil
	case MySQL, "mariadb":
		return mysqlDialect{}, nil
	case SQLite, "sqlite3":
		return sqliteDialect{}, nil
	case SQLServer, "mssql":
		return sqlserver{}, nil
	}
	return nil, fmt.Errorf("sink: unknown dialect %q (want %s, %s, %s or %s)", name, Postgres, MySQL, SQLite, SQLServer)
}

// values renders "(p1,p2),(p3,p4)..." for rows of width parameters.
func values(d dialect, rows, width, start int) string {
	var b strings.Builder
	n := start
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := 0; c < width; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			n++
			b.WriteString(d.placeholder(n))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// deleteIn is DELETE ... WHERE key IN (...) (or a row-value IN for
// composite keys), which PostgreSQL, MySQL and SQLite all accept.
func deleteIn(d dialect, table string, key []string, rows int) string {
	var b strings.Builder
	b.WriteString("DELETE FROM ")
	b.WriteString(table)
	b.WriteString(" WHERE ")
	if len(key) == 1 {
		b.WriteString(key[0])
		b.WriteString(" IN (")
		for i := 1; i <= rows; i++ {
			if i > 1 {
				b.WriteByte(',')
			}
			b.WriteString(d.placeholder(i))
		}
		b.WriteByte(')')
		return b.String()
	}
	b.WriteByte('(')
	b.WriteString(strings.Join(key, ","))
	b.WriteString(") IN (")
	b.WriteString(values(d, rows, len(key), 0))
	b.WriteByte(')')
	return b.String()
}

func insertValues(d dialect, table string, columns []string, rows int) string {
	return "INSERT INTO " + table + " (" + strings.Join(columns, ",") + ") VALUES " + values(d, rows, len(columns), 0)
}

// transient wraps err so that errors.Is(err, ErrTransient) holds.
func transient(err error) error { return fmt.Errorf("%w: %w", ErrTransient, err) }

// connectionLost reports errors that mean the connection, not the data,
// failed: refused, reset, closed, timed out.
func connectionLost(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne):
		return true
	}
	return errors.Is(err, driver.ErrBadConn)
}
