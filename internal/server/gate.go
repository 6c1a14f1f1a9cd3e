package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/arus-platform/arus/internal/gateapi"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

// openGate opens the gate access-control service on its own store and
// adds its routes. While it runs, it answers the go-live saga's
// acl.server.create; the gate stub runs only when this component is off.
func (s *Server) openGate(ctx context.Context, mux *http.ServeMux) error {
	db, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "gate"})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, db.Close)
	s.gate, err = gate.Open(ctx, gate.Config{DB: db, Logger: s.log, Secrets: s.box})
	if err != nil {
		return err
	}
	parts := s.cfg.Stream.DefaultPartitions
	if parts < 1 {
		parts = 1
	}
	for _, t := range messages.Topics {
		err := s.broker.CreateTopic(ctx, stream.Topic{Name: t, Partitions: parts})
		if err != nil && !errors.Is(err, stream.ErrTopicExists) {
			return fmt.Errorf("gate: create topic %s: %w", t, err)
		}
	}
	s.ready["gate store"] = db.PingContext
	gateapi.Register(s.streams, mux, s.gate, s.auth, s.merchantScope)
	return nil
}
