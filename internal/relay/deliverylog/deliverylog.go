// Package deliverylog is the relay's delivery log: one entry per record
// and route saying what became of it (delivered, skipped by the filter,
// failed, dead-lettered), with the row as sent, the error and times. It
// is kept in its own store (component "relay_log", SQLite or PostgreSQL),
// written in batches by a background writer so that it never slows
// delivery down, bounded by retention, and searched by filters with
// keyset pagination.
package deliverylog

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/telemetry"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the delivery log's embedded migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sub
}

// Status is what became of a record on a route.
type Status string

const (
	// Delivered: the row was written (or, after a redelivery, found
	// written already).
	Delivered Status = "delivered"
	// Skipped: the route's filter left the record out (or it was a delete
	// on a route without deletes).
	Skipped Status = "skipped"
	// Failed: the destination rejected the record; it will be tried
	// again.
	Failed Status = "failed"
	// DeadLettered: the record was given up on and parked in the route's
	// dead-letter topic.
	DeadLettered Status = "dead_lettered"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case Delivered, Skipped, Failed, DeadLettered:
		return true
	}
	return false
}

// Entry is what happened to one record on one route.
type Entry struct {
	// ID orders entries; the log assigns it.
	ID int64 `json:"id"`
	// Time is when it happened; the log stamps it when zero.
	Time        time.Time `json:"time"`
	RecordID    string    `json:"record_id"`
	Dataset     string    `json:"dataset"`
	Application string    `json:"application,omitempty"`
	RouteID     string    `json:"route_id"`
	Route       string    `json:"route"`
	// DestinationID and Destination (its name) and DestinationHost say
	// where the row went.
	DestinationID   string `json:"destination_id"`
	Destination     string `json:"destination"`
	DestinationHost string `json:"destination_host,omitempty"`
	// Topic, Partition, Offset and RecordTime locate the record.
	Topic      string    `json:"topic"`
	Partition  int32     `json:"partition"`
	Offset     int64     `json:"offset"`
	RecordTime time.Time `json:"record_time"`
	Status     Status    `json:"status"`
	Attempts   int       `json:"attempts"`
	// Row is the row as sent (JSON), empty for skipped records.
	Row json.RawMessage `json:"row,omitempty"`
	// RowMasked says the row is left out: its record's topic has a masking
	// policy the reader may not see through (set when the log is shown,
	// never stored).
	RowMasked bool   `json:"row_masked,omitempty"`
	Error     string `json:"error,omitempty"`
}

// HideRows leaves out the rows of the entries whose topic masked says
// is masked for the reader.
func (p *Page) HideRows(masked func(topic string) (bool, error)) error {
	for i := range p.Entries {
		e := &p.Entries[i]
		m, err := masked(e.Topic)
		if err != nil {
			return err
		}
		if m {
			e.Row, e.RowMasked = nil, true
		}
	}
	return nil
}

// Config configures the log.
type Config struct {
	// DB is the log's store (component "relay_log"); New migrates it.
	DB *store.DB
	// QueueSize bounds the entries waiting to be written. Default 10,000.
	QueueSize int
	// BatchSize bounds the entries written in one transaction. Default 500.
	BatchSize int
	// FlushInterval is the longest an entry waits before it is written.
	// Default 1s.
	FlushInterval time.Duration
	// Retention is how long entries are kept. Default 7 days.
	Retention time.Duration
	// RetentionInterval is how often old entries are deleted. Default 1h.
	RetentionInterval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the log's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	switch {
	case c.DB == nil:
		return errors.New("deliverylog: config DB is nil")
	case c.QueueSize < 0, c.BatchSize < 0, c.FlushInterval < 0, c.Retention < 0, c.RetentionInterval < 0:
		return errors.New("deliverylog: sizes and durations must not be negative")
	}
	if c.QueueSize == 0 {
		c.QueueSize = 10000
	}
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = time.Second
	}
	if c.Retention == 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// A batch of entries the store refuses is tried writeAttempts times in all,
// backing off from writeBackoff to maxWriteBackoff (about 15 s in all),
// before it is dropped and counted.
const (
	writeAttempts   = 6
	writeBackoff    = 250 * time.Millisecond
	maxWriteBackoff = 5 * time.Second
)

