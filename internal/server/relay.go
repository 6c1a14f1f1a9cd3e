package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/delivery"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
	"github.com/arus-platform/arus/store"
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
		DB: db, Auth: s.auth, Secrets: s.box, Producer: s.broker,
		Logger: s.log, Registerer: reg, Partitions: s.cfg.Stream.DefaultPartitions,
		SQLiteDir: s.cfg.RelaySQLiteDir, AllowHosts: s.cfg.RelayAllowHosts,
		Reserved: []string{s.cfg.Data, s.cfg.TLSCert, s.cfg.TLSKey, s.cfg.ClientCA},
	})
	if err != nil {
		return err
	}
	s.ready["relay store"] = s.relay.Ping
	relay.Register(s.streams, mux, s.relay)

	logDB, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "relay_log"})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, logDB.Close)
	// A deep queue and large batches: catching up after an outage delivers
	// tens of thousands of rows a second across routes, and the log must
	// keep up rather than drop entries.
	if s.deliveryLog, err = deliverylog.New(ctx, deliverylog.Config{DB: logDB, QueueSize: 200_000, BatchSize: 5000,
		Logger: s.log, Registerer: reg}); err != nil {
		return err
	}
	s.ready["delivery log store"] = logDB.PingContext
	s.delivery, err = delivery.New(delivery.Config{Relay: s.relay, Broker: s.broker, Log: s.deliveryLog, Logger: s.log, Registerer: reg})
	if err != nil {
		return err
	}
	s.registerDeliveries(mux)
	return nil
}

// runRelay runs the delivery engine and the delivery log's writer until
// ctx ends; the log is flushed after the engine stopped.
func (s *Server) runRelay(ctx context.Context) error {
	logCtx, stopLog := context.WithCancel(context.WithoutCancel(ctx))
	logDone := make(chan error, 1)
	go func() { logDone <- s.deliveryLog.Run(logCtx) }()
	err := s.delivery.Run(ctx)
	stopLog()
	if lerr := <-logDone; lerr != nil && !errors.Is(lerr, context.Canceled) {
		err = errors.Join(err, lerr)
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// datasetOf names the relay dataset whose topic topic is: a dataset's own
// topic, or any topic under relay., the prefix of every dataset's default
// topic, which is kept for datasets even in a process that does not run
// the relay. "" for any other topic.
func (s *Server) datasetOf(ctx context.Context, topic string) (string, error) {
	if s.relay != nil {
		datasets, err := s.relay.Datasets(ctx)
		if err != nil {
			return "", err
		}
		for _, d := range datasets {
			if d.Topic == topic {
				return d.Name, nil
			}
		}
	}
	if name, ok := strings.CutPrefix(topic, "relay."); ok && name != "" {
		return name, nil
	}
	return "", nil
}
