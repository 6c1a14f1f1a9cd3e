package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// Defaults of [ForwarderConfig].
const (
	DefaultBatchSize       = 1000
	DefaultBatchBytes      = 8 << 20
	DefaultPollInterval    = 100 * time.Millisecond
	DefaultMaxBackoff      = 5 * time.Second
	DefaultPublishTimeout  = 30 * time.Second
	DefaultRetention       = time.Hour
	DefaultCleanupInterval = time.Minute
	DefaultStatsInterval   = 5 * time.Second
)

// maxBatchSize bounds BatchSize: a round's rows are held in memory and
// marked in one transaction.
const maxBatchSize = 10000

// ForwarderConfig configures a [Forwarder].
type ForwarderConfig struct {
	// BatchSize is the most records one round reads, publishes in one
	// produce call and marks sent in one transaction. Default 1000, at
	// most 10000.
	BatchSize int
	// BatchBytes bounds the bytes of records (key, value and headers) one
	// round holds: a round stops reading at the record that reaches it,
	// and always takes at least one record. Default 8 MiB.
	BatchBytes int
	// PollInterval is how long an idle forwarder waits before it looks for
	// new records again. A Write in the same process wakes it at once.
	// Default 100ms.
	PollInterval time.Duration
	// MaxBackoff caps the wait after consecutive failures, which starts at
	// PollInterval and doubles. Default 5s.
	MaxBackoff time.Duration
	// PublishTimeout bounds one produce call. Default 30s.
	PublishTimeout time.Duration
	// Retention is how long published records stay in the table (for
	// inspection) before Cleanup deletes them. A negative value deletes
	// them as soon as they are published. Default 1h.
	Retention time.Duration
	// CleanupInterval is how often Run deletes records past their
	// retention. Default 1m.
	CleanupInterval time.Duration
	// StatsInterval is how often Run counts pending records for the
	// arus_outbox_pending and arus_outbox_oldest_pending_seconds gauges.
	// Default 5s.
	StatsInterval time.Duration
	// Buckets is, on PostgreSQL, the most key buckets (of 64) one round
	// claims. The default, all of them, makes forwarders take turns;
	// a lower value, such as 64 divided by the number of forwarders, lets
	// them publish different buckets at the same time. Ignored on SQLite.
	Buckets int
	// Logger receives the forwarder's logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the forwarder's metrics, labelled
	// with the outbox table.
	Registerer prometheus.Registerer
	// Now returns the time records are marked sent and their retention is
	// measured against. Default time.Now.
	Now func() time.Time
}

