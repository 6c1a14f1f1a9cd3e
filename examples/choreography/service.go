package main

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

//go:embed migrations
var migrations embed.FS

// service is what each of the three services owns: its own store (a SQLite
// file of its own in the data directory), an outbox and its forwarder for
// the events it publishes, an inbox that makes its handling idempotent, and
// a consumer runtime in its own consumer group.
type service struct {
	name   string
	db     *store.DB
	outbox *outbox.Outbox
	fwd    *outbox.Forwarder
	rt     *consume.Runtime
	chain  consume.Middleware
}

// openService opens the store of service name, applies its migrations
// (migrations/<name>) and prepares its consumer of topics.
func openService(ctx context.Context, b stream.Broker, dir, name string, topics []string, log *slog.Logger) (*service, error) {
	db, err := store.Open(ctx, store.Config{Dir: dir, Component: name})
	if err != nil {
		return nil, err
	}
	s := &service{name: name, db: db}
	if err := s.open(ctx, b, topics, log); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func (s *service) open(ctx context.Context, b stream.Broker, topics []string, log *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations/"+s.name)
	if err != nil {
		return err
	}
	if err := s.db.Migrate(ctx, sub); err != nil {
		return err
	}
	if s.outbox, err = outbox.Open(ctx, s.db, outbox.Config{}); err != nil {
		return err
	}
	if s.fwd, err = outbox.NewForwarder(s.outbox, b, outbox.ForwarderConfig{Logger: log}); err != nil {
		return err
	}
	inbox, err := outbox.OpenInbox(ctx, s.db, outbox.InboxConfig{Logger: log})
	if err != nil {
		return err
	}
	group := s.name + "-service"
	if s.rt, err = consume.New(b, consume.Config{Group: group, Topics: topics, RetryBackoff: 100 * time.Millisecond, Logger: log}); err != nil {
		return err
	}
	// Retries, then a dead letter; the inbox records each record's id in
	// the handler's transaction, which the handler finds in its context.
	s.chain, err = consume.Chain(consume.ChainConfig{
		Group:    group,
		Producer: b,
		Inbox:    inbox,
		Retry:    consume.RetryConfig{MaxAttempts: 3, Logger: log},
		Logger:   log,
	})
	return err
}

// run forwards the service's outbox and handles its records with h until
// ctx is done.
func (s *service) run(ctx context.Context, h consume.Handler) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.fwd.Run(ctx) })
	g.Go(func() error { return s.rt.Run(ctx, s.chain(h)) })
	if err := g.Wait(); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return nil
}

func (s *service) close() error { return s.db.Close() }

// inboxTx returns the transaction the inbox opened for the record being
// handled: the handler's changes and the events it publishes commit in it,
// together with the record's id, so a record delivered again has no second
// effect.
func inboxTx(ctx context.Context) (*sql.Tx, error) {
	tx, ok := outbox.TxFromContext(ctx)
	if !ok {
		return nil, consume.Permanent(errors.New("no inbox transaction in the handler's context"))
	}
	return tx, nil
}
