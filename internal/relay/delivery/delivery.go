// Package delivery is the relay's delivery engine: it keeps one consumer
// group per enabled route (relay.route.<route id>) on its dataset's topic,
// maps each record with the route's mapping and writes the rows into the
// route's table through the destination's sink. One sink per destination
// is shared by its routes.
//
// Guarantees. A record is committed in its consumer group only after its
// row is written (or it was filtered out, or dead-lettered), so nothing
// acknowledged by ingest is lost. Where the sink keeps the route's position
// in the destination (sink.ExactlyOnce), a redelivered batch is skipped by
// the sink, so no row is written twice even into an insert-only table;
// otherwise the route runs at-least-once (RouteStatus.Guarantee says
// which). Records the filter leaves out only advance the group's offset:
// delivering them again has no effect, so the destination's bookkeeping
// does not need them.
//
// Failures. A destination that fails with a transient error pauses only
// its own routes, which retry with exponential backoff (RetryBackoff
// doubling up to MaxBackoff, cut short when the heartbeat sees the
// destination up again); other routes and destinations go on. A record the
// destination rejects (sink.PermanentError, sink.ValueError) is isolated by
// splitting its batch, the records around it are written, and it is tried
// again on the next delivery until it has failed MaxAttempts times; it is
// then dead-lettered to <topic>.relay.route.<id>.dlq with consume's
// arus-dlq-* headers plus arus-relay-route and arus-relay-destination. A
// record that cannot be mapped (not JSON, key field missing) is
// dead-lettered at once. Dead letters replayed with the dlq tool arrive on
// <topic>.relay.route.<id>.retry, which every route also consumes.
//
// The heartbeat pings every destination each Heartbeat interval; up and
// down changes (seen by the heartbeat or by a write) are stored with
// relay.SetDestinationHealth, logged and counted.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/stream"
)

// Defaults of Config.
const (
	DefaultPollInterval = 5 * time.Second
	DefaultHeartbeat    = 10 * time.Second
	DefaultMaxBatch     = 500
	DefaultRetryBackoff = time.Second
	DefaultMaxBackoff   = 30 * time.Second
	DefaultMaxAttempts  = 3
)

