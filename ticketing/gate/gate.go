package gate

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Errors callers match with errors.Is.
var (
	// ErrNotFound: no such event server, gate, list, device or code.
	ErrNotFound = errors.New("gate: not found")
	// ErrDeviceRevoked: the device was revoked and may do nothing more.
	ErrDeviceRevoked = errors.New("gate: device revoked")
	// ErrInvalid: the input broke a rule; the error is an *invalid.Fields
	// naming the field.
	ErrInvalid = errors.New("gate: invalid input")
)

// Config configures a [Service].
type Config struct {
	// DB is the service's own store (SQLite or PostgreSQL). Required.
	DB *store.DB
	// Logger receives the service's logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the service's clock. Default time.Now.
	Now func() time.Time
	// Secrets, when set, encrypts the events' signing-key seeds at rest
	// (the server passes its secret box). Seeds stored before it was set
	// are sealed when the service opens. Without it seeds are stored in
	// the clear: only for stores nobody else reads.
	Secrets Sealer
	// NonceRetention is how long the answer to a nonce is kept, so that a
	// retry within it gets the first answer. Older answers are pruned
	// (hourly while Run runs, and by PruneNonces). Default 7 days.
	NonceRetention time.Duration
}

// Sealer encrypts small secrets bound to a context string; the server's
// secret box is one.
type Sealer interface {
	Seal(plaintext, context string) (string, error)
	Open(sealed, context string) (string, error)
}

// DefaultNonceRetention is how long nonce answers are kept by default.
const DefaultNonceRetention = 7 * 24 * time.Hour

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.DB == nil {
		return errors.New("gate: no database")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NonceRetention < 0 {
		return errors.New("gate: nonce retention must not be negative")
	}
	if c.NonceRetention == 0 {
		c.NonceRetention = DefaultNonceRetention
	}
	return nil
}

// Service is the gate access-control service. It is safe for concurrent
// use; several processes may share its store.
type Service struct {
	db       *store.DB
	es       *eventsource.Store
	outbox   *outbox.Outbox
	inbox    *outbox.Inbox
	log      *slog.Logger
	now      func() time.Time
	proj     *eventsource.Projection
	seal     Sealer
	nonceTTL time.Duration
	commits  *committer

	keysMu sync.Mutex
	keys   map[string]*keyring
	setups map[string]*setup
}

// Open migrates the service's store and returns the service.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("gate: migrations: %w", err)
	}
	db := *cfg.DB
	db.Component = "gate"
	if err := db.Migrate(ctx, sub); err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	es, err := eventsource.Open(ctx, cfg.DB, eventsource.Config{Name: "gate"})
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	ob, err := outbox.Open(ctx, cfg.DB, outbox.Config{Name: "gate"})
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	inbox, err := outbox.OpenInbox(ctx, cfg.DB, outbox.InboxConfig{Name: "gate", Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	s := &Service{db: cfg.DB, es: es, outbox: ob, inbox: inbox, log: cfg.Logger, now: cfg.Now, keys: map[string]*keyring{}, setups: map[string]*setup{},
		seal: cfg.Secrets, nonceTTL: cfg.NonceRetention}
	s.commits = newCommitter(s)
	s.proj = &eventsource.Projection{Name: "gate_access", Handle: s.project, Reset: s.resetAccess, Logger: cfg.Logger}
	if err := s.sealSeeds(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Outbox returns the outbox the service publishes through; run a
// forwarder on it.
func (s *Service) Outbox() *outbox.Outbox { return s.outbox }

// Events returns the service's event store.
func (s *Service) Events() *eventsource.Store { return s.es }
