// Package ticketing is the e-ticketing service: merchants and their events
// with areas, staff and schedules; the go-live saga that takes an approved
// event on sale; orders that hold tickets in the inventory
// (package ticketing/inventory) until paid, then issue one ticket per
// admission; refunds; the platform's payment methods; and a dashboard read
// model.
//
// It is built on Arus's public SDK alone and talks to the other services
// (payment, gate, notify) only through the topics and messages of package
// ticketing/messages: every change that others must hear of commits in the
// same transaction as the outbox record that publishes it, and every
// message it consumes is handled once through an inbox.
//
// See docs/ticketing.md for the model, the states and the flows.
package ticketing

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/inventory"
	"github.com/arus-platform/arus/ticketing/messages"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Defaults of [Config].
const (
	DefaultHoldTTL      = 15 * time.Minute
	DefaultSweepEvery   = time.Second
	DefaultTimeZone     = "Asia/Jakarta"
	DefaultGroup        = "ticketing"
	defaultRetryBackoff = 200 * time.Millisecond
)

// Config configures a [Service].
type Config struct {
	// DB is the service's own store (component "ticketing"). Required.
	DB *store.DB
	// InventoryDB holds the inventory's event streams and read model
	// (component "ticketing_inventory"). Required. It is a store of its
	// own so that a consumer's transaction in DB and the inventory's
	// appends never wait for one another (SQLite has one writer per file).
	InventoryDB *store.DB
	// Broker carries the messages. Required.
	Broker stream.Broker
	// Sagas runs the go-live saga; it must have been created with
	// [GoLive] among its definitions, and be run by its owner. Required.
	Sagas *saga.Orchestrator
	// HoldTTL is how long an order holds its tickets unpaid. Default 15m.
	HoldTTL time.Duration
	// SweepEvery is how often expired holds are closed, event states moved
	// on with time, go-live sagas followed and approved refunds' tickets
	// returned. Default 1s.
	SweepEvery time.Duration
	// Group prefixes the consumer groups and inboxes of the service.
	// Default "ticketing".
	Group string
	// Logger receives the service's logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// WaitroomKey signs the waiting room's admission tokens (HMAC-SHA256),
	// at least 32 bytes. Processes sharing one store must share it, and a
	// token outlives a restart only with the same key. Default: 32 random
	// bytes for this Service alone.
	WaitroomKey []byte
	// Registerer, when set, receives the waiting room's metrics.
	Registerer prometheus.Registerer
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("ticketing: no store"))
	}
	if c.InventoryDB == nil {
		errs = append(errs, errors.New("ticketing: no inventory store"))
	}
	if c.Broker == nil {
		errs = append(errs, errors.New("ticketing: no broker"))
	}
	if c.Sagas == nil {
		errs = append(errs, errors.New("ticketing: no saga orchestrator"))
	}
	if c.HoldTTL < 0 || c.SweepEvery < 0 {
		errs = append(errs, errors.New("ticketing: hold TTL and sweep interval must not be negative"))
	}
	if c.HoldTTL == 0 {
		c.HoldTTL = DefaultHoldTTL
	}
	if c.SweepEvery == 0 {
		c.SweepEvery = DefaultSweepEvery
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if err := stream.ValidateGroupName(c.Group); err != nil {
		errs = append(errs, fmt.Errorf("ticketing: %w", err))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.WaitroomKey == nil:
		c.WaitroomKey = make([]byte, 32)
		_, _ = rand.Read(c.WaitroomKey)
	case len(c.WaitroomKey) < 32:
		errs = append(errs, fmt.Errorf("ticketing: the waiting room key has %d bytes; use at least 32", len(c.WaitroomKey)))
	}
	return errors.Join(errs...)
}

// Service is the ticketing service. It is safe for concurrent use; several
// processes may share one PostgreSQL store.
type Service struct {
	cfg       Config
	db        *store.DB
	log       *slog.Logger
	outbox    *outbox.Outbox
	forwarder *outbox.Forwarder
	events    *eventsource.Store
	inv       *inventory.Inventory
	metrics   waitroomMetrics
	joins     joinQueue
	// orders shares the commits of orders placed at once.
	orders *store.Group
	// consumers, on SQLite, shares the commits of the service's
	// consumers: records handled at once by its partitions and consumer
	// groups commit together.
	consumers *store.Group
}

