// Package payment is the e-ticketing payment service: a payment intent per
// order, paid in cash at a counter or through a simulated online provider
// (virtual account or QR), and refunds.
//
// It talks to the other services only through topics (package
// ticketing/messages). From ticketing.orders it takes OrderPlaced (a new
// intent, answered with PaymentRequested), OrderExpired and OrderCanceled
// (an unpaid intent closes), RefundApproved and LatePaymentRejected (money
// goes back). On payment.events it publishes PaymentRequested,
// PaymentSucceeded, PaymentFailed and PaymentRefunded. Every message it
// publishes is written through its outbox in the transaction of the change
// it reports, and every record it consumes is handled once through its
// inbox, so a redelivered record or a repeated request has no second
// effect.
//
// # States
//
// An intent is requested until its money arrives (succeeded), the online
// provider reports a failure (failed; the buyer may still pay), or its
// order expires or is canceled (expired, canceled). The online provider
// may still report money for a closed intent: the intent then succeeds
// late, and the ticketing service decides whether the tickets are still
// free or the payment is refunded (LatePaymentRejected). A succeeded intent
// ends refunded or partially refunded when refunds return its money. A
// refund is pending while cash waits at a counter, then refunded. No state
// waits for something that nothing will send: [Transitions] lists every
// move.
package payment

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

//go:embed migrations
var migrations embed.FS

// Group is the consumer group the service reads ticketing.orders in.
const Group = "payment"

// Intent states.
const (
	StateRequested         = "requested"
	StateSucceeded         = "succeeded"
	StateFailed            = "failed"
	StateExpired           = "expired"
	StateCanceled          = "canceled"
	StatePartiallyRefunded = "partially_refunded"
	StateRefunded          = "refunded"
)

// Refund states.
const (
	RefundPending  = "pending"
	RefundRefunded = "refunded"
)

// Transitions lists, for each intent state, the states it may move to and
// what moves it. A state with no way out is final.
var Transitions = map[string][]string{
	StateRequested:         {StateSucceeded, StateFailed, StateExpired, StateCanceled},
	StateFailed:            {StateSucceeded, StateExpired, StateCanceled},
	StateExpired:           {StateSucceeded}, // a late online payment
	StateCanceled:          {StateSucceeded}, // a late online payment
	StateSucceeded:         {StatePartiallyRefunded, StateRefunded},
	StatePartiallyRefunded: {StatePartiallyRefunded, StateRefunded},
	StateRefunded:          nil,
}

// Sentinel errors, for errors.Is.
var (
	// ErrNotFound: no such intent or refund.
	ErrNotFound = errors.New("payment: not found")
	// ErrState: the intent or refund is not in a state that allows the
	// action; the error says which state it is in.
	ErrState = errors.New("payment: not allowed in this state")
	// ErrInvalid: the input broke a rule; the error is an *invalid.Fields
	// naming the field.
	ErrInvalid = errors.New("payment: invalid input")
	// ErrSignature: a provider callback's signature is missing, wrong or
	// stale.
	ErrSignature = errors.New("payment: bad provider signature")
)

// Config configures a [Service].
type Config struct {
	// DB is the service's own store; required.
	DB *store.DB
	// Broker carries the topics; required.
	Broker stream.Broker
	// Secret signs and checks the online provider's callbacks (HMAC-SHA256);
	// at least 32 bytes, required.
	Secret []byte
	// CallbackURL returns the URL the simulated provider posts its
	// callbacks to (the server's own callback route). Required for
	// [Service.SimulatePay].
	CallbackURL func() string
	// CallbackTolerance is how far a callback's timestamp may be from the
	// current time. Default 5 minutes.
	CallbackTolerance time.Duration
	// OverdueGrace is how long after its order's hold ran out an intent
	// still waiting for money is closed by the service itself, should the
	// order's expiry never arrive. Default 1h.
	OverdueGrace time.Duration
	// Partitions is the partition count of the suite's topics when the
	// service creates them. Default 4.
	Partitions int32
	// Client posts the simulated provider's callbacks. Default: a client
	// with a 10 s timeout.
	Client *http.Client
	// Logger receives the service's logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the outbox's and inbox's metrics.
	Registerer prometheus.Registerer
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("payment: no store"))
	}
	if c.Broker == nil {
		errs = append(errs, errors.New("payment: no broker"))
	}
	if len(c.Secret) < 32 {
		errs = append(errs, fmt.Errorf("payment: the provider secret has %d bytes; use at least 32", len(c.Secret)))
	}
	if c.CallbackTolerance < 0 {
		errs = append(errs, fmt.Errorf("payment: callback tolerance %s is negative", c.CallbackTolerance))
	}
	if c.CallbackTolerance == 0 {
		c.CallbackTolerance = 5 * time.Minute
	}
	if c.OverdueGrace < 0 {
		errs = append(errs, fmt.Errorf("payment: overdue grace %s is negative", c.OverdueGrace))
	}
	if c.OverdueGrace == 0 {
		c.OverdueGrace = time.Hour
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("payment: partitions %d is negative", c.Partitions))
	}
	if c.Partitions == 0 {
		c.Partitions = 4
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return errors.Join(errs...)
}