// drainTimeout is how long writes go on after Run is told to stop.
const drainTimeout = 5 * time.Second

// Log is the delivery log. Add is safe for concurrent use and never
// blocks; Run writes what was added.
type Log struct {
	cfg     Config
	db      *store.DB
	queue   chan Entry
	flushes chan chan struct{}
	dropped atomic.Int64
	retries atomic.Int64

	mDropped prometheus.Counter
	mWritten prometheus.Counter
	mRetries prometheus.Counter
}

// New migrates the log's store and returns the log; start Run to write.
func New(ctx context.Context, cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.DB.Migrate(ctx, Migrations()); err != nil {
		return nil, fmt.Errorf("deliverylog: %w", err)
	}
	l := &Log{cfg: cfg, db: cfg.DB, queue: make(chan Entry, cfg.QueueSize), flushes: make(chan chan struct{}),
		mDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arus_relay_log_dropped_total",
			Help: "Delivery log entries dropped: the writer's queue was full, or the store refused them on every attempt.",
		}),
		mWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arus_relay_log_written_total",
			Help: "Delivery log entries written.",
		}),
		mRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arus_relay_log_write_retries_total",
			Help: "Writes of delivery log entries that failed and were tried again.",
		}),
	}
	if cfg.Registerer != nil {
		for _, c := range []*prometheus.Counter{&l.mDropped, &l.mWritten, &l.mRetries} {
			var err error
			if *c, err = telemetry.Register(cfg.Registerer, *c); err != nil {
				return nil, fmt.Errorf("deliverylog: %w", err)
			}
		}
	}
	return l, nil
}

// Add queues entries for the writer. It never blocks: when the queue is
// full the entries are dropped and counted (Dropped and the
// arus_relay_log_dropped_total metric), because the log must not hold up
// delivery; the records themselves are delivered all the same.
func (l *Log) Add(entries ...Entry) {
	now := l.cfg.Now()
	for _, e := range entries {
		if e.Time.IsZero() {
			e.Time = now
		}
		select {
		case l.queue <- e:
		default:
			l.dropped.Add(1)
			l.mDropped.Inc()
		}
	}
}

// Dropped returns how many entries were dropped: on a full queue, or when
// the store refused them on every attempt.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// Flush returns once the entries added before it was called are written
// (or dropped), or when ctx ends. It needs Run to be running.
func (l *Log) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case l.flushes <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LastOffset returns the highest offset of topic's partition that route
// has a final entry for (delivered, skipped or dead-lettered; a failed
// attempt is not final), and false when it has none.
func (l *Log) LastOffset(ctx context.Context, routeID, topic string, partition int32) (int64, bool, error) {
	var last sql.NullInt64
	err := l.db.QueryRowContext(ctx, l.db.Rebind(`SELECT MAX(record_offset) FROM relay_log
		WHERE route_id = ? AND topic = ? AND record_partition = ? AND status <> ?`), routeID, topic, int64(partition), string(Failed)).Scan(&last)
	if err != nil {
		return 0, false, fmt.Errorf("deliverylog: last offset: %w", err)
	}
	return last.Int64, last.Valid, nil
}

// Retries returns how many writes failed and were tried again.
func (l *Log) Retries() int64 { return l.retries.Load() }

