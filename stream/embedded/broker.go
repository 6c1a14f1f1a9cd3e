// Package embedded is the default backend of the stream contract: a durable
// log in a SQLite database inside the data directory, for running Arus as
// one process with nothing else to set up.
//
// It keeps every guarantee of package stream within one process:
//
//   - Durability: Produce returns only after the transaction holding its
//     records has committed; with the default synchronous=FULL the
//     write-ahead log is fsynced first, so an acknowledged record survives a
//     kill -9 and a power loss. One writer goroutine runs every write and
//     groups the produce calls and offset commits that wait into one
//     transaction and one fsync (group commit).
//   - Offsets are dense per partition from 0, assigned by the writer in the
//     order calls reach it.
//   - Consumer groups are coordinated in memory: each Consume call is one
//     member, partitions are spread evenly over live members and move only
//     after their previous owner finished and committed.
//   - Readers are woken in-process when their partition grows, so a record
//     reaches a waiting consumer within milliseconds of its commit.
//   - Retention never deletes a record that a registered group has not
//     committed, unless Config.HardCapBytes forces it (logged and counted).
//
// The log is one SQLite database in write-ahead-log mode, Dir/stream.db,
// opened through the pure-Go driver modernc.org/sqlite. Each transaction
// stores the records it adds to a partition as one row (a chunk), so the
// cost of a row is shared by all the records that one fsync covers; readers
// use a pool of their own connections, and the log is checkpointed in the
// background. On Unix systems the data directory is locked with flock: a
// second process (or a second Broker) on the same directory fails at once.
package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/arus-platform/arus/stream"
)

// Broker is the embedded log. It implements [stream.Broker] and
// [stream.Retainer] and is safe for concurrent use.
type Broker struct {
	cfg         Config
	lock        *os.File
	w           *writer
	cp          *checkpointer
	readers     *readPool
	coord       *coordinator
	partitioner stream.Partitioner

	// mu guards the catalog: topics and groups.
	mu     sync.RWMutex
	topics map[string]*topicState
	groups map[string]*groupState

	closed    atomic.Bool
	closeMu   sync.Mutex // orders enter against Close
	closing   chan struct{}
	closeOnce sync.Once
	closeErr  error
	consumers sync.WaitGroup

	retentionMu    sync.Mutex
	purgeKick      chan struct{}
	stopBackground context.CancelFunc
	background     sync.WaitGroup // retention and purge
	stats          struct{ forced, transactions, records atomic.Int64 }
}

var (
	_ stream.Broker   = (*Broker)(nil)
	_ stream.Retainer = (*Broker)(nil)
)

// New opens the log in cfg.Dir, creating the directory and the database when
// missing, and locks the directory. It fails at once, naming the directory,
// when another process holds it.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := makeDir(cfg.Dir); err != nil {
		return nil, fmt.Errorf("embedded: create data directory: %w", err)
	}
	lock, err := lockDir(cfg.Dir, filepath.Join(cfg.Dir, lockFileName))
	if err != nil {
		return nil, err
	}
	b := &Broker{
		cfg:       cfg,
		lock:      lock,
		topics:    make(map[string]*topicState),
		groups:    make(map[string]*groupState),
		closing:   make(chan struct{}),
		purgeKick: make(chan struct{}, 1),
	}
	b.coord = newCoordinator(b)
	if err := b.open(); err != nil {
		unlockDir(lock)
		return nil, err
	}
	bctx, cancel := context.WithCancel(context.Background())
	b.stopBackground = cancel
	b.background.Add(1)
	go b.purge(bctx)
	b.kickPurge()
	if cfg.RetentionInterval > 0 {
		b.background.Add(1)
		go b.retain(bctx)
	}
	return b, nil
}

// createPrivate creates the file at path with mode 0600 when it does not
// exist yet.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// makeDir creates dir when missing and syncs its parent, so that the
// directory itself survives a power loss along with what is written in it.
func makeDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	parent, err := os.Open(filepath.Dir(filepath.Clean(dir)))
	if err != nil {
		return err
	}
	defer parent.Close()
	return parent.Sync()
}

func (b *Broker) open() error {
	path := filepath.Join(b.cfg.Dir, dbFileName)
	// The log is readable by this user alone; SQLite gives its -wal and
	// -shm files the database file's mode.
	if err := createPrivate(path); err != nil {
		return fmt.Errorf("embedded: create %s: %w", path, err)
	}
	wc, err := openConn(dsn(path, b.cfg.Synchronous, false))
	if err != nil {
		return fmt.Errorf("embedded: open %s: %w", path, err)
	}
	if err := initSchema(wc); err != nil {
		wc.close()
		return fmt.Errorf("embedded: create schema in %s: %w", path, err)
	}
	if err := b.loadCatalog(wc); err != nil {
		wc.close()
		return fmt.Errorf("embedded: load catalog from %s: %w", path, err)
	}
	b.readers, err = newReadPool(dsn(path, b.cfg.Synchronous, true), readPoolSize)
	if err != nil {
		wc.close()
		return fmt.Errorf("embedded: open readers on %s: %w", path, err)
	}
	cc, err := openConn(dsn(path, b.cfg.Synchronous, false))
	if err != nil {
		b.readers.close()
		wc.close()
		return fmt.Errorf("embedded: open %s: %w", path, err)
	}
	b.cp = newCheckpointer(b, cc)
	b.w = newWriter(b, wc)
	return nil
}

// Ping reports whether the log can be read.
func (b *Broker) Ping(ctx context.Context) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	return b.readers.with(ctx, func(c *dbConn) error {
		_, _, err := c.queryInt(sqlPing)
		return err
	})
}

// Close stops the running Consume calls (their handlers finish and what they
// finished is committed), lets the writer commit what is queued, closes the
// database and releases the directory lock. Later calls fail with
// stream.ErrClosed. Close is safe to call more than once.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.closeMu.Lock()
		b.closed.Store(true)
		close(b.closing)
		b.closeMu.Unlock()
		b.consumers.Wait()
		b.stopBackground()
		b.background.Wait()
		b.w.stop()
		b.cp.stop()
		b.readers.close()
		if err := b.w.close(); err != nil {
			b.closeErr = fmt.Errorf("embedded: close the log in %s: %w", b.cfg.Dir, err)
		}
		if err := unlockDir(b.lock); err != nil && b.closeErr == nil {
			b.closeErr = fmt.Errorf("embedded: unlock %s: %w", b.cfg.Dir, err)
		}
	})
	return b.closeErr
}

// enter registers a Consume call; it fails once the broker is closing.
func (b *Broker) enter() bool {
	b.closeMu.Lock()
	defer b.closeMu.Unlock()
	if b.closed.Load() {
		return false
	}
	b.consumers.Add(1)
	return true
}

// check fails with ErrClosed after Close and with ctx's error when it ended.
func (b *Broker) check(ctx context.Context) error {
	if b.closed.Load() {
		return fmt.Errorf("embedded: %w", stream.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// Stats are counters of the broker's life so far.
type Stats struct {
	// ForcedDeletes counts the records deleted by the hard size cap before
	// every registered group had committed them.
	ForcedDeletes int64
	// Transactions counts the group-commit transactions that stored records
	// or offsets, and Records the records they stored; Records divided by
	// Transactions is how many records shared one fsync.
	Transactions, Records int64
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	return Stats{
		ForcedDeletes: b.stats.forced.Load(),
		Transactions:  b.stats.transactions.Load(),
		Records:       b.stats.records.Load(),
	}
}