// Config configures the engine.
type Config struct {
	// Relay holds the routes, datasets and destinations; required.
	Relay *relay.Relay
	// Broker is where datasets' topics are consumed and dead letters
	// produced; required.
	Broker stream.Broker
	// Open opens a destination with its password. Default
	// Relay.OpenDestination (the SQL sink of the destination's kind,
	// under the relay's rules for destinations).
	Open func(ctx context.Context, d relay.Destination, password string) (sink.Sink, error)
	// Log, when set, receives an entry per record and route: delivered,
	// skipped, failed or dead-lettered. Run it (deliverylog.Log.Run)
	// alongside the engine; a full log queue drops entries, never delays
	// delivery.
	Log *deliverylog.Log
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the delivery metrics; nil registers none.
	Registerer prometheus.Registerer
	// Member names this process in consumer groups. Default: host, pid
	// and a random suffix.
	Member string

	// PollInterval is how often the routes are read again from the
	// relay's store; route changes take effect within it. Default 5s.
	PollInterval time.Duration
	// Heartbeat is how often each destination is pinged. Default 10s.
	Heartbeat time.Duration
	// MaxBatch bounds the records of one batch. Default 500.
	MaxBatch int
	// RetryBackoff is the first wait after a failed batch; it doubles
	// on every transient failure in a row, up to MaxBackoff. Default 1s.
	RetryBackoff time.Duration
	// MaxBackoff bounds the wait between retries. Default 30s.
	MaxBackoff time.Duration
	// MaxAttempts is how many times a record that fails permanently is
	// tried before it is dead-lettered. Default 3.
	MaxAttempts int
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	switch {
	case c.Relay == nil:
		return errors.New("delivery: config Relay is nil")
	case c.Broker == nil:
		return errors.New("delivery: config Broker is nil")
	case c.PollInterval < 0, c.Heartbeat < 0, c.MaxBatch < 0, c.RetryBackoff < 0, c.MaxBackoff < 0, c.MaxAttempts < 0:
		return errors.New("delivery: intervals and limits must not be negative")
	}
	if c.Open == nil {
		r := c.Relay
		c.Open = func(ctx context.Context, d relay.Destination, password string) (sink.Sink, error) {
			s, err := r.OpenDestination(ctx, d, password)
			if err != nil {
				return nil, err
			}
			return s, nil
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Member == "" {
		c.Member = stream.DefaultMember()
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.RetryBackoff {
		c.MaxBackoff = c.RetryBackoff
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	return nil
}

// Engine delivers the records of every enabled route. Several processes
// may run an engine on the same relay store and broker: they share each
// route's partitions through its consumer group.
type Engine struct {
	cfg Config
	log *slog.Logger
	m   *metrics

	mu      sync.Mutex
	dests   map[string]*destination // by id
	workers map[string]*worker      // by route id
	broken  map[string]string       // route id → version that did not compile
	// gone holds the groups of deleted routes still to be deleted, with
	// the attempts so far: a group left behind would hold back retention
	// of its topic on the embedded and Redis backends.
	gone map[string]int
}

// New checks the configuration and returns an engine; Run starts it.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, log: cfg.Logger, m: m,
		dests: map[string]*destination{}, workers: map[string]*worker{}, broken: map[string]string{}, gone: map[string]int{}}, nil
}

// Group returns the consumer group of a route: relay.route.<id>.
func Group(routeID string) string { return "relay.route." + routeID }

// State of a route worker.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	// StatePaused: the destination failed transiently; the route retries
	// with backoff until it answers.
	StatePaused = "paused"
	// StateFailed: the route could not start (its table is missing, say);
	// it is tried again with backoff.
	StateFailed = "failed"
)

// RouteStatus is what the engine knows of a running route.
type RouteStatus struct {
	RouteID       string
	Route         string // the route's name
	DestinationID string
	// Group is the route's consumer group, relay.route.<id>.
	Group string
	// Guarantee is what the destination promised when the route was
	// prepared; zero until then.
	Guarantee sink.Guarantee
	State     string
	LastError string
	Since     time.Time
	// Lag is how many records of the dataset the route's group has not
	// committed, as of the last poll; -1 when unknown.
	Lag int64
}

// Status returns the status of each route this engine runs, by route id.
func (e *Engine) Status() map[string]RouteStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]RouteStatus, len(e.workers))
	for id, w := range e.workers {
		out[id] = w.status()
	}
	return out
}

