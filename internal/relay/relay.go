// Package relay is the data-distribution middleware: applications ingest
// records of named datasets over HTTP, the records are kept in the
// dataset's topic, and routes deliver them into tables of destination
// databases (PostgreSQL, MySQL/MariaDB, SQL Server, SQLite) with a column
// mapping and a filter.
//
// This package holds the model (applications, datasets, destinations,
// routes) and its store, the mapping of records to rows, the ingest
// endpoint, the admin API and its Go client ([Client], behind arus relay).
// The sinks that write into databases are in relay/sink; the filter
// language of routes (shared with the console's message browser) and the
// field paths are in package filter.
package relay

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/internal/secret"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the relay's embedded migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sub
}

// Tester reaches destinations for the admin API: Test checks one before
// it is saved (a "test connection": it opens the database with the
// password and pings it); Catalog lists its tables and their columns, for
// the mapping editor. The relay's own, used when Config.Tester is nil,
// opens destinations with OpenDestination; tests give one that reaches
// nothing.
type Tester interface {
	Test(ctx context.Context, d Destination, password string) error
	Catalog(ctx context.Context, d Destination, password string) ([]sink.TableInfo, error)
}

// Config configures the relay.
type Config struct {
	// DB is the relay's store (component "relay"); New migrates it.
	DB *store.DB
	// Auth holds the applications' API keys and authenticates ingest.
	Auth *auth.Store
	// Secrets seals destination passwords.
	Secrets *secret.Box
	// Producer stores ingested records; Produce returns once they are
	// durable.
	Producer stream.Producer
	// Tester checks destinations before they are saved. Default: the
	// relay's own, which connects with OpenDestination.
	Tester Tester
	// SQLiteDir is the directory SQLite destinations live in: their
	// files are named relative to it and may not lead out of it. Created
	// (0700) when missing. Empty: SQLite destinations are refused.
	SQLiteDir string
	// Reserved are files and directories Arus itself uses (the data
	// directory, TLS files): the SQLite directory may not hold one, and
	// no SQLite destination may be one, even through a hard link.
	Reserved []string
	// AllowHosts, when not empty, are the only hosts (names, "*.domain")
	// and addresses (CIDRs) destinations may reach. Link-local and cloud
	// metadata addresses are refused unless a CIDR here names them.
	AllowHosts []string
	// TestBurst connection tests (a test, a create or an update of a
	// destination) may be made at once by one principal, then one per
	// TestInterval. Defaults 10 and 6s.
	TestBurst    int
	TestInterval time.Duration
	// TestTimeout bounds one connection test. Default 10s.
	TestTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the ingest metrics; nil registers none.
	Registerer prometheus.Registerer

	// Partitions is the partition count of the dataset topics the relay
	// creates (see TopicCreator). Default 4.
	Partitions int32
	// MaxBodyBytes bounds an ingest request body. Default 5 MiB.
	MaxBodyBytes int64
	// MaxRecordBytes bounds one record's data. Default 1 MiB.
	MaxRecordBytes int
	// MaxRecords bounds the records of one request. Default 1,000.
	MaxRecords int
	// CacheTTL is how long datasets and applications are cached for
	// ingest; changes made through another process are seen within it.
	// Default 5s.
	CacheTTL time.Duration
	// IdempotencyTTL is how long an Idempotency-Key's answer is kept.
	// Default 24h.
	IdempotencyTTL time.Duration
	// ProduceTimeout bounds the wait for the backbone. Default 10s.
	ProduceTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	switch {
	case c.DB == nil:
		return errors.New("relay: config DB is nil")
	case c.Auth == nil:
		return errors.New("relay: config Auth is nil")
	case c.Secrets == nil:
		return errors.New("relay: config Secrets is nil")
	case c.Producer == nil:
		return errors.New("relay: config Producer is nil")
	case c.MaxBodyBytes < 0, c.MaxRecordBytes < 0, c.MaxRecords < 0, c.CacheTTL < 0, c.IdempotencyTTL < 0, c.ProduceTimeout < 0,
		c.TestBurst < 0, c.TestInterval < 0, c.TestTimeout < 0:
		return errors.New("relay: limits and durations must not be negative")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Partitions == 0 {
		c.Partitions = 4
	}
	if err := stream.ValidatePartitions(c.Partitions); err != nil {
		return fmt.Errorf("relay: partitions: %w", err)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 5 << 20
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = 1 << 20
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = 1000
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = 5 * time.Second
	}
	if c.IdempotencyTTL == 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TestBurst == 0 {
		c.TestBurst = 10
	}
	if c.TestInterval == 0 {
		c.TestInterval = 6 * time.Second
	}
	if c.TestTimeout == 0 {
		c.TestTimeout = 10 * time.Second
	}
	if _, err := ParseHostPolicy(c.AllowHosts); err != nil {
		return err
	}
	return nil
}

// Relay is the relay's model, store and ingest. It is safe for concurrent
// use.
type Relay struct {
	cfg     Config
	db      *store.DB
	log     *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	datasets map[string]*datasetEntry
	checks   map[string]*checksEntry // by dataset
	tables   map[string]*tableEntry  // by destination id, schema and table
	apps     map[string]*appEntry    // by API key id
	buckets  map[string]*bucket      // by application id
	// testBuckets limit connection tests, by principal.
	testBuckets map[string]*bucket

	sqlite *sqliteDir
	hosts  HostPolicy

	idemLocks [64]sync.Mutex

	envelopes *Envelopes
}

// New migrates the relay's store and returns the relay.
func New(ctx context.Context, cfg Config) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.DB.Migrate(ctx, Migrations()); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, db: cfg.DB, log: cfg.Logger, metrics: m,
		datasets: map[string]*datasetEntry{}, checks: map[string]*checksEntry{}, tables: map[string]*tableEntry{}, apps: map[string]*appEntry{}, buckets: map[string]*bucket{},
		testBuckets: map[string]*bucket{}, envelopes: NewEnvelopes()}
	if r.sqlite, err = newSQLiteDir(cfg.SQLiteDir, cfg.Reserved); err != nil {
		return nil, err
	}
	r.hosts, _ = ParseHostPolicy(cfg.AllowHosts) // checked by Validate
	if r.cfg.Tester == nil {
		r.cfg.Tester = tester{r}
	}
	return r, nil
}

// Envelopes returns the relay's decoded records: those ingested here are
// kept as ingest decoded them, so that delivery does not decode them
// again.
func (r *Relay) Envelopes() *Envelopes { return r.envelopes }

// Cleanup deletes expired idempotency answers; run it now and then.
func (r *Relay) Cleanup(ctx context.Context) error {
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`DELETE FROM relay_idempotency WHERE expires_at <= ?`), toMillis(r.cfg.Now()))
	if err != nil {
		return fmt.Errorf("relay: delete expired idempotency keys: %w", err)
	}
	return nil
}

// Ping checks the relay's store, for /readyz.
func (r *Relay) Ping(ctx context.Context) error { return r.db.PingContext(ctx) }

func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
