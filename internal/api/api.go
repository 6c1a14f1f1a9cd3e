// Package api serves the JSON API of Arus under /api/v1: topics, producing
// and reading records, consumer groups and consuming in a group over HTTP,
// plus /healthz and /readyz. Every error is an RFC 9457 problem
// ([Problem], application/problem+json).
//
// Produce answers only once the records are durable (the broker's Produce
// returned). Consuming in a group streams newline-delimited JSON; see
// the consume handler for its at-least-once semantics.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/mask"
	"github.com/arus-platform/arus/stream"
)

// Config configures a [Server].
type Config struct {
	// Logger receives the access log and errors. Default: slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body; larger bodies get 413.
	// Default 32 MiB.
	MaxBodyBytes int64
	// MaxRecords bounds the records of one produce request. Default 10,000.
	MaxRecords int
	// MaxReadLimit bounds the records of one read. Default 10,000.
	MaxReadLimit int
	// DefaultPartitions is the partition count of a topic created without
	// one. Default 4, as in stream.Options.
	DefaultPartitions int32
	// ReadyTimeout bounds the broker ping of /readyz. Default 2s.
	ReadyTimeout time.Duration
	// Auth identifies callers; every /api/v1 route then requires a
	// principal allowed its permission. Nil allows every request, for tests
	// and embedding only: arus serve always sets it.
	Auth Authenticator
	// DatasetOf names the relay dataset whose topic topic is, or "" for a
	// topic of no dataset. Producing to a dataset's topic is refused (403,
	// naming the dataset's ingest endpoint): records for a dataset go
	// through ingest, which applies its scope, schema and rate limit. Nil:
	// no topic belongs to a dataset.
	DatasetOf func(ctx context.Context, topic string) (string, error)
	// Masks holds the topics' masking policies, applied to every record
	// the API returns to a caller without records.unmask on its topic. Nil
	// masks nothing and leaves the masking routes out.
	Masks *mask.Store
	// ReadyChecks are checked by /readyz besides the broker, by name (the
	// stores, say).
	ReadyChecks map[string]func(ctx context.Context) error
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxBodyBytes < 0 || c.MaxRecords < 0 || c.MaxReadLimit < 0 || c.ReadyTimeout < 0 {
		return stream.Invalidf("api: limits must not be negative")
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = 10000
	}
	if c.MaxReadLimit == 0 {
		c.MaxReadLimit = 10000
	}
	if c.DefaultPartitions == 0 {
		c.DefaultPartitions = 4
	}
	if err := stream.ValidatePartitions(c.DefaultPartitions); err != nil {
		return fmt.Errorf("api: default partitions: %w", err)
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 2 * time.Second
	}
	return nil
}

// Server is the HTTP API over one broker. Platform middleware (auth,
// request ids, metrics) wraps [Server.Handler].
type Server struct {
	broker stream.Broker
	cfg    Config
	log    *slog.Logger

	// streams is the parent of every long-running consume stream; it ends
	// when the server shuts down, so that http.Server.Shutdown can drain.
	streams     context.Context
	stopStreams context.CancelFunc
}

// New returns a server for broker b.
func New(b stream.Broker, cfg Config) (*Server, error) {
	if b == nil {
		return nil, errors.New("api: no broker")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{broker: b, cfg: cfg, log: cfg.Logger, streams: ctx, stopStreams: cancel}, nil
}

// Handler returns the API as a handler of its own. arus serve instead
// registers the routes on its shared mux with Register.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Register(mux)
	return mux
}

// CloseStreams ends every consume stream: each commits what its client
// acknowledged and finishes its response. Call it when shutting down (see
// http.Server.RegisterOnShutdown); streams opened later end at once.
func (s *Server) CloseStreams() {
	s.stopStreams()
}

// handlerFunc is a handler that returns its error for the server to answer
// as a problem.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle serves h to principals allowed perm ("" for anyone), answering
// its error as a problem and a panic as a 500 problem.
func (s *Server) handle(perm auth.Permission, h handlerFunc) http.Handler {
	if perm == "" {
		return s.handleAll(nil, h)
	}
	return s.handleAll([]auth.Permission{perm}, h)
}

// handleAll is handle for routes that need several permissions, each
// checked on the resource the route's path names.
func (s *Server) handleAll(perms []auth.Permission, h handlerFunc) http.Handler {
	return s.handleNeeds(needs(perms...), h)
}

// handleNeeds is handle for routes whose resources are not (only) in the
// path: see need.
func (s *Server) handleNeeds(ns []need, h handlerFunc) http.Handler {
	return s.recoverPanic(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ar, err := s.authorize(r, ns...)
		if err == nil {
			err = h(w, ar)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}))
}

// writeError answers err as a problem, logging the errors that are the
// server's own fault.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p.Status >= 500 {
		cause := err
		if p.cause != nil {
			cause = p.cause
		}
		s.log.ErrorContext(r.Context(), "api: request failed", "method", r.Method, "path", r.URL.Path, "err", cause)
	}
	writeProblem(w, r, p)
}
