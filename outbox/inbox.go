package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/store"
)

// Defaults of [InboxConfig].
const (
	DefaultInboxRetention = 7 * 24 * time.Hour
	DefaultExpireInterval = 10 * time.Minute
)

// InboxConfig configures an [Inbox].
type InboxConfig struct {
	// Name prefixes the inbox's table, <Name>_inbox, whose migrations are
	// recorded under the component <Name>_inbox. The same rules as
	// [Config.Name]. Default: the store's component.
	Name string
	// Retention is how long a handled id is remembered. A record delivered
	// again after its id expired is handled again, so keep it well above
	// the longest time a record can take to be redelivered (consumer
	// downtime, replays). Default 7 days.
	Retention time.Duration
	// ExpireInterval is how often Run deletes expired ids. Default 10m.
	ExpireInterval time.Duration
	// Logger receives Run's logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the inbox's metrics, labelled with its
	// table.
	Registerer prometheus.Registerer
	// Now returns the time ids are recorded at and expire against. Default
	// time.Now.
	Now func() time.Time
	// Group, when set, shares the transactions of records handled at once
	// (by several partitions, or several inboxes on the same group): each
	// record's id and effect run under a savepoint of one transaction, so a
	// failing effect rolls back only its own writes, and one commit covers
	// them all. It must commit on the inbox's database. An effect must then
	// not wait for another call on the same group.
	Group *store.Group
}

// Validate checks the configuration and fills in defaults from db.
func (c *InboxConfig) Validate(db *store.DB) error {
	if c.Name == "" && db != nil {
		c.Name = db.Component
	}
	if !tableName.MatchString(c.Name) {
		return fmt.Errorf("outbox: inbox name %q: use 1 to 40 lowercase letters, digits and '_', starting with a letter", c.Name)
	}
	if c.Retention < 0 {
		return fmt.Errorf("outbox: inbox retention %s is negative", c.Retention)
	}
	if c.Retention == 0 {
		c.Retention = DefaultInboxRetention
	}
	if c.ExpireInterval < 0 {
		return fmt.Errorf("outbox: inbox expire interval %s is negative", c.ExpireInterval)
	}
	if c.ExpireInterval == 0 {
		c.ExpireInterval = DefaultExpireInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Inbox makes a consumer's effects idempotent: it records the id
// ([stream.HeaderID]) of each handled record in the consumer's own
// database, in the transaction of the record's effect, so a record
// delivered again has no second effect. It is safe for concurrent use, and
// several processes may share one PostgreSQL inbox.
//
// An inbox belongs to one consumer group: a service that consumes a topic
// in two groups opens two inboxes, named after the groups, since each
// group must handle every record once. *Inbox satisfies the Inbox
// interface of package consume through its Once method.
type Inbox struct {
	db    *store.DB
	cfg   InboxConfig
	table string
	m     *inboxMetrics

	qInsert, qExpire string
}

// OpenInbox creates or migrates the inbox table in db and returns the
// inbox.
func OpenInbox(ctx context.Context, db *store.DB, cfg InboxConfig) (*Inbox, error) {
	if db == nil {
		return nil, errors.New("outbox: inbox: no database")
	}
	if err := cfg.Validate(db); err != nil {
		return nil, err
	}
	table := cfg.Name + "_inbox"
	if err := migrate(ctx, db, "migrations/inbox", table); err != nil {
		return nil, err
	}
	m, err := newInboxMetrics(cfg.Registerer, table)
	if err != nil {
		return nil, err
	}
	return &Inbox{
		db: db, cfg: cfg, table: table, m: m,
		qInsert: db.Rebind(`INSERT INTO ` + table + ` (id, handled_ns) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`),
		qExpire: db.Rebind(`DELETE FROM ` + table + ` WHERE id IN (SELECT id FROM ` + table +
			` WHERE handled_ns < ? LIMIT ` + strconv.Itoa(cleanupChunk) + `)`),
	}, nil
}

// Table returns the name of the table that holds the handled ids.
func (in *Inbox) Table() string { return in.table }

// Mark records id as handled inside tx and reports whether this is the
// first time: when first is false the record was already handled (by a
// committed transaction) and the caller should skip its effect. The
// record counts as handled only if tx commits. On PostgreSQL, when another
// transaction is handling the same id, Mark waits for it to end and then
// answers accordingly.
func (in *Inbox) Mark(ctx context.Context, tx *sql.Tx, id string) (first bool, err error) {
	if id == "" {
		return false, ErrNoID
	}
	res, err := tx.ExecContext(ctx, in.qInsert, id, in.cfg.Now().UnixNano())
	if err != nil {
		return false, fmt.Errorf("outbox: inbox %s: record id %s: %w", in.table, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("outbox: inbox %s: record id %s: %w", in.table, id, err)
	}
	if n == 0 {
		in.m.duplicates.Inc()
		return false, nil
	}
	in.m.handled.Inc()
	return true, nil
}

// Handle runs fn, the effect of the record with this id, exactly once: in a
// transaction that also records the id, unless the id was already handled.
// It returns first=true when fn ran and the transaction committed, and
// first=false with a nil error when the record was a duplicate and fn did
// not run. When fn fails, nothing is committed, the error is returned and a
// redelivery will run fn again. A record without an id fails with
// [ErrNoID].
func (in *Inbox) Handle(ctx context.Context, id string, fn func(tx *sql.Tx) error) (first bool, err error) {
	if id == "" {
		return false, ErrNoID
	}
	if in.cfg.Group != nil {
		ran := false
		err = in.cfg.Group.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			first, err := in.Mark(ctx, tx, id)
			if err != nil || !first {
				return err
			}
			ran = true
			return fn(tx)
		})
		if err != nil {
			return false, err
		}
		return ran, nil
	}
	tx, err := in.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("outbox: inbox %s: begin: %w", in.table, err)
	}
	defer tx.Rollback()
	first, err = in.Mark(ctx, tx, id)
	if err != nil || !first {
		return false, err
	}
	if err := fn(tx); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("outbox: inbox %s: commit record id %s: %w", in.table, id, err)
	}
	return true, nil
}

