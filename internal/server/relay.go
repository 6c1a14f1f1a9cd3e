package server

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/store"
)

// openRelay opens the relay's store and adds its ingest endpoint and admin
// API to the mux.
func (s *Server) openRelay(ctx context.Context, mux *http.ServeMux, reg prometheus.Registerer) error {
	db, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "relay"})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, db.Close)
	s.relay, err = relay.New(ctx, relay.Config{
		DB: db, Auth: s.auth, Secrets: s.box, Producer: s.broker, Tester: s.destinationTester,
		Logger: s.log, Registerer: reg, Partitions: s.cfg.Stream.DefaultPartitions,
	})
	if err != nil {
		return err
	}
	s.ready["relay store"] = s.relay.Ping
	relay.Register(s.streams, mux, s.relay)
	return nil
}