// Run writes queued entries in batches (BatchSize, or what came within
// FlushInterval) and deletes entries older than Retention every
// RetentionInterval, until ctx is done; it then writes what is still
// queued and returns.
func (l *Log) Run(ctx context.Context) error {
	flush := time.NewTicker(l.cfg.FlushInterval)
	defer flush.Stop()
	retain := time.NewTicker(l.cfg.RetentionInterval)
	defer retain.Stop()
	l.expire(ctx)
	// Writes outlive ctx by drainTimeout: a batch being written, or
	// waiting to be tried again, when ctx ends is written all the same,
	// with what is still queued, unless the store refuses it that long.
	wctx, cancelWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrites()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(drainTimeout, cancelWrites) })()
	batch := make([]Entry, 0, l.cfg.BatchSize)
	write := func(ctx context.Context) {
		if len(batch) == 0 {
			return
		}
		// A store that fails for a moment (restarting, failing over) is
		// tried again; entries arriving meanwhile wait in the queue.
		backoff := writeBackoff
		err := l.write(ctx, batch)
		for attempt := 1; err != nil && attempt < writeAttempts && ctx.Err() == nil; attempt++ {
			l.retries.Add(1)
			l.mRetries.Inc()
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxWriteBackoff)
			err = l.write(ctx, batch)
		}
		if err != nil {
			l.cfg.Logger.WarnContext(ctx, "relay: delivery log: write entries; they are lost", "entries", len(batch), "err", err)
			l.dropped.Add(int64(len(batch)))
			l.mDropped.Add(float64(len(batch)))
		}
		batch = batch[:0]
	}
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case e := <-l.queue:
					batch = append(batch, e)
					if len(batch) == l.cfg.BatchSize {
						write(wctx)
					}
				default:
					write(wctx)
					return nil
				}
			}
		case e := <-l.queue:
			batch = append(batch, e)
			if len(batch) == l.cfg.BatchSize {
				write(wctx)
			}
		case <-flush.C:
			write(wctx)
		case done := <-l.flushes:
			// Everything queued before the request is written first.
			for n := len(l.queue); n > 0; n-- {
				batch = append(batch, <-l.queue)
				if len(batch) == l.cfg.BatchSize {
					write(wctx)
				}
			}
			write(wctx)
			close(done)
		case <-retain.C:
			l.expire(ctx)
		}
	}
}

func (l *Log) expire(ctx context.Context) {
	n, err := l.DeleteBefore(ctx, l.cfg.Now().Add(-l.cfg.Retention))
	if err != nil && ctx.Err() == nil {
		l.cfg.Logger.WarnContext(ctx, "relay: delivery log: retention", "err", err)
		return
	}
	if n > 0 {
		l.cfg.Logger.InfoContext(ctx, "relay: delivery log: old entries deleted", "entries", n)
	}
}

