package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// DefaultMaxAttempts is the default of [Aggregate.MaxAttempts].
const DefaultMaxAttempts = 10

// Aggregate loads streams whose state is S, and runs decisions on them with
// optimistic concurrency: load, decide, append at the loaded version, and
// on a conflict load and decide again.
type Aggregate[S any] struct {
	Store *Store
	// New returns the state of a stream without events.
	New func() S
	// Apply folds one event into the state.
	Apply func(state S, e Event) (S, error)
	// SnapshotEvery, when above 0, saves the state as a snapshot (S
	// encoded with encoding/json) after an append that reaches or passes a
	// multiple of it, and Load starts from the latest snapshot. S must then
	// round-trip through encoding/json.
	SnapshotEvery int64
	// MaxAttempts bounds the tries of Update when appends conflict.
	// Default 10.
	MaxAttempts int
}

// Load returns a stream's state and version.
func (a *Aggregate[S]) Load(ctx context.Context, streamID string) (S, int64, error) {
	state := a.New()
	var (
		version int64
		events  []Event
		err     error
	)
	if a.SnapshotEvery > 0 {
		var snap Snapshot
		var ok bool
		snap, events, ok, err = a.Store.LoadSnapshot(ctx, streamID)
		if err != nil {
			return state, 0, err
		}
		if ok {
			if err := json.Unmarshal(snap.Data, &state); err != nil {
				return a.New(), 0, fmt.Errorf("eventsource: snapshot of %q at version %d: %w", streamID, snap.Version, err)
			}
			version = snap.Version
		}
	} else if events, err = a.Store.Load(ctx, streamID, 0); err != nil {
		return state, 0, err
	}
	for _, e := range events {
		if state, err = a.Apply(state, e); err != nil {
			return state, 0, fmt.Errorf("eventsource: apply %s v%d (%s): %w", streamID, e.Version, e.Type, err)
		}
		version = e.Version
	}
	return state, version, nil
}

// Update loads a stream, asks decide for the events to append given its
// state and version, and appends them at that version. On a version
// conflict it starts again, up to MaxAttempts times, then returns the last
// [*ConflictError]. decide must have no effect besides its result: it may
// run several times. When decide returns no events and no error, nothing
// is appended. Update returns the appended events.
func (a *Aggregate[S]) Update(ctx context.Context, streamID string, decide func(state S, version int64) ([]Event, error)) ([]Event, error) {
	attempts := a.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	var lastErr error
	for range attempts {
		state, version, err := a.Load(ctx, streamID)
		if err != nil {
			return nil, err
		}
		events, err := decide(state, version)
		if err != nil || len(events) == 0 {
			return nil, err
		}
		out, err := a.Store.Append(ctx, streamID, version, events...)
		if errors.Is(err, ErrConflict) {
			lastErr = err
			continue
		}
		if err != nil {
			return nil, err
		}
		a.maybeSnapshot(ctx, streamID, state, version, out)
		return out, nil
	}
	return nil, fmt.Errorf("eventsource: update %q: gave up after %d attempts: %w", streamID, attempts, lastErr)
}

// maybeSnapshot saves a snapshot when the append crossed a multiple of
// SnapshotEvery. A snapshot that fails to save is only a lost shortcut.
func (a *Aggregate[S]) maybeSnapshot(ctx context.Context, streamID string, state S, from int64, appended []Event) {
	if a.SnapshotEvery <= 0 || len(appended) == 0 {
		return
	}
	to := appended[len(appended)-1].Version
	if to/a.SnapshotEvery == from/a.SnapshotEvery {
		return
	}
	var err error
	for _, e := range appended {
		if state, err = a.Apply(state, e); err != nil {
			return
		}
	}
	data, err := json.Marshal(state)
	if err != nil {
		return
	}
	_ = a.Store.SaveSnapshot(ctx, Snapshot{StreamID: streamID, Version: to, Data: data})
}
