package saga

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// Defaults of [Config].
const (
	DefaultComponent            = "sagas"
	DefaultTimeout              = 30 * time.Second
	DefaultCompensationAttempts = 5
	DefaultPollInterval         = time.Second
	DefaultProduceTimeout       = 10 * time.Second
)

// Config configures an [Orchestrator].
type Config struct {
	// DSN is a PostgreSQL URL (postgres://user:pass@host:5432/db, with an
	// optional schema parameter), or empty for SQLite in Dir.
	DSN string
	// Dir is the data directory of the SQLite file <Dir>/<Component>.db.
	Dir string
	// Component names the store's owner: its SQLite file, its migrations'
	// bookkeeping and the default consumer group. Lowercase letters, digits
	// and '_'. Default "sagas".
	Component string
	// Group is the consumer group in which replies are consumed. Default
	// "arus." + Component. Every process running the same sagas on the same
	// store uses the same group.
	Group string
	// DefaultTimeout applies to steps with no Timeout. Default 30s.
	DefaultTimeout time.Duration
	// CompensationAttempts is how many times a compensation is sent (the
	// same record each time) before a saga whose compensation never gets an
	// answer stops in [StateFailed]. Default 5.
	CompensationAttempts int
	// PollInterval is how often timeouts are checked and records whose
	// produce failed are tried again. Timeouts fire up to this late.
	// Default 1s.
	PollInterval time.Duration
	// ProduceTimeout bounds one produce of commands. Default 10s.
	ProduceTimeout time.Duration
	// Registerer receives the orchestrator's metrics. Nil: no metrics.
	Registerer prometheus.Registerer
	// Logger receives the orchestrator's logs. Default slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Component == "" {
		c.Component = DefaultComponent
	}
	sc := store.Config{DSN: c.DSN, Dir: c.Dir, Component: c.Component}
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("saga: %w", err)
	}
	if c.Group == "" {
		c.Group = "arus." + c.Component
	}
	if err := stream.ValidateGroupName(c.Group); err != nil {
		return fmt.Errorf("saga: %w", err)
	}
	if c.DefaultTimeout < 0 || c.CompensationAttempts < 0 || c.PollInterval < 0 || c.ProduceTimeout < 0 {
		return stream.Invalidf("saga: timeouts, intervals and attempts must not be negative")
	}
	if c.DefaultTimeout == 0 {
		c.DefaultTimeout = DefaultTimeout
	}
	if c.CompensationAttempts == 0 {
		c.CompensationAttempts = DefaultCompensationAttempts
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = DefaultProduceTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