// DeleteBefore deletes the entries older than t and returns how many.
func (l *Log) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := l.db.ExecContext(ctx, l.db.Rebind(`DELETE FROM relay_log WHERE at < ?`), t.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("deliverylog: delete old entries: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

const entryCols = `at, record_id, dataset, application, route_id, route, destination_id, destination, destination_host,
	topic, record_partition, record_offset, record_time, status, attempts, row_json, error`

// The columns an INSERT binds once for a run of entries of one route, and
// the columns it binds for each entry, each in entryCols order.
const (
	nSharedCols = 7  // dataset, route_id, route, destination_id, destination, destination_host, topic
	nOwnCols    = 10 // at, record_id, application, record_partition, record_offset, record_time, status, attempts, row_json, error
	nEntryCols  = nSharedCols + nOwnCols
)

// entriesPerStmt is how many entries one INSERT writes.
const entriesPerStmt = 100

// write inserts entries in one transaction. The entries of one route go
// in INSERTs of up to entriesPerStmt entries (see routeRuns) that bind
// what they share once: binding the parameters took a fifth of the
// writer's time, and seven of an entry's seventeen columns are its
// route's. The INSERT of a full entriesPerStmt is prepared once per
// transaction.
func (l *Log) write(ctx context.Context, entries []Entry) error {
	err := l.db.InTx(ctx, func(tx *sql.Tx) error {
		var full *sql.Stmt
		if len(entries) >= 2*entriesPerStmt {
			var err error
			if full, err = tx.PrepareContext(ctx, l.insert(entriesPerStmt)); err != nil {
				return err
			}
			defer full.Close()
		}
		args := make([]any, 0, nSharedCols+min(len(entries), entriesPerStmt)*nOwnCols)
		for _, run := range routeRuns(entries) {
			for lo := 0; lo < len(run); lo += entriesPerStmt {
				part := run[lo:min(lo+entriesPerStmt, len(run))]
				args = l.insertArgs(args[:0], entries, part)
				var err error
				if full != nil && len(part) == entriesPerStmt {
					_, err = full.ExecContext(ctx, args...)
				} else {
					_, err = tx.ExecContext(ctx, l.insert(len(part)), args...)
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deliverylog: write %d entries: %w", len(entries), err)
	}
	l.mWritten.Add(float64(len(entries)))
	return nil
}

// routeKey is what an INSERT binds once for a route's entries.
type routeKey struct {
	dataset, routeID, route, destinationID, destination, destinationHost, topic string
}

// routeRuns returns the indexes of the entries of each route, in the
// entries' order; the routes in the order of their first entries. Entries
// come from every route's batches in turn, one record at a time when
// records come one by one: a route's entries are written together, in
// long INSERTs, each route still in the order of its records.
func routeRuns(entries []Entry) [][]int {
	var runs [][]int
	var last routeKey
	at := map[routeKey]int{}
	for i := range entries {
		e := &entries[i]
		k := routeKey{e.Dataset, e.RouteID, e.Route, e.DestinationID, e.Destination, e.DestinationHost, e.Topic}
		if i == 0 || k != last {
			if _, ok := at[k]; !ok {
				at[k] = len(runs)
				runs = append(runs, nil)
			}
			last = k
		}
		r := at[k]
		runs[r] = append(runs[r], i)
	}
	return runs
}

// insert is the INSERT of n entries of one route, with the arguments
// write gives: the nSharedCols route's columns, then nOwnCols for each
// entry. On SQLite the route's columns are bound once, in the SELECT over
// the entries' VALUES (plain ? parameters: SQLite looks a numbered one up
// by a walk of all the statement's parameters, quadratic in a long
// INSERT). PostgreSQL binds a route's columns for every entry, as it would
// infer the VALUES' types as text.
func (l *Log) insert(n int) string {
	row := func(b []byte, width int) []byte {
		b = append(b, '(')
		for c := range width {
			if c > 0 {
				b = append(b, ',')
			}
			b = append(b, '?')
		}
		return append(b, ')')
	}
	b := make([]byte, 0, 300+n*(nEntryCols*2+3))
	width := nOwnCols
	if l.db.Dialect == store.SQLite {
		// OR IGNORE rather than ON CONFLICT DO NOTHING: a statement that
		// cannot abort halfway needs no statement journal (a copy of
		// every page it changes). The columns are never NULL.
		b = append(b, `INSERT OR IGNORE INTO relay_log (`+entryCols+`) `...)
		// entryCols' order, the entry's own columns from the VALUES.
		b = append(b, `SELECT column1, column2, ?, column3, ?, ?, ?, ?, ?, ?, column4, column5, column6, column7, column8,
			column9, column10 FROM (VALUES `...)
	} else {
		b = append(b, `INSERT INTO relay_log (`+entryCols+`) VALUES `...)
		width = nEntryCols
	}
	for r := range n {
		if r > 0 {
			b = append(b, ',')
		}
		b = row(b, width)
	}
	if l.db.Dialect == store.SQLite {
		return string(append(b, ')'))
	}
	return l.db.Rebind(string(append(b, ` ON CONFLICT DO NOTHING`...)))
}

// insertArgs appends the arguments of insert(len(part)) for the entries
// at the indexes part to args.
func (l *Log) insertArgs(args []any, entries []Entry, part []int) []any {
	shared := l.db.Dialect == store.SQLite
	if shared {
		e := &entries[part[0]]
		args = append(args, e.Dataset, e.RouteID, e.Route, e.DestinationID, e.Destination, e.DestinationHost, e.Topic)
	}
	for _, i := range part {
		e := &entries[i]
		var recTime int64
		if !e.RecordTime.IsZero() {
			recTime = e.RecordTime.UnixMilli()
		}
		if shared {
			args = append(args, e.Time.UnixMilli(), e.RecordID, e.Application, int64(e.Partition), e.Offset, recTime,
				string(e.Status), e.Attempts, string(e.Row), e.Error)
			continue
		}
		args = append(args, e.Time.UnixMilli(), e.RecordID, e.Dataset, e.Application, e.RouteID, e.Route,
			e.DestinationID, e.Destination, e.DestinationHost, e.Topic, int64(e.Partition), e.Offset, recTime,
			string(e.Status), e.Attempts, string(e.Row), e.Error)
	}
	return args
}