type txKey struct{}

// Once is [Inbox.Handle] for callers that pass context, such as the dedupe
// middleware of package consume: fn gets ctx carrying the transaction,
// which [TxFromContext] returns, and does its effect in it. Once returns nil
// without calling fn when id was already handled, and fn's error, with
// nothing recorded, when fn fails.
func (in *Inbox) Once(ctx context.Context, id string, fn func(ctx context.Context) error) error {
	_, err := in.Handle(ctx, id, func(tx *sql.Tx) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
	return err
}

// TxFromContext returns the transaction that [Inbox.Once] passes to its
// function in the context.
func TxFromContext(ctx context.Context) (*sql.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(*sql.Tx)
	return tx, ok
}

// Expire deletes the ids handled longer ago than the retention and returns
// how many it deleted.
func (in *Inbox) Expire(ctx context.Context) (int64, error) {
	cutoff := in.cfg.Now().Add(-in.cfg.Retention).UnixNano()
	var total int64
	for {
		res, err := in.db.ExecContext(ctx, in.qExpire, cutoff)
		if err != nil {
			return total, fmt.Errorf("outbox: inbox %s: expire: %w", in.table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("outbox: inbox %s: expire: %w", in.table, err)
		}
		total += n
		in.m.expired.Add(float64(n))
		if n < cleanupChunk {
			return total, nil
		}
	}
}

// Run calls Expire every ExpireInterval until ctx is done, then returns
// nil. Failures are logged and tried again at the next interval.
func (in *Inbox) Run(ctx context.Context) error {
	t := time.NewTicker(in.cfg.ExpireInterval)
	defer t.Stop()
	for {
		if _, err := in.Expire(ctx); err != nil && ctx.Err() == nil {
			in.cfg.Logger.Warn("outbox: inbox expiry failed", "table", in.table, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