// Open migrates the service's store, opens its outbox, event store and
// inventory, and sets up the platform's payment methods on first start.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("ticketing: migrations: %w", err)
	}
	if err := cfg.DB.Migrate(ctx, sub); err != nil {
		return nil, fmt.Errorf("ticketing: %w", err)
	}
	s := &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger, orders: store.NewGroup(cfg.DB, 0)}
	if cfg.DB.Dialect == store.SQLite {
		// Its one connection runs one transaction at a time anyway. On
		// PostgreSQL the consumers commit in parallel on their own
		// connections, which settled a sale faster than sharing.
		s.consumers = store.NewGroup(cfg.DB, 0)
	}
	if s.metrics, err = newWaitroomMetrics(cfg.Registerer, cfg.DB); err != nil {
		return nil, err
	}
	if s.outbox, err = outbox.Open(ctx, cfg.DB, outbox.Config{Name: "ticketing"}); err != nil {
		return nil, err
	}
	if s.forwarder, err = outbox.NewForwarder(s.outbox, cfg.Broker, outbox.ForwarderConfig{Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	if s.events, err = eventsource.Open(ctx, cfg.InventoryDB, eventsource.Config{Name: "inventory"}); err != nil {
		return nil, err
	}
	if s.inv, err = inventory.Open(ctx, s.events, inventory.Config{HoldTTL: cfg.HoldTTL, Now: cfg.Now}); err != nil {
		return nil, err
	}
	if err := s.seedPaymentMethods(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// CreateTopics creates the suite's topics that do not exist yet, with
// partitions partitions each (4 when less than 1).
func CreateTopics(ctx context.Context, b stream.Broker, partitions int) error {
	if partitions < 1 {
		partitions = 4
	}
	for _, t := range messages.Topics {
		err := b.CreateTopic(ctx, stream.Topic{Name: t, Partitions: int32(partitions)})
		if err != nil && !errors.Is(err, stream.ErrTopicExists) {
			return fmt.Errorf("ticketing: create topic %s: %w", t, err)
		}
	}
	return nil
}

// Inventory returns the service's inventory, for audits and tests.
func (s *Service) Inventory() *inventory.Inventory { return s.inv }

// HoldTTL is how long a new order holds its tickets unpaid.
func (s *Service) HoldTTL() time.Duration { return s.cfg.HoldTTL }

// Ping checks the store.
func (s *Service) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Run runs the service until ctx ends: the outbox forwarder, the consumers
// of the go-live commands, of payments and of the dashboard, the inventory's
// read model, and the sweeper. A part that fails (the broker or a store
// went away) is logged and started again after restartDelay, so the
// service recovers when they return.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	part := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keepRunning(ctx, s.log, name, run)
		}()
	}
	part("outbox forwarder", s.forwarder.Run)
	part("inventory projection", s.inv.RunProjection)
	part("sweeper", func(ctx context.Context) error { s.sweepLoop(ctx); return nil })
	for _, c := range []struct {
		name   string
		topics []string
		handle consume.Handler
	}{
		{"golive", []string{messages.TopicCreate, messages.TopicStatusUpdate}, s.handleGoLive},
		{"payments", []string{messages.TopicPayments}, s.handlePayment},
		{"dashboard", []string{messages.TopicOrders}, s.handleDashboard},
		{"access", []string{messages.TopicAccess, messages.TopicStaffAccess}, s.handleAccess},
	} {
		part("consumer "+c.name, func(ctx context.Context) error { return s.consume(ctx, c.name, c.topics, c.handle) })
	}
	wg.Wait()
	return nil
}

// restartDelay is the wait before a failed part of the service starts
// again.
const restartDelay = time.Second

// keepRunning runs run until ctx ends, starting it again after
// restartDelay whenever it fails.
func keepRunning(ctx context.Context, log *slog.Logger, name string, run func(context.Context) error) {
	for {
		err := run(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn("ticketing: a part of the service stopped; starting it again", "part", name, "err", err, "delay", restartDelay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(restartDelay):
		}
	}
}

// consume runs one consumer group of the service with its own inbox; the
// handler runs in the inbox's transaction (outbox.TxFromContext).
func (s *Service) consume(ctx context.Context, name string, topics []string, h consume.Handler) error {
	group := s.cfg.Group + "." + name
	inbox, err := outbox.OpenInbox(ctx, s.db, outbox.InboxConfig{Name: "ticketing_" + name, Logger: s.log, Group: s.consumers})
	if err != nil {
		return err
	}
	chain, err := consume.Chain(consume.ChainConfig{Group: group, Producer: s.cfg.Broker, Inbox: inbox, Logger: s.log,
		Retry: consume.RetryConfig{InitialBackoff: defaultRetryBackoff}})
	if err != nil {
		return err
	}
	rt, err := consume.New(s.cfg.Broker, consume.Config{Group: group, Topics: topics, Logger: s.log})
	if err != nil {
		return err
	}
	return rt.Run(ctx, chain(h))
}

// handlerTx is the inbox transaction a consumer's handler runs in.
func handlerTx(ctx context.Context) (*sql.Tx, error) {
	tx, ok := outbox.TxFromContext(ctx)
	if !ok {
		return nil, errors.New("ticketing: handler called outside an inbox transaction")
	}
	return tx, nil
}

// sweepLoop runs sweep every SweepEvery until ctx ends.
func (s *Service) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("ticketing: sweep failed; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep does once what the sweeper does every SweepEvery: expires the
// pending orders whose hold ran out (OrderExpired), follows running go-live
// sagas, moves events on with time, returns to the inventory the
// tickets of approved refunds, and admits the waiting rooms' buyers whose
// turn came. Availability never waits for it: a hold
// past its expiry is free in the inventory already.
func (s *Service) Sweep(ctx context.Context) error {
	return errors.Join(s.expireOrders(ctx), s.followGoLive(ctx), s.advanceEvents(ctx), s.returnRefunded(ctx), s.admitAll(ctx))
}
