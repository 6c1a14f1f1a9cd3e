package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/backbone"
	"github.com/arus-platform/arus/internal/obs"
	"github.com/arus-platform/arus/stream"
)

// components are the parts of the platform that --components can switch
// on, in start order.
var components = []string{"backbone", "relay", "ticketing", "gate", "payment", "notify", "console"}

// built are the components this build runs; the others are accepted so
// deployments can name them already, and are reported as not built.
var built = []string{"backbone"}

func runServe(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "serve", "arus serve [flags]", `
Runs the platform in one process: the stream backbone (the embedded log in
--data, or Kafka or Redis with --broker) and its HTTP API under /api/v1, with
/healthz and /readyz. On SIGINT or SIGTERM it stops accepting requests, drains
those in flight and the consumers streaming over HTTP, commits and closes the
broker, and exits 0.`)
	f.String("config", "", "settings `file`: one name = value per line, names as the flags without --")
	data := f.String("data", "./arus-data", "data `dir`ectory: the embedded log and the SQLite stores")
	listen := f.String("listen", ":8080", "`address` to serve HTTP on")
	brokerURL := f.String("broker", "embedded", "stream backend `URL`: "+backbone.Forms)
	db := f.String("db", "", "store `DSN`: SQLite files in the data directory by default, or postgres://...")
	comps := f.String("components", "all", "comma-separated `list` of components to run: all or "+strings.Join(components, ", "))
	strict := f.Bool("strict", false, "do not create unknown topics on first produce or consume")
	partitions := f.Int("default-partitions", 4, "partition `count` of topics created on first use or without a count")
	maxRecord := f.Int("max-record-bytes", stream.DefaultMaxRecordBytes, "largest record accepted, in `bytes` (key, value and headers)")
	maxBody := f.Int64("max-body-bytes", 32<<20, "largest HTTP request body, in `bytes`")
	logLevel := f.String("log-level", "info", "log `level`: debug, info, warn or error")
	logFormat := f.String("log-format", "text", "log `format`: text or json")
	drain := f.Duration("shutdown-timeout", 30*time.Second, "how long shutdown waits for requests and consumers to drain")
	f.allEnv = true
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return f.fail("unexpected argument %q", rest[0])
	}
	run, err := parseComponents(*comps)
	if err != nil {
		return f.fail("--components: %v", err)
	}
	if _, err := backbone.Parse(*brokerURL); err != nil {
		return f.fail("--broker: %v", err)
	}
	if *partitions < 1 || *partitions > stream.MaxPartitions {
		return f.fail("--default-partitions %d is out of range; use 1 to %d", *partitions, stream.MaxPartitions)
	}
	if *maxRecord < 1 {
		return f.fail("--max-record-bytes %d: use a positive size", *maxRecord)
	}
	if *maxBody < 1 {
		return f.fail("--max-body-bytes %d: use a positive size", *maxBody)
	}
	if *drain < 0 {
		return f.fail("--shutdown-timeout %s is negative", *drain)
	}
	log, err := obs.NewLogger(e.stderr, *logFormat, *logLevel)
	if err != nil {
		return f.fail("%v", err)
	}

	started := time.Now()
	kind, _ := backbone.Parse(*brokerURL)
	if kind == backbone.Embedded {
		if err := os.MkdirAll(*data, 0o750); err != nil {
			return fmt.Errorf("serve: create data directory: %w", err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %q: %w", *listen, err)
	}
	defer ln.Close()
	// Options not set leave the broker URL's or the backend's default.
	opts := stream.Options{Strict: *strict, Logger: log}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["default-partitions"] {
		opts.DefaultPartitions = int32(*partitions)
	}
	if set["max-record-bytes"] {
		opts.MaxRecordBytes = *maxRecord
	}
	broker, err := backbone.Open(ctx, *brokerURL, *data, opts)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer func() {
		if broker != nil {
			_ = broker.Close()
		}
	}()

	mux := http.NewServeMux()
	var streams *api.Server
	if slices.Contains(run, "backbone") {
		streams, err = api.New(broker, api.Config{Logger: log, MaxBodyBytes: *maxBody, DefaultPartitions: int32(*partitions)})
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		mux.Handle("/", streams.Handler())
	}
	var missing []string
	for _, c := range run {
		if !slices.Contains(built, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		level := slog.LevelWarn
		if strings.TrimSpace(*comps) == "all" {
			level = slog.LevelInfo
		}
		log.Log(ctx, level, "components not part of this build yet; not started", "components", strings.Join(missing, ","))
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if streams != nil {
		srv.RegisterOnShutdown(streams.CloseStreams)
	}
	log.Info("arus listening", "addr", ln.Addr().String(), "broker", string(kind), "data", *data,
		"components", strings.Join(slices.DeleteFunc(slices.Clone(run), func(c string) bool { return slices.Contains(missing, c) }), ","), "db", dbKind(*db), "startup", time.Since(started).Round(time.Millisecond))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down: draining requests and consumers", "timeout", *drain)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *drain)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("requests still running after the shutdown timeout; closing their connections", "err", err)
			_ = srv.Close()
		}
		return nil
	})
	err = g.Wait()
	cerr := broker.Close()
	broker = nil
	if cerr != nil {
		cerr = fmt.Errorf("serve: close broker: %w", cerr)
	}
	log.Info("stopped")
	return errors.Join(err, cerr)
}

// parseComponents checks a --components list.
func parseComponents(list string) ([]string, error) {
	if strings.TrimSpace(list) == "all" {
		return components, nil
	}
	var out []string
	for _, c := range strings.Split(list, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !slices.Contains(components, c) {
			return nil, fmt.Errorf("unknown component %q; use all or a list of %s", c, strings.Join(components, ", "))
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no components in %q; use all or a list of %s", list, strings.Join(components, ", "))
	}
	return out, nil
}

// dbKind names the store a DSN selects without showing its credentials.
func dbKind(dsn string) string {
	if dsn == "" {
		return "sqlite (data directory)"
	}
	if scheme, _, ok := strings.Cut(dsn, "://"); ok {
		return scheme
	}
	return "sqlite"
}
