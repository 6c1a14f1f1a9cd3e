package outbox

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

//go:embed migrations
var migrations embed.FS

// ErrNoID is returned by the [Inbox] for a record without an id.
var ErrNoID = errors.New("outbox: record has no id")

var tableName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Config configures an [Outbox].
type Config struct {
	// Name prefixes the outbox's tables: <Name>_outbox holds the records
	// and, on PostgreSQL, <Name>_outbox_lock the key buckets that forwarders
	// claim. The migrations are recorded under the component
	// <Name>_outbox. 1 to 40 lowercase letters, digits and '_', starting
	// with a letter. Default: the store's component, so the "orders"
	// store gets the table orders_outbox.
	Name string
	// MaxRecordBytes is the largest record (key, value and headers) Write
	// accepts. Set it to the broker's limit, so that a record the broker
	// would refuse fails the service's transaction instead of holding up the
	// outbox. Default stream.DefaultMaxRecordBytes (1 MiB).
	MaxRecordBytes int
}

// Validate checks the configuration and fills in defaults from db.
func (c *Config) Validate(db *store.DB) error {
	if c.Name == "" && db != nil {
		c.Name = db.Component
	}
	if !tableName.MatchString(c.Name) {
		return fmt.Errorf("outbox: name %q: use 1 to 40 lowercase letters, digits and '_', starting with a letter", c.Name)
	}
	if c.MaxRecordBytes < 0 {
		return fmt.Errorf("outbox: max record bytes %d is negative", c.MaxRecordBytes)
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = stream.DefaultMaxRecordBytes
	}
	return nil
}

// Outbox stores records in a table of the service's own database, in the
// service's transaction, for a [Forwarder] to publish. It is safe for
// concurrent use.
type Outbox struct {
	db    *store.DB
	cfg   Config
	table string

	// round serialises forwarding rounds on SQLite, where there is no row
	// locking to keep two forwarders of one process apart.
	round sync.Mutex

	wakeMu sync.Mutex
	wakers map[chan struct{}]struct{}
}

// Open creates or migrates the outbox tables in db and returns the outbox.
func Open(ctx context.Context, db *store.DB, cfg Config) (*Outbox, error) {
	if db == nil {
		return nil, errors.New("outbox: no database")
	}
	if err := cfg.Validate(db); err != nil {
		return nil, err
	}
	table := cfg.Name + "_outbox"
	if err := migrate(ctx, db, "migrations/outbox", table); err != nil {
		return nil, err
	}
	return &Outbox{db: db, cfg: cfg, table: table, wakers: map[chan struct{}]struct{}{}}, nil
}

// Table returns the name of the table that holds the records.
func (o *Outbox) Table() string { return o.table }

// pendingFrom is the FROM clause of queries for unsent rows. SQLite is told
// to use the index of unsent rows: after ANALYZE of a table whose rows
// were all unsent it would scan the table, past every sent row kept for
// the retention.
func (o *Outbox) pendingFrom() string {
	if o.db.Dialect == store.SQLite {
		return o.table + ` INDEXED BY ` + o.table + `_pending`
	}
	return o.table
}

// migrate runs the migrations in dir with {{table}} replaced by table, and
// records them under the component named table: the service's own
// migrations keep their component and numbering.
func migrate(ctx context.Context, db *store.DB, dir, table string) error {
	files, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("outbox: migrations: %w", err)
	}
	// fstest.MapFS is the standard library's in-memory file system; the
	// table name is the only thing substituted.
	fsys := fstest.MapFS{}
	for _, f := range files {
		body, err := fs.ReadFile(migrations, dir+"/"+f.Name())
		if err != nil {
			return fmt.Errorf("outbox: migrations: %w", err)
		}
		fsys[f.Name()] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(string(body), "{{table}}", table)), Mode: 0o444}
	}
	mdb := *db
	mdb.Component = table
	if err := mdb.Migrate(ctx, fsys); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// rowsPerInsert bounds the rows of one INSERT statement, well under the
// parameter limits of both dialects.
const rowsPerInsert = 500