// Run delivers until ctx is done, then stops the route workers (what they
// finished is committed) and closes the sinks. It re-reads the routes
// every PollInterval, starting workers for new and changed routes and
// stopping those of deleted or disabled ones.
func (e *Engine) Run(ctx context.Context) error {
	var hb sync.WaitGroup
	hb.Add(1)
	go func() {
		defer hb.Done()
		e.heartbeat(ctx)
	}()
	defer func() {
		hb.Wait()
		e.stopAll()
	}()
	t := time.NewTicker(e.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := e.sync(ctx); err != nil && ctx.Err() == nil {
			e.log.WarnContext(ctx, "relay: delivery: read routes", "err", err)
		}
		e.updateLag(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// spec is what a worker runs; version changes when any part does.
type spec struct {
	route   relay.Route
	dataset relay.Dataset
	version string
}

// sync brings the running workers in line with the relay's routes.
func (e *Engine) sync(ctx context.Context) error {
	routes, err := e.cfg.Relay.Routes(ctx)
	if err != nil {
		return err
	}
	dests, err := e.cfg.Relay.Destinations(ctx)
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, rt := range routes {
		exists[rt.ID] = true
	}
	destByID := map[string]relay.Destination{}
	for _, d := range dests {
		destByID[d.ID] = d
	}
	datasets := map[string]relay.Dataset{}
	want := map[string]spec{}
	for _, rt := range routes {
		d, ok := destByID[rt.Destination]
		if !rt.Enabled || !ok {
			continue
		}
		ds, ok := datasets[rt.Dataset]
		if !ok {
			if ds, err = e.cfg.Relay.Dataset(ctx, rt.Dataset); err != nil {
				if errors.Is(err, relay.ErrNotFound) {
					continue
				}
				return err
			}
			datasets[rt.Dataset] = ds
		}
		want[rt.ID] = spec{route: rt, dataset: ds, version: fmt.Sprintf("%d/%d/%d/%s",
			rt.UpdatedAt.UnixNano(), ds.UpdatedAt.UnixNano(), d.UpdatedAt.UnixNano(), ds.Topic)}
	}

	e.mu.Lock()
	var stop []*worker
	for id, w := range e.workers {
		s, ok := want[id]
		if !ok || s.version != w.spec.version || e.destChanged(destByID, w.dest) {
			stop = append(stop, w)
			delete(e.workers, id)
		}
	}
	e.mu.Unlock()
	for _, w := range stop {
		w.stop()
		e.log.InfoContext(ctx, "relay: delivery: route stopped", "route", w.spec.route.Name, "group", Group(w.spec.route.ID))
		if !exists[w.spec.route.ID] {
			e.gone[w.group] = 0
		}
	}
	e.forgetGroups(ctx)

	e.mu.Lock()
	defer e.mu.Unlock()
	for id, dst := range e.dests {
		if e.destChanged(destByID, dst) {
			delete(e.dests, id)
			dst.close()
		}
	}
	for _, d := range dests {
		if _, ok := e.dests[d.ID]; !ok {
			e.dests[d.ID] = e.newDestination(d)
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, ok := e.workers[id]; ok {
			continue
		}
		s := want[id]
		w, err := e.newWorker(s, e.dests[s.route.Destination])
		if err != nil {
			if e.broken[id] != s.version {
				e.broken[id] = s.version
				e.log.ErrorContext(ctx, "relay: delivery: route does not compile; it is not delivered until it is fixed",
					"route", s.route.Name, "err", err)
			}
			continue
		}
		delete(e.broken, id)
		e.workers[id] = w
		w.start(ctx)
		e.log.InfoContext(ctx, "relay: delivery: route started", "route", s.route.Name, "group", Group(id), "topic", s.dataset.Topic)
	}
	return nil
}

// maxGroupDeletes bounds the attempts to delete a deleted route's group
// (it fails while another process still consumes it).
const maxGroupDeletes = 20

// forgetGroups deletes the consumer groups of routes seen deleted.
func (e *Engine) forgetGroups(ctx context.Context) {
	for g, n := range e.gone {
		err := e.cfg.Broker.DeleteGroup(ctx, g)
		switch {
		case err == nil, errors.Is(err, stream.ErrGroupNotFound):
			delete(e.gone, g)
			e.log.InfoContext(ctx, "relay: delivery: group of a deleted route deleted", "group", g)
		case n+1 >= maxGroupDeletes:
			delete(e.gone, g)
			e.log.WarnContext(ctx, "relay: delivery: could not delete the group of a deleted route; delete it by hand",
				"group", g, "err", err)
		default:
			e.gone[g] = n + 1
		}
	}
}

// updateLag reads each running route's lag from its consumer group.
func (e *Engine) updateLag(ctx context.Context) {
	e.mu.Lock()
	workers := make([]*worker, 0, len(e.workers))
	for _, w := range e.workers {
		workers = append(workers, w)
	}
	e.mu.Unlock()
	for _, w := range workers {
		lag := int64(-1)
		if g, err := e.cfg.Broker.DescribeGroup(ctx, w.group); err == nil {
			lag = 0
			for _, o := range g.Offsets {
				if o.Topic == w.spec.dataset.Topic {
					lag += o.Lag
				}
			}
			e.m.lag.WithLabelValues(w.spec.route.Name).Set(float64(lag))
		}
		w.mu.Lock()
		w.st.Lag = lag
		w.mu.Unlock()
	}
}

// destChanged reports whether dst is gone or was edited since it was
// opened.
func (e *Engine) destChanged(now map[string]relay.Destination, dst *destination) bool {
	d, ok := now[dst.d.ID]
	return !ok || !d.UpdatedAt.Equal(dst.d.UpdatedAt)
}

func (e *Engine) stopAll() {
	e.mu.Lock()
	workers := e.workers
	e.workers = map[string]*worker{}
	e.mu.Unlock()
	for _, w := range workers {
		w.stop()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, d := range e.dests {
		d.close()
		delete(e.dests, id)
	}
}

// sleep waits d, or less when wake is closed; it reports false when ctx
// ended.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}
