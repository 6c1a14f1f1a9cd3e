package eventsource

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/arus-platform/arus/store"
)

// DefaultProjectionBatch is the default of [Projection.BatchSize].
const DefaultProjectionBatch = 500

// Projection builds a read model from every stream of a store, in the
// store's database. Its checkpoint, the position of the last event it
// handled, is stored in the same transaction as its handlers' writes, so a
// crash never loses or doubles an event's effect on the read model.
type Projection struct {
	// Name identifies the projection and its checkpoint: 1 to 100 bytes.
	Name string
	// Handle applies one event to the read model inside tx. Events come in
	// position order, each once. An error rolls back the batch, the
	// checkpoint included; the batch is tried again later.
	Handle func(ctx context.Context, tx *sql.Tx, e Event) error
	// Reset empties the read model inside tx before [Store.Rebuild]
	// replays every event. Required by Rebuild only.
	Reset func(ctx context.Context, tx *sql.Tx) error
	// BatchSize is the most events handled in one transaction. Default 500.
	BatchSize int
	// Logger receives failures of [Store.RunProjection]. Default: discard.
	Logger *slog.Logger
}

func (p *Projection) validate() error {
	if p.Name == "" || len(p.Name) > 100 {
		return fmt.Errorf("eventsource: projection name %q: use 1 to 100 bytes", p.Name)
	}
	if p.Handle == nil {
		return fmt.Errorf("eventsource: projection %s: no Handle function", p.Name)
	}
	if p.BatchSize < 0 {
		return fmt.Errorf("eventsource: projection %s: batch size %d is negative", p.Name, p.BatchSize)
	}
	return nil
}

func (p *Projection) batch() int {
	if p.BatchSize == 0 {
		return DefaultProjectionBatch
	}
	return p.BatchSize
}

// Project brings the projection up to date: it handles every event after
// its checkpoint, in batches, and returns how many it handled. Several
// processes may project the same projection: their batches serialise on
// the checkpoint, so each event is handled once.
//
// Project never skips an event that commits late: it reads events as
// [Store.ReadAll] does, so no event can commit at a position at or below
// its checkpoint.
func (s *Store) Project(ctx context.Context, p *Projection) (int, error) {
	return s.project(ctx, p, false)
}

// Rebuild empties the projection's read model with its Reset function,
// sets its checkpoint to the start, and replays every event of the store
// into it. The reset and the first batch commit together; while the later
// batches run, readers see the read model part-way rebuilt.
func (s *Store) Rebuild(ctx context.Context, p *Projection) (int, error) {
	if p.Reset == nil {
		return 0, fmt.Errorf("eventsource: rebuild projection %s: no Reset function", p.Name)
	}
	return s.project(ctx, p, true)
}

func (s *Store) project(ctx context.Context, p *Projection, reset bool) (int, error) {
	if err := p.validate(); err != nil {
		return 0, err
	}
	total := 0
	for {
		n, err := s.projectBatch(ctx, p, reset)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 && !reset {
			return total, nil
		}
		reset = false
	}
}

func (s *Store) projectBatch(ctx context.Context, p *Projection, reset bool) (int, error) {
	n := 0
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		n = 0
		pos, err := s.lockCheckpoint(ctx, tx, p.Name)
		if err != nil {
			return err
		}
		if reset {
			if err := p.Reset(ctx, tx); err != nil {
				return fmt.Errorf("eventsource: projection %s: reset: %w", p.Name, err)
			}
			pos = 0
		}
		events, err := s.readAll(ctx, tx, pos, p.batch())
		if err != nil {
			return fmt.Errorf("eventsource: projection %s: %w", p.Name, err)
		}
		for _, e := range events {
			if err := p.Handle(ctx, tx, e); err != nil {
				return fmt.Errorf("eventsource: projection %s: event %d (%s, %s v%d): %w", p.Name, e.Position, e.Type, e.StreamID, e.Version, err)
			}
		}
		if len(events) > 0 {
			pos = events[len(events)-1].Position
		}
		if len(events) == 0 && !reset {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE `+s.checkpoints+` SET position = ?, updated_ns = ? WHERE projection = ?`),
			pos, time.Now().UnixNano(), p.Name); err != nil {
			return fmt.Errorf("eventsource: projection %s: store checkpoint: %w", p.Name, err)
		}
		n = len(events)
		return nil
	})
	return n, err
}

// lockCheckpoint returns the projection's checkpoint, creating it at 0,
// and on PostgreSQL locks its row until tx ends.
func (s *Store) lockCheckpoint(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO `+s.checkpoints+` (projection, position, updated_ns) VALUES (?, 0, ?)
		ON CONFLICT (projection) DO NOTHING`), name, time.Now().UnixNano()); err != nil {
		return 0, fmt.Errorf("eventsource: projection %s: create checkpoint: %w", name, err)
	}
	q := `SELECT position FROM ` + s.checkpoints + ` WHERE projection = ?`
	if s.db.Dialect == store.Postgres {
		q += ` FOR UPDATE`
	}
	var pos int64
	if err := tx.QueryRowContext(ctx, s.db.Rebind(q), name).Scan(&pos); err != nil {
		return 0, fmt.Errorf("eventsource: projection %s: read checkpoint: %w", name, err)
	}
	return pos, nil
}

// Checkpoint returns the position of the last event the projection
// handled, 0 when it has handled none.
func (s *Store) Checkpoint(ctx context.Context, name string) (int64, error) {
	var pos int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT position FROM `+s.checkpoints+` WHERE projection = ?`), name).Scan(&pos)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("eventsource: checkpoint of %s: %w", name, err)
	}
	return pos, nil
}

// CheckpointTx returns the projection's checkpoint as tx sees it, so that a
// reader can take a read model and the position it reflects from one
// snapshot of the database.
func (s *Store) CheckpointTx(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	var pos int64
	err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT position FROM `+s.checkpoints+` WHERE projection = ?`), name).Scan(&pos)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("eventsource: checkpoint of %s: %w", name, err)
	}
	return pos, nil
}

// RunProjection keeps the projection up to date until ctx ends: it
// projects, then waits for an append in this process or for
// [Config.PollInterval] (appends by other processes are seen at the next
// poll). A failing batch is logged and tried again after a back-off that
// doubles up to 30 times the poll interval; later events wait, so the read
// model never applies events out of order. It returns ctx's error.
func (s *Store) RunProjection(ctx context.Context, p *Projection) error {
	if err := p.validate(); err != nil {
		return err
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wake := s.subscribe()
	defer s.unsubscribe(wake)
	wait := s.cfg.PollInterval
	for {
		_, err := s.Project(ctx, p)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			log.Error("eventsource: projection failed; retrying", "projection", p.Name, "err", err, "retry_in", wait)
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C:
			}
			wait = min(wait*2, 30*s.cfg.PollInterval)
			continue
		}
		wait = s.cfg.PollInterval
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}
