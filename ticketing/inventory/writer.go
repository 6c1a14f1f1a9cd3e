package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/arus-platform/arus/eventsource"
)

// writeTimeout bounds the write of one batch, which runs for every request
// in it and so does not end with the context of the request that writes it.
const writeTimeout = 30 * time.Second

// writer is the one writer of an area in this process. Requests queue;
// the request that takes mu writes every queued request in one batch, and
// the others find theirs done when they get mu.
type writer struct {
	mu      chanMutex
	loaded  bool
	state   *area
	version int64

	queue chan *request
}

// chanMutex is a mutex that a waiter can give up on when its context
// ends.
type chanMutex chan struct{}

func (m chanMutex) lock(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m chanMutex) unlock() { <-m }

// request is one decision waiting for its area's writer.
type request struct {
	decide func(a *area, now time.Time) ([]eventsource.Event, error)
	// cancelled reports whether the caller stopped waiting.
	cancelled func() error
	done      chan struct{}
	err       error
}

// queueSize bounds the requests waiting for one area in this process;
// more wait to enter the queue.
const queueSize = 4 * maxBatch

func (inv *Inventory) writer(id AreaID) *writer {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	w, ok := inv.writers[id]
	if !ok {
		w = &writer{mu: make(chanMutex, 1), queue: make(chan *request, queueSize)}
		inv.writers[id] = w
	}
	return w
}

// do runs decide on the area's current state and appends the events it
// returns, together with those of other requests waiting for the area. A
// decide function must only read the state; it runs again, on the new
// state, when another process wrote the area first.
func (inv *Inventory) do(ctx context.Context, id AreaID, decide func(a *area, now time.Time) ([]eventsource.Event, error)) error {
	if err := id.Validate(); err != nil {
		return err
	}
	w := inv.writer(id)
	req := &request{decide: decide, cancelled: ctx.Err, done: make(chan struct{})}
	select {
	case w.queue <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		select {
		case <-req.done:
			return req.err
		default:
		}
		if err := w.mu.lock(ctx); err != nil {
			// Still queued: a writer will see it cancelled.
			return err
		}
		select {
		case <-req.done:
			w.mu.unlock()
			return req.err
		default:
		}
		batch := make([]*request, 0, min(len(w.queue), maxBatch))
	take:
		for len(batch) < maxBatch {
			select {
			case r := <-w.queue:
				batch = append(batch, r)
			default:
				break take
			}
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		inv.write(wctx, id, w, batch)
		cancel()
		w.mu.unlock()
	}
}

// write decides every request of batch in turn on the area's state, each
// seeing the events of those before it, and appends all their events at
// the state's version in one transaction. On a version conflict it loads
// the area and decides all again, up to MaxAttempts times.
func (inv *Inventory) write(ctx context.Context, id AreaID, w *writer, batch []*request) {
	finish := func(err error) {
		for _, r := range batch {
			if err != nil {
				r.err = err
			}
			close(r.done)
		}
	}
	for attempt := 1; ; attempt++ {
		if !w.loaded {
			if err := inv.catchUp(ctx, id, w); err != nil {
				finish(err)
				return
			}
		}
		now := inv.cfg.Now()
		base := w.version
		var events []eventsource.Event
		for _, r := range batch {
			r.err = r.cancelled()
			if r.err != nil {
				continue
			}
			evs, err := r.decide(w.state, now)
			if err != nil {
				r.err = err
				continue
			}
			for _, e := range evs {
				if err := w.state.apply(e); err != nil {
					w.loaded = false
					finish(fmt.Errorf("inventory: %s: %w", id, err))
					return
				}
			}
			events = append(events, evs...)
		}
		if len(events) == 0 {
			finish(nil)
			return
		}
		appended, err := inv.append(ctx, id, base, events)
		if err == nil {
			w.version = appended[len(appended)-1].Version
			inv.maybeSnapshot(ctx, id, w, base)
			finish(nil)
			return
		}
		// The state holds events that were not appended: load it again.
		w.loaded = false
		if !errors.Is(err, eventsource.ErrConflict) {
			finish(fmt.Errorf("inventory: %s: %w", id, err))
			return
		}
		if attempt >= inv.cfg.MaxAttempts {
			finish(fmt.Errorf("%w: %s was written by others %d times in a row: %w", ErrBusy, id, attempt, err))
			return
		}
	}
}

func (inv *Inventory) append(ctx context.Context, id AreaID, expected int64, events []eventsource.Event) ([]eventsource.Event, error) {
	if inv.cfg.Outbox != nil {
		return inv.es.AppendPublish(ctx, inv.cfg.Outbox, inv.cfg.Topic, id.stream(), expected, events...)
	}
	return inv.es.Append(ctx, id.stream(), expected, events...)
}

// catchUp loads the area (from its snapshot) when it is not loaded, and
// otherwise applies the events other processes appended since.
func (inv *Inventory) catchUp(ctx context.Context, id AreaID, w *writer) error {
	if !w.loaded {
		state, version, err := inv.agg.Load(ctx, id.stream())
		if err != nil {
			return fmt.Errorf("inventory: load %s: %w", id, err)
		}
		w.state, w.version, w.loaded = state, version, true
		return nil
	}
	events, err := inv.es.Load(ctx, id.stream(), w.version)
	if err != nil {
		return fmt.Errorf("inventory: load %s: %w", id, err)
	}
	for _, e := range events {
		if err := w.state.apply(e); err != nil {
			w.loaded = false
			return fmt.Errorf("inventory: %s v%d: %w", id, e.Version, err)
		}
		w.version = e.Version
	}
	return nil
}

// maybeSnapshot saves the area's state when the last append crossed a
// multiple of SnapshotEvery. A failed save only loses a shortcut.
func (inv *Inventory) maybeSnapshot(ctx context.Context, id AreaID, w *writer, from int64) {
	every := inv.cfg.SnapshotEvery
	if w.version/every == from/every {
		return
	}
	data, err := json.Marshal(w.state)
	if err != nil {
		return
	}
	_ = inv.es.SaveSnapshot(ctx, eventsource.Snapshot{StreamID: id.stream(), Version: w.version, Data: data})
}
