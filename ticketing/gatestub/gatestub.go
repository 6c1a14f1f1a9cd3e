// Package gatestub is a stand-in for the gate service in the go-live
// saga: it answers every acl.server.create command with
// ACLServerPrepared{OK: true, Stub: true}, and every compensation with a
// success, and does nothing else. No access-control server exists behind
// it: tickets are not checked at any gate. It logs this at start and with
// every answer, and the events it answers for say so (their go-live shows
// gate_stub). The real gate service replaces it.
//
// Told to refuse (Config.Refuse), it answers commands with a failure
// instead, so that the saga's compensation can be seen at work.
package gatestub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

// DefaultGroup is the stub's consumer group.
const DefaultGroup = "gate.stub"

// Config configures a [Stub].
type Config struct {
	// Group is the consumer group of acl.server.create. Default
	// "gate.stub".
	Group string
	// Refuse, when not empty, makes every command fail with this reason.
	Refuse string
	// Logger receives the stub's logs. Default slog.Default().
	Logger *slog.Logger
}

// Stub answers the go-live saga's gate step.
type Stub struct {
	b   stream.Broker
	cfg Config
}

// New returns a stub that consumes and answers through b.
func New(b stream.Broker, cfg Config) (*Stub, error) {
	if b == nil {
		return nil, errors.New("gatestub: no broker")
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if err := stream.ValidateGroupName(cfg.Group); err != nil {
		return nil, fmt.Errorf("gatestub: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Stub{b: b, cfg: cfg}, nil
}

// Run answers commands until ctx ends. Answers are produced directly: a
// command delivered twice is answered twice, and the saga orchestrator
// applies only the first answer. When consuming fails (the broker went
// away) it logs and starts again a second later.
func (s *Stub) Run(ctx context.Context) error {
	s.cfg.Logger.Warn("gate stub: answering acl.server.create with a stub acknowledgement; no access-control server exists and no ticket is checked at a gate")
	chain, err := consume.Chain(consume.ChainConfig{Group: s.cfg.Group, Producer: s.b, Logger: s.cfg.Logger})
	if err != nil {
		return err
	}
	for {
		rt, err := consume.New(s.b, consume.Config{Group: s.cfg.Group, Topics: []string{messages.TopicACLCreate}, Logger: s.cfg.Logger})
		if err != nil {
			return err
		}
		err = rt.Run(ctx, chain(s.handle))
		if ctx.Err() != nil {
			return nil
		}
		s.cfg.Logger.Warn("gate stub: consuming stopped; starting again", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (s *Stub) handle(ctx context.Context, r *stream.Record) error {
	var m messages.CreateACLServer
	if err := json.Unmarshal(r.Value, &m); err != nil {
		return consume.Permanent(fmt.Errorf("gatestub: %s: %w", r.Topic, err))
	}
	if saga.ID(r) == "" {
		return consume.Permanent(fmt.Errorf("gatestub: command for event %s carries no saga id", m.EventID))
	}
	answer := messages.ACLServerPrepared{Type: messages.TypeACLServerPrepared, EventID: m.EventID, OK: true, Stub: true}
	var reply *stream.Record
	switch {
	case saga.IsCompensation(r):
		s.cfg.Logger.Info("gate stub: nothing to drop for the event; acknowledged", "event_id", m.EventID, "saga_id", saga.ID(r))
		reply = saga.Success(r, nil)
	case s.cfg.Refuse != "":
		answer.OK, answer.Reason = false, s.cfg.Refuse
		s.cfg.Logger.Warn("gate stub: refusing as told", "event_id", m.EventID, "saga_id", saga.ID(r), "reason", s.cfg.Refuse)
		reply = saga.Failure(r, s.cfg.Refuse)
	default:
		s.cfg.Logger.Warn("gate stub: acknowledged the event's access-control server without preparing one", "event_id", m.EventID, "saga_id", saga.ID(r))
		reply = saga.Success(r, nil)
	}
	b, err := json.Marshal(answer)
	if err != nil {
		return err
	}
	reply.Value = b
	return s.b.Produce(ctx, reply)
}
