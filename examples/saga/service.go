package main

import (
	"context"
	"database/sql"
	"embed"
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

// participant is what each participant service owns: its store, an outbox
// and forwarder for its replies, and a consumer runtime in its own group.
//
// Participants need no inbox: they are idempotent by saga id. A command
// seen again (the orchestrator sends the waiting command again after a
// restart, with the same arus-id) finds the saga's row and is answered
// again with the same outcome, without acting twice; the orchestrator keeps
// the first answer. An inbox would drop the copy unanswered.
type participant struct {
	name   string
	db     *store.DB
	outbox *outbox.Outbox
	fwd    *outbox.Forwarder
	rt     *consume.Runtime
	chain  consume.Middleware
	out    *console
}

// decide is a participant's handling of one command or compensation inside
// its transaction: it returns the reply and a line for the console.
type decide func(ctx context.Context, tx *sql.Tx, r *stream.Record) (reply *stream.Record, say string, err error)

func openParticipant(ctx context.Context, b stream.Broker, dir, name, topic string, out *console, log *slog.Logger) (*participant, error) {
	db, err := store.Open(ctx, store.Config{Dir: dir, Component: name})
	if err != nil {
		return nil, err
	}
	p := &participant{name: name, db: db, out: out}
	if err := p.open(ctx, b, topic, log); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

func (p *participant) open(ctx context.Context, b stream.Broker, topic string, log *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations/"+p.name)
	if err != nil {
		return err
	}
	if err := p.db.Migrate(ctx, sub); err != nil {
		return err
	}
	if p.outbox, err = outbox.Open(ctx, p.db, outbox.Config{}); err != nil {
		return err
	}
	if p.fwd, err = outbox.NewForwarder(p.outbox, b, outbox.ForwarderConfig{Logger: log}); err != nil {
		return err
	}
	group := p.name + "-service"
	if p.rt, err = consume.New(b, consume.Config{Group: group, Topics: []string{topic}, RetryBackoff: 100 * time.Millisecond, Logger: log}); err != nil {
		return err
	}
	p.chain, err = consume.Chain(consume.ChainConfig{
		Group:    group,
		Producer: b,
		Retry:    consume.RetryConfig{MaxAttempts: 3, Logger: log},
		Logger:   log,
	})
	return err
}

// run forwards replies and handles commands with d until ctx is done. Each
// command's effect and its reply commit in one transaction: the reply goes
// out if and only if the effect happened.
func (p *participant) run(ctx context.Context, d decide) error {
	h := func(ctx context.Context, r *stream.Record) error {
		var say string
		err := p.db.InTx(ctx, func(tx *sql.Tx) error {
			reply, line, err := d(ctx, tx, r)
			if err != nil {
				return err
			}
			say = line
			return p.outbox.Write(ctx, tx, reply)
		})
		if err == nil && say != "" {
			p.out.say(p.name, "%s", say)
		}
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.fwd.Run(ctx) })
	g.Go(func() error { return p.rt.Run(ctx, p.chain(h)) })
	if err := g.Wait(); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

func (p *participant) close() error { return p.db.Close() }
