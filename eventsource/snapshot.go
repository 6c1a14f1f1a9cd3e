package eventsource

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Snapshot is the state of a stream folded up to Version, saved so that
// loading it reads only the events after it.
type Snapshot struct {
	StreamID string
	Version  int64
	// Data is the state, as JSON the caller chose. When the state's shape
	// changes, [Store.DeleteSnapshots] drops snapshots of the old shape;
	// the events remain the truth.
	Data json.RawMessage
	Time time.Time
}

// SaveSnapshot stores a stream's snapshot. A stream keeps its latest
// snapshot only: one at a lower version than the stored one is ignored.
func (s *Store) SaveSnapshot(ctx context.Context, snap Snapshot) error {
	if snap.StreamID == "" {
		return errors.New("eventsource: save snapshot: stream id is empty")
	}
	if snap.Version < 1 {
		return fmt.Errorf("eventsource: save snapshot of %q: version %d: must be at least 1", snap.StreamID, snap.Version)
	}
	if !json.Valid(snap.Data) {
		return fmt.Errorf("eventsource: save snapshot of %q: data is not valid JSON", snap.StreamID)
	}
	if snap.Time.IsZero() {
		snap.Time = time.Now()
	}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO `+s.snapshots+` (stream_id, version, data, time_ns) VALUES (?, ?, ?, ?)
		ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, data = excluded.data, time_ns = excluded.time_ns
		WHERE excluded.version > `+s.snapshots+`.version`),
		snap.StreamID, snap.Version, string(snap.Data), snap.Time.UnixNano())
	if err != nil {
		return fmt.Errorf("eventsource: save snapshot of %q: %w", snap.StreamID, err)
	}
	return nil
}

// LoadSnapshot returns the latest snapshot of a stream and the events after
// it. ok is false when the stream has no snapshot; events then holds the
// whole stream.
func (s *Store) LoadSnapshot(ctx context.Context, streamID string) (snap Snapshot, events []Event, ok bool, err error) {
	var data string
	var timeNS int64
	err = s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT version, data, time_ns FROM `+s.snapshots+` WHERE stream_id = ?`),
		streamID).Scan(&snap.Version, &data, &timeNS)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		events, err = s.Load(ctx, streamID, 0)
		return Snapshot{}, events, false, err
	case err != nil:
		return Snapshot{}, nil, false, fmt.Errorf("eventsource: load snapshot of %q: %w", streamID, err)
	}
	snap.StreamID, snap.Data, snap.Time = streamID, json.RawMessage(data), time.Unix(0, timeNS)
	events, err = s.Load(ctx, streamID, snap.Version)
	if err != nil {
		return Snapshot{}, nil, false, err
	}
	return snap, events, true, nil
}

// DeleteSnapshots removes every snapshot of the store, for when the shape
// of the state they hold has changed.
func (s *Store) DeleteSnapshots(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM `+s.snapshots); err != nil {
		return fmt.Errorf("eventsource: delete snapshots: %w", err)
	}
	return nil
}
