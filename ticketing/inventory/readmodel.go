package inventory

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ProjectionName is the name of the read model's projection and
// checkpoint.
const ProjectionName = "inventory.areas"

func migrate(ctx context.Context, es *eventsource.Store) error {
	db := *es.DB()
	db.Component = "inventory"
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("inventory: migrations: %w", err)
	}
	if err := db.Migrate(ctx, sub); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	return nil
}

// The read model: inventory_areas holds each area's capacity, sold
// tickets and version; inventory_holds each hold not ended by an event,
// with its expiry, so that the tickets held at a moment are a query.
func (inv *Inventory) projection() *eventsource.Projection {
	db := inv.es.DB()
	return &eventsource.Projection{
		Name: ProjectionName,
		Handle: func(ctx context.Context, tx *sql.Tx, e eventsource.Event) error {
			id, ok := parseStream(e.StreamID)
			if !ok {
				return nil // another aggregate's stream
			}
			var d eventData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return err
			}
			exec := func(q string, args ...any) error {
				_, err := tx.ExecContext(ctx, db.Rebind(q), args...)
				return err
			}
			var err error
			switch e.Type {
			case TypeCapacitySet:
				err = exec(`INSERT INTO inventory_areas (stream_id, event_id, area_id, capacity, sold, version) VALUES (?, ?, ?, ?, 0, ?)
					ON CONFLICT (stream_id) DO UPDATE SET capacity = excluded.capacity`, e.StreamID, id.Event, id.Area, d.Capacity, e.Version)
			case TypeHeld:
				err = exec(`INSERT INTO inventory_holds (stream_id, order_id, quantity, expires_ns) VALUES (?, ?, ?, ?)
					ON CONFLICT (stream_id, order_id) DO UPDATE SET quantity = excluded.quantity, expires_ns = excluded.expires_ns`,
					e.StreamID, d.Order, d.Quantity, d.ExpiresAt.UnixNano())
			case TypeHoldReleased, TypeHoldExpired, TypePaymentRefused:
				err = exec(`DELETE FROM inventory_holds WHERE stream_id = ? AND order_id = ?`, e.StreamID, d.Order)
			case TypeSold:
				if err = exec(`DELETE FROM inventory_holds WHERE stream_id = ? AND order_id = ?`, e.StreamID, d.Order); err == nil {
					err = exec(`UPDATE inventory_areas SET sold = sold + ? WHERE stream_id = ?`, d.Quantity, e.StreamID)
				}
			case TypeReturned:
				err = exec(`UPDATE inventory_areas SET sold = sold - ? WHERE stream_id = ?`, d.Quantity, e.StreamID)
			default:
				return fmt.Errorf("unknown event type %q", e.Type)
			}
			if err != nil {
				return err
			}
			return exec(`UPDATE inventory_areas SET version = ? WHERE stream_id = ?`, e.Version, e.StreamID)
		},
		Reset: func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM inventory_holds`); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM inventory_areas`)
			return err
		},
	}
}

// Project brings the read model up to date with the event store and
// returns the number of events it handled.
func (inv *Inventory) Project(ctx context.Context) (int, error) {
	return inv.es.Project(ctx, inv.projection())
}

// RunProjection keeps the read model up to date until ctx ends.
func (inv *Inventory) RunProjection(ctx context.Context) error {
	return inv.es.RunProjection(ctx, inv.projection())
}

// Rebuild empties the read model and replays every event into it.
func (inv *Inventory) Rebuild(ctx context.Context) (int, error) {
	return inv.es.Rebuild(ctx, inv.projection())
}

// ReadAvailability returns an area's tickets from the read model: as of
// the events it has handled, with holds counted until their expiry.
func (inv *Inventory) ReadAvailability(ctx context.Context, id AreaID) (Availability, error) {
	if err := id.Validate(); err != nil {
		return Availability{}, err
	}
	db := inv.es.DB()
	out := Availability{Area: id}
	err := db.QueryRowContext(ctx, db.Rebind(`SELECT capacity, sold, version,
		(SELECT COALESCE(SUM(quantity), 0) FROM inventory_holds h WHERE h.stream_id = a.stream_id AND h.expires_ns > ?)
		FROM inventory_areas a WHERE stream_id = ?`), inv.cfg.Now().UnixNano(), id.stream()).
		Scan(&out.Capacity, &out.Sold, &out.Version, &out.Held)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Availability{}, fmt.Errorf("%w: %s", ErrNoCapacity, id)
	case err != nil:
		return Availability{}, fmt.Errorf("inventory: read availability of %s: %w", id, err)
	}
	out.Free = out.Capacity - out.Sold - out.Held
	return out, nil
}

