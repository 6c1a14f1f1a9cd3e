package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// The store of destinations, their sealed passwords and their health.

const destCols = `id, name, kind, host, port, database_name, username, options, dsn, health, last_error, health_since, created_at, updated_at`

func scanDest(s rowScanner) (Destination, error) {
	var d Destination
	var opts string
	var since, created, updated int64
	if err := s.Scan(&d.ID, &d.Name, &d.Kind, &d.Host, &d.Port, &d.Database, &d.User, &opts, &d.DSN,
		&d.Health, &d.LastError, &since, &created, &updated); err != nil {
		return Destination{}, err
	}
	if err := unmarshalColumn("options of destination "+d.Name, opts, &d.Options); err != nil {
		return Destination{}, err
	}
	if len(d.Options) == 0 {
		d.Options = nil
	}
	redactSecrets(&d)
	d.HealthSince, d.CreatedAt, d.UpdatedAt = fromMillis(since), fromMillis(created), fromMillis(updated)
	return d, nil
}

func passwordContext(id string) string { return "relay.destination:" + id }

func (in DestinationInput) destination(id string) Destination {
	return Destination{ID: id, Name: in.Name, Kind: in.Kind, Host: in.Host, Port: in.Port, Database: in.Database,
		User: in.User, Options: in.Options, DSN: in.DSN, Health: HealthUnknown}
}

// TestError is a destination that failed its connection test; it is not
// saved.
type TestError struct{ Err error }

func (e *TestError) Error() string { return "relay: connection test failed: " + e.Err.Error() }
func (e *TestError) Unwrap() error { return e.Err }

// CreateDestination validates a destination, tests it with the Tester and
// stores it with its password sealed.
func (r *Relay) CreateDestination(ctx context.Context, in DestinationInput) (Destination, error) {
	if _, err := r.checkInput(&in, true); err != nil {
		return Destination{}, err
	}
	d := in.destination(stream.NewID())
	if err := r.test(ctx, d, in.Password); err != nil {
		return Destination{}, err
	}
	sealed, err := r.cfg.Secrets.Seal(in.Password, passwordContext(d.ID))
	if err != nil {
		return Destination{}, fmt.Errorf("relay: seal password: %w", err)
	}
	now := fromMillis(toMillis(r.cfg.Now()))
	d.CreatedAt, d.UpdatedAt, d.HealthSince = now, now, now
	_, err = r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO relay_destinations (`+destCols+`, password) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		d.ID, d.Name, d.Kind, d.Host, d.Port, d.Database, d.User, mustJSON(d.Options), d.DSN, d.Health, "", toMillis(now), toMillis(now), toMillis(now), sealed)
	if store.IsUniqueViolation(err) {
		return Destination{}, fmt.Errorf("relay: destination %q exists: %w", d.Name, ErrNameTaken)
	}
	if err != nil {
		return Destination{}, fmt.Errorf("relay: create destination: %w", err)
	}
	return d, nil
}

// test reaches d with password through the Tester, within the request
// principal's allowance of tests and TestTimeout. A failure is a
// *TestError worded by reachError.
func (r *Relay) test(ctx context.Context, d Destination, password string) error {
	if err := r.allowTest(ctx); err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, r.cfg.TestTimeout)
	defer cancel()
	if err := r.cfg.Tester.Test(tctx, d, password); err != nil {
		return &TestError{Err: reachError(d.Kind, err)}
	}
	return nil
}

// TestDestination tests a destination that is not saved: it validates
// the input (the password is required) and reaches the database. The
// answer is a *invalid.Fields for bad input, a *RateLimitError when the
// principal tests too often, a *TestError when the database could not be
// reached, or nil.
func (r *Relay) TestDestination(ctx context.Context, in DestinationInput) error {
	if _, err := r.checkInput(&in, true); err != nil {
		return err
	}
	return r.test(ctx, in.destination(""), in.Password)
}

// TestSavedDestination tests the saved destination id, or, when in is not
// nil, the settings it would have after an update with in (an empty
// password meaning the stored one, for the same target only). Errors as
// TestDestination's, and ErrNotFound.
func (r *Relay) TestSavedDestination(ctx context.Context, id string, in *DestinationInput) error {
	_, d, pw, err := r.reach(ctx, id, in)
	if err != nil {
		return err
	}
	return r.test(ctx, d, pw)
}