// Validate checks the configuration and fills in defaults.
func (c *ForwarderConfig) Validate() error {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchSize < 1 || c.BatchSize > maxBatchSize {
		return fmt.Errorf("outbox: batch size %d: use 1 to %d", c.BatchSize, maxBatchSize)
	}
	if c.BatchBytes < 0 {
		return fmt.Errorf("outbox: batch bytes %d is negative", c.BatchBytes)
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	durations := []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"poll interval", &c.PollInterval, DefaultPollInterval},
		{"max backoff", &c.MaxBackoff, DefaultMaxBackoff},
		{"publish timeout", &c.PublishTimeout, DefaultPublishTimeout},
		{"cleanup interval", &c.CleanupInterval, DefaultCleanupInterval},
		{"stats interval", &c.StatsInterval, DefaultStatsInterval},
	}
	for _, d := range durations {
		if *d.d < 0 {
			return fmt.Errorf("outbox: %s %s is negative", d.name, *d.d)
		}
		if *d.d == 0 {
			*d.d = d.def
		}
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Buckets < 0 {
		return fmt.Errorf("outbox: buckets %d is negative", c.Buckets)
	}
	if c.Buckets == 0 || c.Buckets > buckets {
		c.Buckets = buckets
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Forwarder publishes an outbox's records to a broker.
//
// It publishes records with the same key in the order they were written
// (see [Outbox.Write]) and marks them sent in the outbox once the broker
// has acknowledged them. A crash between the two publishes them again, with
// the same id, when a forwarder next runs: delivery is at-least-once, and
// consumers that deduplicate by id (see [Inbox]) see each record's effect
// once. No record is lost, and none is skipped because its transaction
// committed after a later one.
//
// Several forwarders may run on one PostgreSQL outbox, in one or several
// processes: they claim key buckets with row locks, so two never publish
// records of one key at the same time, and a forwarder that dies releases
// its buckets with its connection. On SQLite run one forwarder per outbox
// (forwarders of one process that share the *Outbox take turns).
type Forwarder struct {
	o   *Outbox
	p   stream.Producer
	cfg ForwarderConfig
	log *slog.Logger
	m   *forwarderMetrics

	// queries, with the table name filled in
	qClaimAll, qClaimSome, qReadAll, qReadSome, qMark, qDelete, qCleanup string
	idleTimeout                                                          string
}

// NewForwarder returns a forwarder of o's records to p. Call Run to start
// it.
func NewForwarder(o *Outbox, p stream.Producer, cfg ForwarderConfig) (*Forwarder, error) {
	if o == nil || p == nil {
		return nil, errors.New("outbox: forwarder needs an outbox and a producer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newForwarderMetrics(cfg.Registerer, o.table)
	if err != nil {
		return nil, err
	}
	t := o.table
	cols := `SELECT id, topic, key, value, headers, ts_ns, created_ns, key IS NULL, value IS NULL FROM ` + o.pendingFrom()
	f := &Forwarder{
		o: o, p: p, cfg: cfg, m: m,
		log:        cfg.Logger.With("table", t),
		qClaimAll:  `SELECT bucket FROM ` + t + `_lock FOR UPDATE SKIP LOCKED`,
		qClaimSome: `SELECT bucket FROM ` + t + `_lock ORDER BY random() LIMIT $1 FOR UPDATE SKIP LOCKED`,
		qReadAll:   o.db.Rebind(cols + ` WHERE sent_ns IS NULL ORDER BY id LIMIT ?`),
		qReadSome:  cols + ` WHERE sent_ns IS NULL AND bucket = ANY($2) ORDER BY id LIMIT $1`,
		qMark:      `UPDATE ` + t + ` SET sent_ns = $1 WHERE id = ANY($2)`,
		qDelete:    `DELETE FROM ` + t + ` WHERE id = ANY($1)`,
		qCleanup: o.db.Rebind(`DELETE FROM ` + t + ` WHERE id IN (SELECT id FROM ` + t +
			` WHERE sent_ns < ? LIMIT ` + strconv.Itoa(cleanupChunk) + `)`),
		// A forwarder that stops responding (a paused process) must not
		// hold its buckets for ever: PostgreSQL ends its session once it
		// has been idle in its transaction this long.
		idleTimeout: strconv.FormatInt((cfg.PublishTimeout + 30*time.Second).Milliseconds(), 10),
	}
	return f, nil
}

// row is one outbox row read for publishing.
type row struct {
	id      int64
	created int64
	rec     *stream.Record
}

// Run forwards records until ctx is done, then returns nil. It publishes
// batches back to back while records are pending, otherwise polls every
// PollInterval or when a Write of this process wakes it; it deletes
// published records past their retention and updates the gauges. Failures
// are logged and retried with backoff, without limit: Run returns nil, and
// only once ctx is done.
func (f *Forwarder) Run(ctx context.Context) error {
	wake := f.o.subscribe()
	defer f.o.unsubscribe(wake)
	cleanup := time.NewTicker(f.cfg.CleanupInterval)
	defer cleanup.Stop()
	stats := time.NewTicker(f.cfg.StatsInterval)
	defer stats.Stop()
	f.updateStats(ctx)

	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	// quick is the next short wait after a wake-up that found nothing: the
	// writer's transaction may not have committed yet.
	var quick time.Duration
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cleanup.C:
			if _, err := f.Cleanup(ctx); err != nil && ctx.Err() == nil {
				f.log.Warn("outbox: cleanup failed", "error", err)
			}
			continue
		case <-stats.C:
			f.updateStats(ctx)
			continue
		case <-wake:
			if failures > 0 {
				continue // keep backing off: writes do not mend the broker
			}
			quick = time.Millisecond
		case <-timer.C:
		}

		n, err := f.Forward(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		if err != nil {
			failures++
			wait = min(f.cfg.PollInterval<<min(failures-1, 16), f.cfg.MaxBackoff)
			f.log.Warn("outbox: forward failed; retrying", "attempt", failures, "retry_in", wait, "error", err)
		} else {
			if failures > 0 {
				f.log.Info("outbox: forwarding again", "after_failures", failures)
				failures = 0
			}
			switch {
			case n > 0:
				// More may be pending: go on at once.
			case quick > 0 && quick < f.cfg.PollInterval:
				wait = quick
				quick *= 2
			default:
				quick = 0
				wait = f.cfg.PollInterval
			}
		}
		timer.Reset(wait)
	}
}

// Forward runs one round: it publishes up to BatchSize pending records,
// marks them sent and returns how many it published. On PostgreSQL it
// publishes only records of the key buckets it could claim, and publishes
// nothing when other forwarders hold them all. Run calls it in a loop;
// tests and tools can call it directly.
func (f *Forwarder) Forward(ctx context.Context) (int, error) {
	if f.o.db.Dialect == store.Postgres {
		return f.forwardPostgres(ctx)
	}
	return f.forwardSQLite(ctx)
}

// markTimeout bounds marking a published batch sent, which goes on after
// ctx is cancelled: otherwise a shutdown would publish the batch again.
const markTimeout = 30 * time.Second

func (f *Forwarder) forwardPostgres(ctx context.Context) (int, error) {
	// The transaction holds the claimed buckets until it ends. It reads
	// committed data with each statement's own snapshot, so that the read
	// that follows a claim sees the rows the bucket's previous holder
	// marked sent before it let go; and it outlives ctx so that a
	// published batch can still be marked.
	txCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.PublishTimeout+markTimeout)
	defer cancel()
	tx, err := f.o.db.BeginTx(txCtx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return 0, f.fail("claim", fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT set_config('idle_in_transaction_session_timeout', $1, true)`, f.idleTimeout); err != nil {
		return 0, f.fail("claim", err)
	}
	claimed, err := f.claim(ctx, tx)
	if err != nil {
		return 0, f.fail("claim", err)
	}
	if len(claimed) == 0 {
		return 0, nil
	}
	var rows []row
	if len(claimed) == buckets {
		rows, err = f.read(ctx, tx, f.qReadAll, f.cfg.BatchSize)
	} else {
		rows, err = f.read(ctx, tx, f.qReadSome, f.cfg.BatchSize, claimed)
	}
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	stored, perr := f.publish(ctx, rows)
	if len(stored) == 0 {
		return 0, perr
	}
	if err := f.markPostgres(txCtx, tx, stored); err != nil {
		return 0, errors.Join(perr, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, errors.Join(perr, f.fail("mark", fmt.Errorf("commit: %w", err)))
	}
	return len(stored), perr
}

func (f *Forwarder) claim(ctx context.Context, tx *sql.Tx) ([]int32, error) {
	var rs *sql.Rows
	var err error
	if f.cfg.Buckets >= buckets {
		rs, err = tx.QueryContext(ctx, f.qClaimAll)
	} else {
		rs, err = tx.QueryContext(ctx, f.qClaimSome, f.cfg.Buckets)
	}
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	claimed := make([]int32, 0, buckets)
	for rs.Next() {
		var b int32
		if err := rs.Scan(&b); err != nil {
			return nil, err
		}
		claimed = append(claimed, b)
	}
	return claimed, rs.Err()
}

func (f *Forwarder) markPostgres(ctx context.Context, tx *sql.Tx, ids []int64) error {
	var err error
	if f.cfg.Retention < 0 {
		_, err = tx.ExecContext(ctx, f.qDelete, ids)
	} else {
		_, err = tx.ExecContext(ctx, f.qMark, f.cfg.Now().UnixNano(), ids)
	}
	if err != nil {
		return f.fail("mark", err)
	}
	return nil
}

func (f *Forwarder) forwardSQLite(ctx context.Context) (int, error) {
	f.o.round.Lock()
	defer f.o.round.Unlock()
	rows, err := f.read(ctx, f.o.db, f.qReadAll, f.cfg.BatchSize)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	stored, perr := f.publish(ctx, rows)
	if len(stored) == 0 {
		return 0, perr
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := f.o.db.InTx(mctx, func(tx *sql.Tx) error { return f.markSQLite(mctx, tx, stored) }); err != nil {
		return 0, errors.Join(perr, f.fail("mark", err))
	}
	return len(stored), perr
}

// idsPerStatement bounds the ids of one UPDATE or DELETE on SQLite.
const idsPerStatement = 1000

func (f *Forwarder) markSQLite(ctx context.Context, tx *sql.Tx, ids []int64) error {
	now := f.cfg.Now().UnixNano()
	for start := 0; start < len(ids); start += idsPerStatement {
		chunk := ids[start:min(start+idsPerStatement, len(ids))]
		var q strings.Builder
		args := make([]any, 0, len(chunk)+1)
		if f.cfg.Retention < 0 {
			q.WriteString(`DELETE FROM ` + f.o.table + ` WHERE id IN (`)
		} else {
			q.WriteString(`UPDATE ` + f.o.table + ` SET sent_ns = ? WHERE id IN (`)
			args = append(args, now)
		}
		for i, id := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteByte('?')
			args = append(args, id)
		}
		q.WriteByte(')')
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func (f *Forwarder) read(ctx context.Context, q store.Querier, query string, args ...any) ([]row, error) {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, f.fail("read", err)
	}
	defer rs.Close()
	rows := make([]row, 0, min(f.cfg.BatchSize, 1024))
	size := 0
	for size < f.cfg.BatchBytes && rs.Next() {
		var (
			r                  row
			rec                stream.Record
			headers            []byte
			ts                 int64
			keyNull, valueNull bool
		)
		if err := rs.Scan(&r.id, &rec.Topic, &rec.Key, &rec.Value, &headers, &ts, &r.created, &keyNull, &valueNull); err != nil {
			return nil, f.fail("read", err)
		}
		// SQLite returns an empty blob as nil; NULL is what means nil.
		if rec.Key == nil && !keyNull {
			rec.Key = []byte{}
		}
		if rec.Value == nil && !valueNull {
			rec.Value = []byte{}
		}
		if rec.Headers, err = parseHeaders(headers); err != nil {
			return nil, f.fail("read", fmt.Errorf("row %d: %w", r.id, err))
		}
		rec.Timestamp = time.Unix(0, ts)
		r.rec = &rec
		rows = append(rows, r)
		size += rec.Size()
	}
	if err := rs.Err(); err != nil {
		return nil, f.fail("read", err)
	}
	return rows, nil
}

// publish produces the rows' records in one call and returns the ids of
// the rows the broker stored. Records of one key keep their order: Produce
// stores the records of one partition in slice order.
func (f *Forwarder) publish(ctx context.Context, rows []row) ([]int64, error) {
	recs := make([]*stream.Record, len(rows))
	for i, r := range rows {
		recs[i] = r.rec
	}
	pctx, cancel := context.WithTimeout(ctx, f.cfg.PublishTimeout)
	start := time.Now()
	err := f.p.Produce(pctx, recs...)
	cancel()
	now := time.Now()
	f.m.publish.Observe(now.Sub(start).Seconds())

	stored := make([]int64, 0, len(rows))
	var failed []int
	if err != nil {
		var pe *stream.ProduceError
		if errors.As(err, &pe) {
			failed = pe.Failed
		} else {
			// The broker may have stored some; publishing them again is
			// safe, losing them is not.
			failed = make([]int, len(rows))
			for i := range failed {
				failed[i] = i
			}
		}
	}
	next := 0 // index into failed, which is sorted
	for i, r := range rows {
		if next < len(failed) && failed[next] == i {
			next++
			continue
		}
		stored = append(stored, r.id)
		f.m.delay.Observe(now.Sub(time.Unix(0, r.created)).Seconds())
	}
	f.m.published.Add(float64(len(stored)))
	if err != nil {
		first := rows[0].rec
		if len(failed) > 0 && failed[0] < len(rows) {
			first = rows[failed[0]].rec
		}
		return stored, f.fail("publish", fmt.Errorf("%d of %d records not published (first: record_id %s, topic %s): %w",
			len(rows)-len(stored), len(rows), first.ID(), first.Topic, err))
	}
	return stored, nil
}

// cleanupChunk bounds the rows one cleanup statement deletes.
const cleanupChunk = 5000

// Cleanup deletes published records older than the retention and returns
// how many it deleted. Records not yet published are never deleted. Run
// calls it every CleanupInterval.
func (f *Forwarder) Cleanup(ctx context.Context) (int64, error) {
	cutoff := f.cfg.Now().Add(-max(f.cfg.Retention, 0)).UnixNano()
	var total int64
	for {
		res, err := f.o.db.ExecContext(ctx, f.qCleanup, cutoff)
		if err != nil {
			return total, f.fail("cleanup", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, f.fail("cleanup", err)
		}
		total += n
		f.m.deleted.Add(float64(n))
		if n < cleanupChunk {
			return total, nil
		}
	}
}

func (f *Forwarder) updateStats(ctx context.Context) {
	n, oldest, err := f.o.Pending(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.m.errors.WithLabelValues("count").Inc()
			f.log.Warn("outbox: count pending records", "error", err)
		}
		return
	}
	f.m.pending.Set(float64(n))
	age := 0.0
	if !oldest.IsZero() {
		age = time.Since(oldest).Seconds()
	}
	f.m.oldest.Set(age)
}

// fail counts a failure of op and wraps err.
func (f *Forwarder) fail(op string, err error) error {
	f.m.errors.WithLabelValues(op).Inc()
	return fmt.Errorf("outbox: %s %s: %w", op, f.o.table, err)
}