// ReadEvent returns the availability of every area of an event from the
// read model, ordered by area id.
func (inv *Inventory) ReadEvent(ctx context.Context, event string) ([]Availability, error) {
	if !validID(event) {
		return nil, fmt.Errorf("inventory: event id %q: use 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit", event)
	}
	db := inv.es.DB()
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT area_id, capacity, sold, version,
		(SELECT COALESCE(SUM(quantity), 0) FROM inventory_holds h WHERE h.stream_id = a.stream_id AND h.expires_ns > ?)
		FROM inventory_areas a WHERE event_id = ? ORDER BY area_id`), inv.cfg.Now().UnixNano(), event)
	if err != nil {
		return nil, fmt.Errorf("inventory: read areas of %s: %w", event, err)
	}
	defer rows.Close()
	var out []Availability
	for rows.Next() {
		a := Availability{Area: AreaID{Event: event}}
		if err := rows.Scan(&a.Area.Area, &a.Capacity, &a.Sold, &a.Version, &a.Held); err != nil {
			return nil, fmt.Errorf("inventory: read areas of %s: %w", event, err)
		}
		a.Free = a.Capacity - a.Sold - a.Held
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inventory: read areas of %s: %w", event, err)
	}
	return out, nil
}

// SweepExpired runs [Inventory.Sweep] on every area whose read model has a
// hold past its expiry, and returns the number of holds expired.
func (inv *Inventory) SweepExpired(ctx context.Context) (int, error) {
	db := inv.es.DB()
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT DISTINCT stream_id FROM inventory_holds WHERE expires_ns <= ?`), inv.cfg.Now().UnixNano())
	if err != nil {
		return 0, fmt.Errorf("inventory: find expired holds: %w", err)
	}
	var areas []AreaID
	for rows.Next() {
		var stream string
		if err := rows.Scan(&stream); err != nil {
			rows.Close()
			return 0, fmt.Errorf("inventory: find expired holds: %w", err)
		}
		if id, ok := parseStream(stream); ok {
			areas = append(areas, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("inventory: find expired holds: %w", err)
	}
	total := 0
	for _, id := range areas {
		n, err := inv.Sweep(ctx, id)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// beginSnapshot starts a transaction whose reads all see one snapshot.
func beginSnapshot(ctx context.Context, db *store.DB) (*sql.Tx, error) {
	var opts *sql.TxOptions
	if db.Dialect == store.Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	return db.BeginTx(ctx, opts)
}

// readModel is the read model's rows of one area.
type readModel struct {
	capacity, sold int
	version        int64
	holds          map[string]hold
}

func (inv *Inventory) readModelTx(ctx context.Context, tx *sql.Tx) (map[string]*readModel, error) {
	out := map[string]*readModel{}
	rows, err := tx.QueryContext(ctx, `SELECT stream_id, capacity, sold, version FROM inventory_areas`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		m := &readModel{holds: map[string]hold{}}
		if err := rows.Scan(&id, &m.capacity, &m.sold, &m.version); err != nil {
			rows.Close()
			return nil, err
		}
		out[id] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT stream_id, order_id, quantity, expires_ns FROM inventory_holds`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, order string
		var h hold
		var ns int64
		if err := rows.Scan(&id, &order, &h.Quantity, &ns); err != nil {
			return nil, err
		}
		h.ExpiresAt = time.Unix(0, ns)
		m, ok := out[id]
		if !ok {
			m = &readModel{capacity: -1, holds: map[string]hold{}}
			out[id] = m
		}
		m.holds[order] = h
	}
	return out, rows.Err()
}
