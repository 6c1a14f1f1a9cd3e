package delivery

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/sink"
)

// destination is one destination database and its sink, shared by its
// routes, with the health the engine last saw.
type destination struct {
	e *Engine
	d relay.Destination
	// where names where the destination is, for the delivery log.
	where string

	mu     sync.Mutex // held while opening
	sink   sink.Sink
	closed bool

	hmu   sync.Mutex
	known bool // a state was observed
	up    bool
	wake  chan struct{}
	// next is when the heartbeat pings next; probe is the wait after a
	// failed ping (0 while up); pinging is set while a ping runs.
	next    time.Time
	probe   time.Duration
	pinging bool
}

func (e *Engine) newDestination(d relay.Destination) *destination {
	return &destination{e: e, d: d, where: hostOf(d), wake: make(chan struct{})}
}

// host names where the destination is, for the delivery log.
func (d *destination) host() string { return d.where }

func hostOf(d relay.Destination) string {
	switch {
	case d.Host != "" && d.Port != 0:
		return net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
	case d.Host != "":
		return d.Host
	case d.Kind == relay.KindSQLite:
		return d.Database
	}
	return ""
}

var errClosed = errors.New("delivery: destination closed")

// get returns the sink, opening it first when needed.
func (d *destination) get(ctx context.Context) (sink.Sink, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errClosed
	}
	if d.sink != nil {
		return d.sink, nil
	}
	pw, err := d.e.cfg.Relay.DestinationPassword(ctx, d.d.ID)
	if err != nil {
		return nil, err
	}
	s, err := d.e.cfg.Open(ctx, d.d, pw)
	if err != nil {
		return nil, err
	}
	d.sink = s
	return s, nil
}

func (d *destination) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.sink != nil {
		_ = d.sink.Close()
		d.sink = nil
	}
}

// waitUp returns a channel closed when the destination is next seen up.
func (d *destination) waitUp() <-chan struct{} {
	d.hmu.Lock()
	defer d.hmu.Unlock()
	return d.wake
}

// observe records what a ping or a write saw. A change of state is
// stored with relay.SetDestinationHealth, logged and counted; routes
// paused on the destination are woken when it comes up.
func (d *destination) observe(ctx context.Context, up bool, cause error) {
	d.hmu.Lock()
	changed := !d.known || d.up != up
	d.known, d.up = true, up
	if changed && up {
		close(d.wake)
		d.wake = make(chan struct{})
	}
	if !up && d.probe == 0 {
		// Seen down by a write: probe it soon rather than at the next
		// heartbeat.
		d.probe = d.e.cfg.Probe
		if next := time.Now().Add(d.probe); d.next.IsZero() || next.Before(d.next) {
			d.next = next
		}
	}
	d.hmu.Unlock()
	m := d.e.m
	if up {
		m.up.WithLabelValues(d.d.Name).Set(1)
	} else {
		m.up.WithLabelValues(d.d.Name).Set(0)
	}
	if !changed {
		return
	}
	msg, state := "", relay.HealthUp
	if !up {
		state = relay.HealthDown
		if cause != nil {
			msg = cause.Error()
		}
	}
	m.stateChanges.WithLabelValues(d.d.Name, state).Inc()
	if up {
		d.e.log.InfoContext(ctx, "relay: destination up", "dest", d.d.Name)
	} else {
		d.e.log.WarnContext(ctx, "relay: destination down", "dest", d.d.Name, "err", msg)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.e.cfg.Relay.SetDestinationHealth(sctx, d.d.ID, up, msg); err != nil {
		d.e.log.WarnContext(ctx, "relay: record destination health", "dest", d.d.Name, "err", err)
	}
}

// ping checks the destination, opening its sink when needed.
func (d *destination) ping(ctx context.Context) error {
	s, err := d.get(ctx)
	if err != nil {
		return err
	}
	return s.Ping(ctx)
}

// due reports whether the destination's next ping is due at now, and if
// so marks it as running: one ping at a time.
func (d *destination) due(now time.Time) bool {
	d.hmu.Lock()
	defer d.hmu.Unlock()
	if d.next.IsZero() {
		d.next = now.Add(d.e.cfg.Heartbeat)
	}
	if d.pinging || now.Before(d.next) {
		return false
	}
	d.pinging = true
	return true
}

// pinged schedules the next ping: a heartbeat later when the destination
// answered, else after the probe wait, doubled each time up to MaxProbe.
func (d *destination) pinged(ok bool) {
	d.hmu.Lock()
	defer d.hmu.Unlock()
	d.pinging = false
	if ok {
		d.probe = 0
		d.next = time.Now().Add(d.e.cfg.Heartbeat)
		return
	}
	if d.probe == 0 {
		d.probe = d.e.cfg.Probe
	} else {
		d.probe = min(2*d.probe, d.e.cfg.MaxProbe)
	}
	d.next = time.Now().Add(d.probe)
}

// heartbeat pings each destination when it is due (see due and pinged)
// until ctx is done.
func (e *Engine) heartbeat(ctx context.Context) {
	t := time.NewTicker(min(e.cfg.Probe, e.cfg.Heartbeat))
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		e.mu.Lock()
		dests := make([]*destination, 0, len(e.dests))
		for _, d := range e.dests {
			if d.due(now) {
				dests = append(dests, d)
			}
		}
		e.mu.Unlock()
		for _, d := range dests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pctx, cancel := context.WithTimeout(ctx, max(e.cfg.Heartbeat, 5*time.Second))
				defer cancel()
				err := d.ping(pctx)
				if ctx.Err() != nil || errors.Is(err, errClosed) {
					d.pinged(true)
					return
				}
				d.observe(ctx, err == nil, err)
				d.pinged(err == nil)
			}()
		}
	}
}
