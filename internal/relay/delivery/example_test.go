package delivery_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/delivery"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// Example wires the delivery engine and its log into a process: the log
// in its own store, both running until ctx ends.
func Example() {
	ctx := context.Background()
	var (
		rl     *relay.Relay  // relay.New(ctx, relay.Config{...})
		broker stream.Broker // the process's broker
		reg    = prometheus.NewRegistry()
		logger = slog.Default()
	)
	db, err := store.Open(ctx, store.Config{Dir: "/var/lib/arus", Component: "relay_log"})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	dlog, err := deliverylog.New(ctx, deliverylog.Config{DB: db, Retention: 14 * 24 * time.Hour, Registerer: reg, Logger: logger})
	if err != nil {
		panic(err)
	}
	eng, err := delivery.New(delivery.Config{Relay: rl, Broker: broker, Log: dlog, Registerer: reg, Logger: logger})
	if err != nil {
		panic(err)
	}
	// The log stops after the engine, so that it writes the engine's last
	// entries.
	logCtx, stopLog := context.WithCancel(context.WithoutCancel(ctx))
	var g errgroup.Group
	g.Go(func() error { return dlog.Run(logCtx) })
	g.Go(func() error {
		defer stopLog()
		return eng.Run(ctx)
	})
	_ = g.Wait()
}
