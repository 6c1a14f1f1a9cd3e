package saga

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Orchestrator runs the sagas of its definitions: it starts instances,
// sends their commands, consumes their replies and times them out. Several
// processes may run orchestrators with the same definitions on one
// PostgreSQL store and the same consumer group; on SQLite one process owns
// the store. An Orchestrator is safe for concurrent use.
type Orchestrator struct {
	cfg     Config
	db      *store.DB
	broker  stream.Broker
	defs    map[string]*Definition
	metrics *metrics
	log     *slog.Logger

	// wake tells the sender that a record waits in an outbox slot.
	wake    chan struct{}
	running atomic.Bool
}

// New opens the orchestrator's store, applies its migrations and returns an
// orchestrator for the given definitions. Call [Orchestrator.Run] to send
// commands and handle replies, and Close when done.
func New(ctx context.Context, cfg Config, b stream.Broker, defs ...Definition) (*Orchestrator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errors.New("saga: no broker")
	}
	o := &Orchestrator{
		cfg:    cfg,
		broker: b,
		defs:   make(map[string]*Definition, len(defs)),
		log:    cfg.Logger.With("component", cfg.Component),
		wake:   make(chan struct{}, 1),
	}
	for i := range defs {
		d := defs[i]
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("saga: %w", err)
		}
		if _, dup := o.defs[d.Name]; dup {
			return nil, stream.Invalidf("saga: %s is defined twice", d.Name)
		}
		o.defs[d.Name] = &d
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	o.metrics = m
	db, err := store.Open(ctx, store.Config{DSN: cfg.DSN, Dir: cfg.Dir, Component: cfg.Component})
	if err != nil {
		return nil, fmt.Errorf("saga: %w", err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	if err := db.Migrate(ctx, sub); err != nil {
		db.Close()
		return nil, fmt.Errorf("saga: %w", err)
	}
	o.db = db
	return o, nil
}

// Close closes the store. Call it after Run has returned.
func (o *Orchestrator) Close() error {
	return o.db.Close()
}

// Ping reports whether the store answers, for readiness checks.
func (o *Orchestrator) Ping(ctx context.Context) error {
	return o.db.PingContext(ctx)
}

// replyTopics returns the reply topics of every definition, sorted.
func (o *Orchestrator) replyTopics() []string {
	var topics []string
	for _, d := range o.defs {
		for _, s := range d.Steps {
			if !slices.Contains(topics, s.ReplyTopic) {
				topics = append(topics, s.ReplyTopic)
			}
		}
	}
	slices.Sort(topics)
	return topics
}

// Run sends the records waiting in outbox slots, consumes replies in
// [Config.Group] and fires timeouts until ctx is done; it then returns nil
// once the replies it handled are committed. It first queues again the
// waiting command or compensation of every active instance (see the
// package documentation). It returns an error when it cannot consume.
func (o *Orchestrator) Run(ctx context.Context) error {
	if !o.running.CompareAndSwap(false, true) {
		return errors.New("saga: Run called while already running")
	}
	defer o.running.Store(false)
	if err := o.resume(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { o.sendLoop(gctx); return nil })
	g.Go(func() error { o.timeoutLoop(gctx); return nil })
	if topics := o.replyTopics(); len(topics) > 0 {
		g.Go(func() error {
			err := o.broker.Consume(gctx, stream.ConsumerConfig{Group: o.cfg.Group, Topics: topics},
				stream.Single(o.handleReply))
			if err != nil {
				return fmt.Errorf("saga: consume replies: %w", err)
			}
			return nil
		})
	}
	return g.Wait()
}

// Start creates an instance of the saga named name with data and queues
// its first command, in one transaction; the command is sent by Run. An
// empty id gets a new one. It returns the instance's id, or [ErrExists]
// when an instance with this id exists, so that a caller retrying after a
// crash can start the saga of a given business key once.
func (o *Orchestrator) Start(ctx context.Context, name, id string, data []byte) (string, error) {
	def := o.defs[name]
	if def == nil {
		return "", stream.Invalidf("saga %q is not defined", name)
	}
	if id == "" {
		id = stream.NewID()
	} else if err := ValidateID(id); err != nil {
		return "", err
	}
	if data == nil {
		data = []byte{}
	}
	now := micros(time.Now())
	r := &row{ID: id, Name: name, State: StateRunning, Data: data, Version: 1, Created: now, Updated: now}
	err := o.inTx(ctx, func(t *txn) error {
		if err := o.insert(ctx, t.tx, r, def); err != nil {
			return err
		}
		if err := t.event(ctx, r, Event{Type: EventStarted, Step: -1, Detail: name, Value: data}); err != nil {
			return err
		}
		if err := t.send(ctx, r, def, 0, KindCommand); err != nil {
			return err
		}
		t.after(func() { o.metrics.started.WithLabelValues(name).Inc() })
		return o.save(ctx, t.tx, r, t.now)
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// inTx runs fn in a transaction and, once it committed, what fn asked to
// run after it; it then wakes the sender.
func (o *Orchestrator) inTx(ctx context.Context, fn func(t *txn) error) error {
	var t *txn
	err := o.db.InTx(ctx, func(tx *sql.Tx) error {
		t = &txn{tx: tx, o: o, now: micros(time.Now())}
		return fn(t)
	})
	if err != nil {
		return err
	}
	for _, f := range t.afters {
		f()
	}
	if t.queued {
		o.kick()
	}
	return nil
}

// kick wakes the sender.
func (o *Orchestrator) kick() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// handleReply applies one reply. Errors are the store's: the reply is then
// delivered again.
func (o *Orchestrator) handleReply(ctx context.Context, rec *stream.Record) error {
	id := ID(rec)
	if id == "" {
		o.log.Warn("saga: reply without a saga id ignored", "topic", rec.Topic, "partition", rec.Partition,
			"offset", rec.Offset, "record_id", rec.ID())
		return nil
	}
	err := o.inTx(ctx, func(t *txn) error {
		r, err := o.load(ctx, t.tx, id)
		if errors.Is(err, ErrNotFound) {
			// Another orchestrator's saga on a shared topic, or one deleted.
			o.log.Debug("saga: reply for an unknown saga ignored", "saga_id", id, "record_id", rec.ID())
			return nil
		}
		if err != nil {
			return err
		}
		if seen, err := o.seenReply(ctx, t.tx, id, rec.ID()); err != nil || seen {
			return err
		}
		return t.reply(ctx, r, rec)
	})
	if err != nil {
		return fmt.Errorf("saga: handle reply %s of %s: %w", rec.ID(), id, err)
	}
	return nil
}
