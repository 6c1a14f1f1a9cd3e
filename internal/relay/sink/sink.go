// Package sink writes relay deliveries into SQL databases: PostgreSQL,
// MySQL/MariaDB, SQL Server and SQLite, each through its own dialect.
//
// A Sink is one destination database. The relay hands it batches of changes
// for one route (one table), already mapped from records to columns; the
// sink writes a batch as multi-row statements in one transaction, together
// with the route's position in a bookkeeping table inside the same
// database, so a batch is applied exactly once even if it is delivered
// again after a crash. An insert-only route also keeps there the ids of the
// records it wrote, so that a record stored twice with the same id is
// inserted once. Where the destination account cannot create these tables,
// the sink says so (Guarantee) and the route runs at-least-once.
//
// Open returns a *DB, the Sink of every dialect: Postgres (pgx), MySQL
// (go-sql-driver/mysql, for MySQL and MariaDB), SQLite (modernc.org/sqlite)
// and SQLServer (go-mssqldb). Each dialect lives in its own file; batch
// collapsing (batch.go), value conversion (value.go), identifier checks and
// quoting (ident.go) and the transaction with its bookkeeping (db.go) are
// shared.
package sink

import (
	"context"
	"errors"
	"net"
	"time"
)

// Op is what a change does to its row.
type Op int

const (
	// Upsert inserts the row, or updates it when a row with the same key
	// exists (ON CONFLICT / ON DUPLICATE KEY UPDATE / MERGE).
	Upsert Op = iota + 1
	// Insert only inserts; a route in insert mode never updates.
	Insert
	// Delete removes the row with the change's key.
	Delete
)

func (o Op) String() string {
	switch o {
	case Upsert:
		return "upsert"
	case Insert:
		return "insert"
	case Delete:
		return "delete"
	}
	return "unknown"
}

// Position is where a change came from in the stream: its partition and
// offset. Offsets grow within a partition.
type Position struct {
	Partition int32
	Offset    int64
}

// Change is one row operation of a batch.
type Change struct {
	Op Op
	// Row maps column names of the target table to values: nil, bool,
	// int64, float64, string, json.Number, time.Time, []byte, or
	// map[string]any / []any for JSON columns. The sink converts them to
	// the column's type and reports a *ValueError when it cannot.
	Row map[string]any
	// Pos is the record the change came from.
	Pos Position
	// RecordID is the record's arus-id, for errors and the delivery log,
	// and on insert-only routes the identity an insert is written once
	// under (empty: no such check).
	RecordID string
}

// Table names a table in the destination: Schema may be empty (the
// connection's default schema or database).
type Table struct {
	Schema string
	Name   string
}

// Column describes one column as the destination's catalogue reports it.
type Column struct {
	Name string
	// Type is the database's own type name, lowercased (e.g. "integer",
	// "varchar(255)", "numeric(10,2)", "timestamp with time zone").
	Type     string
	Nullable bool
	// HasDefault is set when an insert may omit the column: it has a
	// default, is filled in by the database (identity, auto-increment,
	// computed) or is nullable.
	HasDefault bool
	// Generated columns (identity, auto-increment, computed) are written
	// only when the route maps them explicitly.
	Generated bool
}

// TableInfo is a table of the destination's catalogue.
type TableInfo struct {
	Table
	Columns []Column
	// Key lists the primary-key columns, in key order; empty when the
	// table has none.
	Key []string
}

// Target is what a route writes: a table, the columns identifying a row
// (for upserts and deletes; usually the primary key) and how it writes.
type Target struct {
	Table Table
	// Key columns identify a row. Upsert and Delete need them; Insert
	// ignores them.
	Key []string
	// Mode is Upsert or Insert; Delete changes are always allowed.
	Mode Op
}

// Guarantee is what a sink can promise for a route.
type Guarantee int

const (
	// ExactlyOnce: the route's position is kept in the destination, in the
	// same transaction as each batch; an insert-only route also keeps
	// there the ids of the records it wrote, so that a record stored
	// twice in its topic with the same id (a retried ingest whose first
	// answer was lost) is inserted once.
	ExactlyOnce Guarantee = iota + 1
	// AtLeastOnce: the bookkeeping table could not be created (the
	// account lacks the right), so a redelivered batch is written again;
	// upserts and deletes are idempotent anyway, inserts may repeat.
	AtLeastOnce
)

// Sink is one destination database. It is safe for concurrent use by
// several routes; writes of one route are not concurrent.
type Sink interface {
	// Catalog lists the destination's tables with their columns and keys.
	Catalog(ctx context.Context) ([]TableInfo, error)
	// Prepare readies a route: it checks the target against the catalogue
	// (table, key and mapped columns exist; identifiers valid), creates the
	// bookkeeping table if it can, and returns the guarantee the route
	// runs with and its committed positions per partition (empty for a new
	// route).
	Prepare(ctx context.Context, route string, t Target, columns []string) (Guarantee, map[int32]int64, error)
	// Write applies one batch for route in one transaction: duplicate keys
	// inside the batch are collapsed to the last change of each key, then
	// the rows are written as multi-row statements, then (ExactlyOnce) the
	// route's positions are advanced to the highest offset per partition of
	// the batch. Changes at or below the route's committed position of their
	// partition are skipped, which is what makes redelivery harmless. On an
	// insert-only route (ExactlyOnce), an insert whose RecordID the route
	// wrote before, or that comes twice in the batch, is skipped too.
	//
	// Errors: a *ValueError or *PermanentError for a change that can never
	// be written (the relay isolates and dead-letters it), anything
	// matching ErrTransient for a failure worth retrying (connection lost,
	// timeout, deadlock, database restarting).
	Write(ctx context.Context, route string, t Target, batch []Change) error
	// Ping checks that the database answers (the heartbeat).
	Ping(ctx context.Context) error
	Close() error
}

// ErrTransient marks errors worth retrying: the database is unreachable,
// restarting, timed out or chose this transaction as a deadlock victim.
var ErrTransient = errors.New("sink: transient failure")

// PermanentError is a failure that retrying cannot fix (a constraint
// violation, a value too long, a missing column). Index is the change in
// the batch when the database says which; -1 otherwise.
type PermanentError struct {
	Index int
	Err   error
}

func (e *PermanentError) Error() string { return "sink: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// ValueError reports a value that cannot be converted to its column's type.
type ValueError struct {
	Index  int // the change in the batch
	Column string
	Type   string
	Value  any
	Reason string
}

func (e *ValueError) Error() string {
	return "sink: column " + e.Column + " (" + e.Type + "): " + e.Reason
}

// Config is what every dialect needs to open a destination.
type Config struct {
	// DSN is the driver's connection string, with the password in it.
	DSN string
	// Dial, when set, makes every network connection to the database
	// (PostgreSQL, MySQL, SQL Server; SQLite opens a file). The relay
	// passes one that checks the addresses a destination may reach.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxOpenConns bounds the connections to this destination. Default 4.
	MaxOpenConns int
	// StatementTimeout bounds one batch. Default 30s.
	StatementTimeout time.Duration
	// BookkeepingTable names the table that keeps route positions.
	// Default "arus_relay_positions".
	BookkeepingTable string
	// RecordsTable names the table that keeps the ids of the records an
	// insert-only route wrote. Default "arus_relay_records".
	RecordsTable string
	// RecordRetention is how long a written record's id is kept there.
	// Default 48h: longer than the relay's Idempotency-Key TTL (24h),
	// after which a retried request is a new one anyway.
	RecordRetention time.Duration
}
