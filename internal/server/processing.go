package server

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/dlqapi"
	"github.com/arus-platform/arus/internal/sagaapi"
	"github.com/arus-platform/arus/internal/schemaapi"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing"
)

// openProcessing adds the reliable-processing tools to the API: dead
// letters (list, inspect, replay, discard), the saga orchestrator, whose
// instances the API lists (sagas themselves are defined by the services
// that run them), and the schema registry.
func (s *Server) openProcessing(ctx context.Context, mux *http.ServeMux, reg prometheus.Registerer) error {
	dm, err := dlq.New(s.broker, dlq.Config{Logger: s.log})
	if err != nil {
		return err
	}
	dlqapi.Register(s.streams, mux, dm)
	s.dlq = dm

	var defs []saga.Definition
	if s.cfg.runs("ticketing") {
		defs = append(defs, ticketing.GoLive)
	}
	s.sagas, err = saga.New(ctx, saga.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "sagas", Registerer: reg, Logger: s.log}, s.broker, defs...)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, s.sagas.Close)
	s.ready["saga store"] = s.sagas.Ping
	sagaapi.Register(s.streams, mux, s.sagas)

	db, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "schema"})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, db.Close)
	metrics, err := schema.NewMetrics(reg)
	if err != nil {
		return err
	}
	registry, err := schema.Open(ctx, db, schema.Config{Metrics: metrics})
	if err != nil {
		return err
	}
	s.ready["schema store"] = db.PingContext
	schemaapi.Register(s.streams, mux, registry)
	s.schemas = registry
	return nil
}
