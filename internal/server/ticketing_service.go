package server

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/ticketingapi"
	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/messages"
)

// openTicketingService opens the ticketing service's stores (its own, and its
// inventory's), creates the suite's topics and adds the ticketing API. The
// go-live saga runs on the server's orchestrator (openProcessing defines
// it when the component runs).
func (s *Server) openTicketingService(ctx context.Context, mux *http.ServeMux, reg prometheus.Registerer) error {
	db, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "ticketing"})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, db.Close)
	invDB, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "ticketing_inventory"})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, invDB.Close)
	if err := ticketing.CreateTopics(ctx, s.broker, int(s.cfg.Stream.DefaultPartitions)); err != nil {
		return err
	}
	s.ticketing, err = ticketing.Open(ctx, ticketing.Config{DB: db, InventoryDB: invDB, Broker: s.broker, Sagas: s.sagas, Logger: s.log,
		WaitroomKey: s.waitroomKey, Registerer: reg})
	if err != nil {
		return err
	}
	s.ready["ticketing store"] = db.PingContext
	s.ready["ticketing inventory store"] = invDB.PingContext
	ticketingapi.Register(s.streams, mux, s.ticketing, s.auth)
	s.registerTicketingSchemas(ctx)
	return nil
}

// registerTicketingSchemas registers the JSON Schema of every ticketing
// topic's values (subject <topic>-value). A subject that already holds
// another, incompatible version keeps it, with a warning.
func (s *Server) registerTicketingSchemas(ctx context.Context) {
	for topic, doc := range messages.Schemas() {
		if _, _, err := s.schemas.Register(ctx, schema.TopicValue(topic), doc); err != nil {
			s.log.Warn("ticketing: the schema of a topic was not registered", "topic", topic, "err", err)
		}
	}
}
