package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

// DefaultGroup is the gate's consumer group.
const DefaultGroup = "gate"

// Run serves the gate's side of the suite until ctx ends: it answers the
// go-live saga's acl.server.create (preparing the event's server, or
// dropping it on compensation), grants and revokes access from
// ticketing.orders, grants and revokes staff passes from ticketing.staff
// (answering on acl.staff), publishes acl.access through its outbox, and keeps the
// access list projected. A consumer that stops because the broker went
// away starts again a second later.
func (s *Service) Run(ctx context.Context, b stream.Broker) error {
	if b == nil {
		return errors.New("gate: no broker")
	}
	inbox := s.inbox
	fwd, err := outbox.NewForwarder(s.outbox, b, outbox.ForwarderConfig{Logger: s.log})
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return fwd.Run(gctx) })
	g.Go(func() error { return inbox.Run(gctx) })
	g.Go(func() error { return s.RunProjection(gctx) })
	g.Go(func() error { s.pruneLoop(gctx); return nil })
	g.Go(func() error {
		return s.consume(gctx, b, DefaultGroup+".acl", []string{messages.TopicACLCreate}, func(ctx context.Context, r *stream.Record) error {
			return s.handleACL(ctx, b, r)
		})
	})
	g.Go(func() error {
		return s.consume(gctx, b, DefaultGroup+".orders", []string{messages.TopicOrders}, func(ctx context.Context, r *stream.Record) error {
			return s.handleOrder(ctx, inbox, r)
		})
	})
	g.Go(func() error {
		return s.consume(gctx, b, DefaultGroup+".staff", []string{messages.TopicStaff}, func(ctx context.Context, r *stream.Record) error {
			return s.handleStaff(ctx, inbox, r)
		})
	})
	err = g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// pruneLoop prunes the nonce answers past their retention at start and
// every hour until ctx ends.
func (s *Service) pruneLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.PruneNonces(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("gate: pruning nonce answers failed; trying again in an hour", "err", err)
		} else if n > 0 {
			s.log.Info("gate: pruned nonce answers past their retention", "deleted", n, "retention", s.nonceTTL)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) consume(ctx context.Context, b stream.Broker, group string, topics []string, h consume.Handler) error {
	chain, err := consume.Chain(consume.ChainConfig{Group: group, Producer: b, Logger: s.log})
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	for {
		rt, err := consume.New(b, consume.Config{Group: group, Topics: topics, Logger: s.log})
		if err != nil {
			return fmt.Errorf("gate: %w", err)
		}
		err = rt.Run(ctx, chain(h))
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("gate: consuming stopped; starting again", "group", group, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// handleACL answers one acl.server.create command or compensation. The
// answer is produced after the server's change committed; a command
// delivered twice is answered twice with the same key, and the saga
// applies the first answer.
func (s *Service) handleACL(ctx context.Context, b stream.Producer, r *stream.Record) error {
	var m messages.CreateACLServer
	if err := json.Unmarshal(r.Value, &m); err != nil {
		return consume.Permanent(fmt.Errorf("gate: %s: %w", r.Topic, err))
	}
	if saga.ID(r) == "" {
		return consume.Permanent(fmt.Errorf("gate: command for event %s carries no saga id", m.EventID))
	}
	answer := messages.ACLServerPrepared{Type: messages.TypeACLServerPrepared, EventID: m.EventID}
	var reply *stream.Record
	if saga.IsCompensation(r) {
		if err := s.DropServer(ctx, m.EventID); err != nil {
			return err
		}
		s.log.Info("gate: dropped the event's access-control server", "event_id", m.EventID, "saga_id", saga.ID(r))
		answer.OK = true
		reply = saga.Success(r, nil)
	} else {
		key, err := s.CreateServer(ctx, m)
		var fe *invalid.Fields
		switch {
		case errors.Is(err, ErrInvalid) && errors.As(err, &fe):
			answer.Reason = fe.Error()
			reply = saga.Failure(r, answer.Reason)
			s.log.Warn("gate: refused to prepare an access-control server", "event_id", m.EventID, "reason", answer.Reason)
		case err != nil:
			return err
		default:
			answer.OK, answer.PublicKey = true, key.PublicKey
			reply = saga.Success(r, nil)
			s.log.Info("gate: prepared the event's access-control server", "event_id", m.EventID, "saga_id", saga.ID(r), "key_id", key.KeyID)
		}
	}
	v, err := json.Marshal(answer)
	if err != nil {
		return err
	}
	reply.Value = v
	return b.Produce(ctx, reply)
}

// handleOrder grants or revokes access. The record's id is marked in the
// inbox in the transaction of the change, so a record delivered twice
// changes and publishes once.
func (s *Service) handleOrder(ctx context.Context, inbox *outbox.Inbox, r *stream.Record) error {
	first := func(tx *sql.Tx) (bool, error) {
		if r.ID() == "" {
			return true, nil
		}
		return inbox.Mark(ctx, tx, r.ID())
	}
	typ, err := messages.TypeOf(r.Value)
	if err != nil {
		return consume.Permanent(err)
	}
	switch typ {
	case messages.TypeTicketsIssued:
		var m messages.TicketsIssued
		if err := json.Unmarshal(r.Value, &m); err != nil {
			return consume.Permanent(fmt.Errorf("gate: %s: %w", typ, err))
		}
		_, err := s.issueTickets(ctx, m, first)
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) {
			return consume.Permanent(err)
		}
		return err
	case messages.TypeTicketsRevoked:
		var m messages.TicketsRevoked
		if err := json.Unmarshal(r.Value, &m); err != nil {
			return consume.Permanent(fmt.Errorf("gate: %s: %w", typ, err))
		}
		return s.revokeTickets(ctx, m, first)
	}
	return nil
}

// handleStaff applies a change of an event's staff. A change for an event
// whose server does not exist (yet, or any more) is kept, the latest per
// staff member, and applied when the server is prepared.
func (s *Service) handleStaff(ctx context.Context, inbox *outbox.Inbox, r *stream.Record) error {
	var m messages.StaffChanged
	if err := json.Unmarshal(r.Value, &m); err != nil {
		return consume.Permanent(fmt.Errorf("gate: %s: %w", r.Topic, err))
	}
	if m.Type != messages.TypeStaffAssigned && m.Type != messages.TypeStaffRemoved {
		return nil
	}
	_, err := s.changeStaff(ctx, m, func(tx *sql.Tx) (bool, error) {
		if r.ID() == "" {
			return true, nil
		}
		return inbox.Mark(ctx, tx, r.ID())
	})
	switch {
	case errors.Is(err, ErrNotFound):
		if err := s.keepPendingStaff(ctx, m, r.Value); err != nil {
			return err
		}
		// The server may have been prepared meanwhile, before the change
		// was kept: then apply it now.
		if _, err := s.liveServer(ctx, m.EventID); err == nil {
			return s.prepareStaff(ctx, m.EventID, nil)
		}
		return nil
	case errors.Is(err, ErrInvalid):
		return consume.Permanent(err)
	}
	return err
}