// Service is the payment service. It is safe for concurrent use.
type Service struct {
	cfg       Config
	db        *store.DB
	outbox    *outbox.Outbox
	forwarder *outbox.Forwarder
	inbox     *outbox.Inbox
	log       *slog.Logger
}

// Open migrates the service's store, opens its outbox and inbox, and
// creates the suite's topics that are missing. Run starts it.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	if err := cfg.DB.Migrate(ctx, sub); err != nil {
		return nil, err
	}
	ob, err := outbox.Open(ctx, cfg.DB, outbox.Config{})
	if err != nil {
		return nil, err
	}
	fw, err := outbox.NewForwarder(ob, cfg.Broker, outbox.ForwarderConfig{Logger: cfg.Logger, Registerer: cfg.Registerer})
	if err != nil {
		return nil, err
	}
	in, err := outbox.OpenInbox(ctx, cfg.DB, outbox.InboxConfig{Name: Group, Logger: cfg.Logger, Registerer: cfg.Registerer})
	if err != nil {
		return nil, err
	}
	if err := EnsureTopics(ctx, cfg.Broker, cfg.Partitions); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, db: cfg.DB, outbox: ob, forwarder: fw, inbox: in, log: cfg.Logger}, nil
}

// EnsureTopics creates the suite's topics (messages.Topics) that do not
// exist yet.
func EnsureTopics(ctx context.Context, b stream.Broker, partitions int32) error {
	for _, t := range messages.Topics {
		err := b.CreateTopic(ctx, stream.Topic{Name: t, Partitions: partitions})
		if err != nil && !errors.Is(err, stream.ErrTopicExists) {
			return fmt.Errorf("payment: create topic %s: %w", t, err)
		}
	}
	return nil
}

// Ping checks that the service's store answers.
func (s *Service) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Run publishes the outbox and consumes ticketing.orders until ctx ends,
// then returns nil, or the error that stopped a part.
func (s *Service) Run(ctx context.Context) error {
	chain, err := consume.Chain(consume.ChainConfig{Group: Group, Producer: s.cfg.Broker, Inbox: s.inbox, Logger: s.log})
	if err != nil {
		return err
	}
	rt, err := consume.New(s.cfg.Broker, consume.Config{Group: Group, Topics: []string{messages.TopicOrders},
		RetryBackoff: 200 * time.Millisecond, Logger: s.log})
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.forwarder.Run(gctx) })
	g.Go(func() error { return s.inbox.Run(gctx) })
	g.Go(func() error { s.closeOverdueLoop(gctx); return nil })
	g.Go(func() error { return keepConsuming(gctx, rt, chain(s.handle), s.log) })
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("payment: %w", err)
	}
	return nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// keepConsuming runs rt until ctx ends. When consuming fails (the broker
// went away), it logs why and starts again after a back-off that grows
// from 1 s to 30 s, so the service comes back with its broker instead of
// stopping the process.
func keepConsuming(ctx context.Context, rt *consume.Runtime, h consume.Handler, log *slog.Logger) error {
	backoff := time.Second
	for {
		err := rt.Run(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("payment: consuming failed; starting again", "group", Group, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