// Catalog lists the tables of the saved destination id with their
// columns and keys, as the database reports them: what a route's mapping
// can choose from. A database that cannot be reached is a *TestError.
func (r *Relay) Catalog(ctx context.Context, id string) ([]sink.TableInfo, error) {
	d, _, pw, err := r.reach(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	tctx, cancel := context.WithTimeout(ctx, r.cfg.TestTimeout)
	defer cancel()
	tables, err := r.cfg.Tester.Catalog(tctx, d, pw)
	if err != nil {
		return nil, &TestError{Err: reachError(d.Kind, err)}
	}
	return tables, nil
}

// reach returns the saved destination id, the destination to reach (the
// saved one, or the one in describes) and its password: in's, or the
// stored one when in has none, which is only given for the target it was
// saved for. A changed kind, host, port, database or user without a
// password is a *invalid.Fields asking for it.
func (r *Relay) reach(ctx context.Context, id string, in *DestinationInput) (saved, d Destination, pw string, err error) {
	if saved, err = r.Destination(ctx, id); err != nil {
		return Destination{}, Destination{}, "", err
	}
	d = saved
	if in != nil {
		t, err := r.checkInput(in, false)
		if err != nil {
			return Destination{}, Destination{}, "", err
		}
		d, pw = in.destination(id), in.Password
		ignored := invalid.Fields{Kind: ErrInvalid}
		if in.NoPassword {
			return saved, d, "", nil
		}
		if pw == "" && d.Kind != KindSQLite && !sameTarget(parseTarget(&ignored, saved), t) {
			return Destination{}, Destination{}, "", &invalid.Fields{Kind: ErrInvalid, List: []invalid.Field{{Name: "password",
				Message: "is required again: the kind, host, port, database or user changed, and a stored password is only sent to the target it was saved for (set no_password for an account without one)"}}}
		}
	}
	if pw == "" {
		if pw, err = r.DestinationPassword(ctx, id); err != nil {
			return Destination{}, Destination{}, "", err
		}
	}
	return saved, d, pw, nil
}

// Destination returns the destination with id, or ErrNotFound. The
// password is never part of it; see DestinationPassword.
func (r *Relay) Destination(ctx context.Context, id string) (Destination, error) {
	d, err := scanDest(r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT `+destCols+` FROM relay_destinations WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Destination{}, invalid.Refuse(ErrNotFound, "destination_unknown", "destination %q", id)
	}
	if err != nil {
		return Destination{}, fmt.Errorf("relay: destination %q: %w", id, err)
	}
	return d, nil
}

// DestinationPassword opens the destination's sealed password, for the
// process that connects to it.
func (r *Relay) DestinationPassword(ctx context.Context, id string) (string, error) {
	var sealed string
	err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT password FROM relay_destinations WHERE id = ?`), id).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", invalid.Refuse(ErrNotFound, "destination_unknown", "destination %q", id)
	}
	if err != nil {
		return "", fmt.Errorf("relay: destination %q: %w", id, err)
	}
	if sealed == "" {
		return "", nil
	}
	pw, err := r.cfg.Secrets.Open(sealed, passwordContext(id))
	if err != nil {
		return "", fmt.Errorf("relay: destination %q password: %w", id, err)
	}
	return pw, nil
}

// Destinations lists the destinations by name.
func (r *Relay) Destinations(ctx context.Context) ([]Destination, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+destCols+` FROM relay_destinations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("relay: list destinations: %w", err)
	}
	defer rows.Close()
	out := []Destination{}
	for rows.Next() {
		d, err := scanDest(rows)
		if err != nil {
			return nil, fmt.Errorf("relay: list destinations: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// UpdateDestination replaces a destination's settings after testing them;
// an empty password keeps the stored one while the target stays the same
// (see reach).
func (r *Relay) UpdateDestination(ctx context.Context, id string, in DestinationInput) (Destination, error) {
	old, d, pw, err := r.reach(ctx, id, &in)
	if err != nil {
		return Destination{}, err
	}
	if err := r.test(ctx, d, pw); err != nil {
		return Destination{}, err
	}
	sealed, err := r.cfg.Secrets.Seal(pw, passwordContext(id))
	if err != nil {
		return Destination{}, fmt.Errorf("relay: seal password: %w", err)
	}
	d.CreatedAt, d.UpdatedAt = old.CreatedAt, fromMillis(toMillis(r.cfg.Now()))
	d.Health, d.LastError, d.HealthSince = old.Health, old.LastError, old.HealthSince
	_, err = r.db.ExecContext(ctx, r.db.Rebind(`UPDATE relay_destinations SET name = ?, kind = ?, host = ?, port = ?, database_name = ?,
		username = ?, options = ?, dsn = ?, password = ?, updated_at = ? WHERE id = ?`),
		d.Name, d.Kind, d.Host, d.Port, d.Database, d.User, mustJSON(d.Options), d.DSN, sealed, toMillis(d.UpdatedAt), id)
	if store.IsUniqueViolation(err) {
		return Destination{}, fmt.Errorf("relay: destination %q exists: %w", d.Name, ErrNameTaken)
	}
	if err != nil {
		return Destination{}, fmt.Errorf("relay: update destination: %w", err)
	}
	r.forgetChecks(id)
	return d, nil
}

// SetDestinationHealth records what the heartbeat saw: up, or down with
// the error. A change of state is also kept as an event (the newest
// eventsKept per destination); when several processes see the same change,
// the first to store it records the event.
func (r *Relay) SetDestinationHealth(ctx context.Context, id string, up bool, lastErr string) error {
	h := HealthDown
	if up {
		h = HealthUp
	}
	now := toMillis(r.cfg.Now())
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE relay_destinations SET health = ?, health_since = ?, last_error = ?
			WHERE id = ? AND health <> ?`), h, now, lastErr, id, h)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			// No change of state (or no such destination): keep the error.
			_, err = tx.ExecContext(ctx, r.db.Rebind(`UPDATE relay_destinations SET last_error = ? WHERE id = ?`), lastErr, id)
			return err
		}
		if _, err := tx.ExecContext(ctx, r.db.Rebind(`INSERT INTO relay_destination_events (destination_id, at, health, error)
			VALUES (?, ?, ?, ?)`), id, now, h, lastErr); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, r.db.Rebind(`DELETE FROM relay_destination_events WHERE destination_id = ? AND at < (
			SELECT MIN(at) FROM (SELECT at FROM relay_destination_events WHERE destination_id = ? ORDER BY at DESC LIMIT ?) newest)`),
			id, id, eventsKept)
		return err
	})
	if err != nil {
		return fmt.Errorf("relay: destination health: %w", err)
	}
	return nil
}

// eventsKept is how many health changes are kept per destination.
const eventsKept = 100

// HealthEvent is a change of a destination's health.
type HealthEvent struct {
	Time   time.Time `json:"time"`
	Health string    `json:"health"`
	Error  string    `json:"error,omitempty"`
}

// DestinationEvents returns the destination's changes of health, newest
// first, at most limit of them.
func (r *Relay) DestinationEvents(ctx context.Context, id string, limit int) ([]HealthEvent, error) {
	rows, err := r.db.QueryContext(ctx, r.db.Rebind(`SELECT at, health, error FROM relay_destination_events
		WHERE destination_id = ? ORDER BY at DESC LIMIT ?`), id, limit)
	if err != nil {
		return nil, fmt.Errorf("relay: destination events: %w", err)
	}
	defer rows.Close()
	out := []HealthEvent{}
	for rows.Next() {
		var e HealthEvent
		var at int64
		if err := rows.Scan(&at, &e.Health, &e.Error); err != nil {
			return nil, fmt.Errorf("relay: destination events: %w", err)
		}
		e.Time = fromMillis(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteDestination deletes a destination no route uses (ErrInUse
// otherwise).
func (r *Relay) DeleteDestination(ctx context.Context, id string) error {
	if _, err := r.Destination(ctx, id); err != nil {
		return err
	}
	var n int
	if err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT COUNT(*) FROM relay_routes WHERE destination_id = ?`), id).Scan(&n); err != nil {
		return fmt.Errorf("relay: delete destination: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("relay: destination has %d route(s); delete them first: %w", n, ErrInUse)
	}
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, r.db.Rebind(`DELETE FROM relay_destination_events WHERE destination_id = ?`), id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, r.db.Rebind(`DELETE FROM relay_destinations WHERE id = ?`), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("relay: delete destination: %w", err)
	}
	return nil
}
