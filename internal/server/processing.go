package server

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/saga"
)

// openProcessing adds the reliable-processing tools to the API: dead
// letters (list, inspect, replay, discard) and the saga orchestrator, whose
// instances the API lists. Sagas themselves are defined by the services
// that run them.
func (s *Server) openProcessing(ctx context.Context, mux *http.ServeMux, reg prometheus.Registerer) error {
	dm, err := dlq.New(s.broker, dlq.Config{Logger: s.log})
	if err != nil {
		return err
	}
	dlq.Register(s.streams, mux, dm)

	s.sagas, err = saga.New(ctx, saga.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "sagas", Registerer: reg, Logger: s.log}, s.broker)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, s.sagas.Close)
	s.ready["saga store"] = s.sagas.Ping
	saga.Register(s.streams, mux, s.sagas)
	return nil
}