// Write stores records in the outbox inside tx, the transaction of the
// service's state change: they are published if and only if tx commits.
//
// Write stamps each record that has none with its id (the [stream.HeaderID]
// header, a UUIDv7) and a zero Timestamp with the current time, in the
// record itself, so the caller can read the id after Write returns. The id
// is stored with the record: a record published again after a crash
// carries the same id. A record for an invalid topic, or larger than
// [Config.MaxRecordBytes], fails the call and nothing is stored. A nil
// key, value or header value is published nil, an empty one empty.
//
// Records with the same key are published in the order they were written
// (within one call, in slice order; across transactions, in the order of
// their Write calls when the transactions are serialised, as they are
// when both change the same row before writing).
func (o *Outbox) Write(ctx context.Context, tx *sql.Tx, records ...*stream.Record) error {
	if len(records) == 0 {
		return nil
	}
	now := time.Now()
	for i, r := range records {
		if r == nil {
			return fmt.Errorf("outbox: write: record %d is nil", i)
		}
		if err := stream.ValidateTopicName(r.Topic); err != nil {
			return fmt.Errorf("outbox: write: record %d: %w", i, err)
		}
		if _, ok := r.Header(stream.HeaderID); !ok {
			r.Headers = append(r.Headers, stream.Header{Key: stream.HeaderID, Value: []byte(stream.NewID())})
		}
		if size := r.Size(); size > o.cfg.MaxRecordBytes {
			return fmt.Errorf("outbox: write: %w: record %d for topic %q is %d bytes; the maximum is %d",
				stream.ErrRecordTooLarge, i, r.Topic, size, o.cfg.MaxRecordBytes)
		}
		if r.Timestamp.IsZero() {
			r.Timestamp = now
		}
	}
	for start := 0; start < len(records); start += rowsPerInsert {
		chunk := records[start:min(start+rowsPerInsert, len(records))]
		if err := o.insert(ctx, tx, chunk, now); err != nil {
			return err
		}
	}
	o.wake()
	return nil
}

const insertColumns = 8

func (o *Outbox) insert(ctx context.Context, tx *sql.Tx, records []*stream.Record, now time.Time) error {
	var q strings.Builder
	q.WriteString("INSERT INTO ")
	q.WriteString(o.table)
	q.WriteString(" (record_id, topic, key, value, headers, bucket, ts_ns, created_ns) VALUES ")
	args := make([]any, 0, len(records)*insertColumns)
	for i, r := range records {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?,?,?,?,?)")
		id := r.ID()
		args = append(args, id, r.Topic, r.Key, r.Value, appendHeaders(nil, r.Headers),
			bucketOf(r.Key, id), r.Timestamp.UnixNano(), now.UnixNano())
	}
	if _, err := tx.ExecContext(ctx, o.db.Rebind(q.String()), args...); err != nil {
		return fmt.Errorf("outbox: write to %s: %w", o.table, err)
	}
	return nil
}

// Pending returns the number of records not yet published and the time the
// oldest of them was written (zero when there is none).
func (o *Outbox) Pending(ctx context.Context) (n int64, oldest time.Time, err error) {
	if err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+o.pendingFrom()+` WHERE sent_ns IS NULL`).Scan(&n); err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox: count pending in %s: %w", o.table, err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	var created int64
	err = o.db.QueryRowContext(ctx, `SELECT created_ns FROM `+o.pendingFrom()+` WHERE sent_ns IS NULL ORDER BY id LIMIT 1`).Scan(&created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return n, time.Time{}, nil // published in between
	case err != nil:
		return 0, time.Time{}, fmt.Errorf("outbox: oldest pending in %s: %w", o.table, err)
	}
	return n, time.Unix(0, created), nil
}

// subscribe returns a channel that receives a value after Write, until
// unsubscribe.
func (o *Outbox) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	o.wakeMu.Lock()
	o.wakers[ch] = struct{}{}
	o.wakeMu.Unlock()
	return ch
}

func (o *Outbox) unsubscribe(ch chan struct{}) {
	o.wakeMu.Lock()
	delete(o.wakers, ch)
	o.wakeMu.Unlock()
}

// wake tells this process's forwarders that rows were written. The
// transaction may not have committed yet; a forwarder that finds nothing
// looks again shortly after.
func (o *Outbox) wake() {
	o.wakeMu.Lock()
	for ch := range o.wakers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	o.wakeMu.Unlock()
}
