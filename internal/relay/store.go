package relay

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

type rowScanner interface{ Scan(dest ...any) error }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// --- datasets ---

const datasetCols = `name, topic, key_fields, json_schema, created_at, updated_at`

func scanDataset(s rowScanner) (Dataset, error) {
	var d Dataset
	var keys, sch string
	var created, updated int64
	if err := s.Scan(&d.Name, &d.Topic, &keys, &sch, &created, &updated); err != nil {
		return Dataset{}, err
	}
	_ = json.Unmarshal([]byte(keys), &d.KeyFields)
	if sch != "" {
		d.Schema = json.RawMessage(sch)
	}
	d.CreatedAt, d.UpdatedAt = fromMillis(created), fromMillis(updated)
	return d, nil
}

// CreateDataset validates and stores a dataset.
func (r *Relay) CreateDataset(ctx context.Context, d Dataset) (Dataset, error) {
	if err := d.validate(); err != nil {
		return Dataset{}, err
	}
	now := fromMillis(toMillis(r.cfg.Now()))
	d.CreatedAt, d.UpdatedAt = now, now
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO relay_datasets (`+datasetCols+`) VALUES (?, ?, ?, ?, ?, ?)`),
		d.Name, d.Topic, mustJSON(d.KeyFields), string(d.Schema), toMillis(now), toMillis(now))
	if store.IsUniqueViolation(err) {
		return Dataset{}, fmt.Errorf("relay: dataset %q exists: %w", d.Name, ErrNameTaken)
	}
	if err != nil {
		return Dataset{}, fmt.Errorf("relay: create dataset: %w", err)
	}
	r.forgetDataset(d.Name)
	r.createTopic(ctx, d.Topic)
	return d, nil
}

// TopicCreator is what a Producer may also do: create a topic. When the
// relay's Producer can, a new dataset's topic is created at once, so that
// ingest works on a broker that does not create topics on first use.
type TopicCreator interface {
	CreateTopic(ctx context.Context, t stream.Topic) error
}

func (r *Relay) createTopic(ctx context.Context, topic string) {
	tc, ok := r.cfg.Producer.(TopicCreator)
	if !ok {
		return
	}
	if err := tc.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: r.cfg.Partitions}); err != nil && !errors.Is(err, stream.ErrTopicExists) {
		r.log.WarnContext(ctx, "relay: create the dataset's topic; ingest fails until it exists", "topic", topic, "err", err)
	}
}

// Dataset returns the dataset named name, or ErrNotFound.
func (r *Relay) Dataset(ctx context.Context, name string) (Dataset, error) {
	d, err := scanDataset(r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT `+datasetCols+` FROM relay_datasets WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return Dataset{}, fmt.Errorf("relay: dataset %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Dataset{}, fmt.Errorf("relay: dataset %q: %w", name, err)
	}
	return d, nil
}

// Datasets lists the datasets by name.
func (r *Relay) Datasets(ctx context.Context) ([]Dataset, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+datasetCols+` FROM relay_datasets ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("relay: list datasets: %w", err)
	}
	defer rows.Close()
	out := []Dataset{}
	for rows.Next() {
		d, err := scanDataset(rows)
		if err != nil {
			return nil, fmt.Errorf("relay: list datasets: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// UpdateDataset replaces a dataset's topic, key fields and schema; the
// name stays.
func (r *Relay) UpdateDataset(ctx context.Context, name string, d Dataset) (Dataset, error) {
	d.Name = name
	if err := d.validate(); err != nil {
		return Dataset{}, err
	}
	old, err := r.Dataset(ctx, name)
	if err != nil {
		return Dataset{}, err
	}
	d.CreatedAt, d.UpdatedAt = old.CreatedAt, fromMillis(toMillis(r.cfg.Now()))
	_, err = r.db.ExecContext(ctx, r.db.Rebind(`UPDATE relay_datasets SET topic = ?, key_fields = ?, json_schema = ?, updated_at = ? WHERE name = ?`),
		d.Topic, mustJSON(d.KeyFields), string(d.Schema), toMillis(d.UpdatedAt), name)
	if err != nil {
		return Dataset{}, fmt.Errorf("relay: update dataset: %w", err)
	}
	r.forgetDataset(name)
	if d.Topic != old.Topic {
		r.createTopic(ctx, d.Topic)
	}
	return d, nil
}

// DeleteDataset deletes a dataset that no route and no application uses
// (ErrInUse otherwise). Its topic and records stay.
func (r *Relay) DeleteDataset(ctx context.Context, name string) error {
	if _, err := r.Dataset(ctx, name); err != nil {
		return err
	}
	var n int
	if err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT COUNT(*) FROM relay_routes WHERE dataset = ?`), name).Scan(&n); err != nil {
		return fmt.Errorf("relay: delete dataset: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("relay: dataset %q has %d route(s); delete them first: %w", name, n, ErrInUse)
	}
	apps, err := r.Applications(ctx)
	if err != nil {
		return err
	}
	for _, a := range apps {
		if slices.Contains(a.Datasets, name) {
			return fmt.Errorf("relay: application %q ingests into dataset %q; delete it first: %w", a.Name, name, ErrInUse)
		}
	}
	if _, err := r.db.ExecContext(ctx, r.db.Rebind(`DELETE FROM relay_datasets WHERE name = ?`), name); err != nil {
		return fmt.Errorf("relay: delete dataset: %w", err)
	}
	r.forgetDataset(name)
	return nil
}

// --- applications ---

const appCols = `id, name, datasets, rate_limit, burst, api_key_id, created_at, updated_at`

func scanApp(s rowScanner) (Application, error) {
	var a Application
	var ds string
	var created, updated int64
	if err := s.Scan(&a.ID, &a.Name, &ds, &a.RateLimit, &a.Burst, &a.APIKeyID, &created, &updated); err != nil {
		return Application{}, err
	}
	_ = json.Unmarshal([]byte(ds), &a.Datasets)
	a.CreatedAt, a.UpdatedAt = fromMillis(created), fromMillis(updated)
	return a, nil
}

// CreateApplication stores an application and creates its API key, with
// the scope relay.ingest:<dataset> for each allowed dataset. The key
// string is returned once and cannot be retrieved again.
func (r *Relay) CreateApplication(ctx context.Context, na NewApplication) (Application, string, error) {
	if err := na.validate(); err != nil {
		return Application{}, "", err
	}
	var ve ValidationError
	for i, d := range na.Datasets {
		if _, err := r.Dataset(ctx, d); errors.Is(err, ErrNotFound) {
			ve.add(fmt.Sprintf("datasets[%d]", i), "no dataset is named %q", d)
		} else if err != nil {
			return Application{}, "", err
		}
	}
	if err := ve.err(); err != nil {
		return Application{}, "", err
	}
	var n int
	if err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT COUNT(*) FROM relay_applications WHERE name = ?`), na.Name).Scan(&n); err != nil {
		return Application{}, "", fmt.Errorf("relay: create application: %w", err)
	}
	if n > 0 {
		return Application{}, "", fmt.Errorf("relay: application %q exists: %w", na.Name, ErrNameTaken)
	}
	scopes := make([]string, len(na.Datasets))
	for i, d := range na.Datasets {
		scopes[i] = string(auth.PermRelayIngest) + ":" + d
	}
	key, secretKey, err := r.cfg.Auth.CreateAPIKey(ctx, auth.NewAPIKey{Name: "relay application " + na.Name, Scopes: scopes})
	if err != nil {
		return Application{}, "", fmt.Errorf("relay: create application key: %w", err)
	}
	now := fromMillis(toMillis(r.cfg.Now()))
	a := Application{ID: stream.NewID(), Name: na.Name, Datasets: na.Datasets, RateLimit: na.RateLimit, Burst: na.Burst,
		APIKeyID: key.ID, CreatedAt: now, UpdatedAt: now}
	_, err = r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO relay_applications (`+appCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		a.ID, a.Name, mustJSON(a.Datasets), a.RateLimit, a.Burst, a.APIKeyID, toMillis(now), toMillis(now))
	if err != nil {
		_ = r.cfg.Auth.RevokeAPIKey(context.WithoutCancel(ctx), key.ID)
		if store.IsUniqueViolation(err) {
			return Application{}, "", fmt.Errorf("relay: application %q exists: %w", na.Name, ErrNameTaken)
		}
		return Application{}, "", fmt.Errorf("relay: create application: %w", err)
	}
	return a, secretKey, nil
}

// Application returns the application with id, or ErrNotFound.
func (r *Relay) Application(ctx context.Context, id string) (Application, error) {
	a, err := scanApp(r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT `+appCols+` FROM relay_applications WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Application{}, fmt.Errorf("relay: application %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Application{}, fmt.Errorf("relay: application %q: %w", id, err)
	}
	return a, nil
}

func (r *Relay) applicationByKey(ctx context.Context, keyID string) (Application, error) {
	a, err := scanApp(r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT `+appCols+` FROM relay_applications WHERE api_key_id = ?`), keyID))
	if errors.Is(err, sql.ErrNoRows) {
		return Application{}, ErrNotFound
	}
	return a, err
}

// Applications lists the applications by name.
func (r *Relay) Applications(ctx context.Context) ([]Application, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+appCols+` FROM relay_applications ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("relay: list applications: %w", err)
	}
	defer rows.Close()
	out := []Application{}
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("relay: list applications: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ApplicationLimits is the input of UpdateApplicationLimits.
type ApplicationLimits struct {
	RateLimit float64 `json:"rate_limit"`
	Burst     int     `json:"burst"`
}

// UpdateApplicationLimits changes an application's rate limit; it applies
// to the next request in this process and within CacheTTL in others.
func (r *Relay) UpdateApplicationLimits(ctx context.Context, id string, l ApplicationLimits) (Application, error) {
	a, err := r.Application(ctx, id)
	if err != nil {
		return Application{}, err
	}
	na := NewApplication{Name: a.Name, Datasets: a.Datasets, RateLimit: l.RateLimit, Burst: l.Burst}
	if err := na.validate(); err != nil {
		return Application{}, err
	}
	a.RateLimit, a.Burst, a.UpdatedAt = na.RateLimit, na.Burst, fromMillis(toMillis(r.cfg.Now()))
	if _, err := r.db.ExecContext(ctx, r.db.Rebind(`UPDATE relay_applications SET rate_limit = ?, burst = ?, updated_at = ? WHERE id = ?`),
		a.RateLimit, a.Burst, toMillis(a.UpdatedAt), id); err != nil {
		return Application{}, fmt.Errorf("relay: update application: %w", err)
	}
	r.mu.Lock()
	delete(r.apps, a.APIKeyID)
	r.mu.Unlock()
	return a, nil
}

// RotateApplicationKey gives the application's API key a new secret,
// returned once; the old one stops working at once.
func (r *Relay) RotateApplicationKey(ctx context.Context, id string) (Application, string, error) {
	a, err := r.Application(ctx, id)
	if err != nil {
		return Application{}, "", err
	}
	_, key, err := r.cfg.Auth.RotateAPIKey(ctx, a.APIKeyID)
	if err != nil {
		return Application{}, "", fmt.Errorf("relay: rotate the key of application %q: %w", a.Name, err)
	}
	return a, key, nil
}

// DeleteApplication deletes an application and revokes its API key.
func (r *Relay) DeleteApplication(ctx context.Context, id string) error {
	a, err := r.Application(ctx, id)
	if err != nil {
		return err
	}
	if err := r.cfg.Auth.RevokeAPIKey(ctx, a.APIKeyID); err != nil && !errors.Is(err, auth.ErrNotFound) {
		return fmt.Errorf("relay: revoke the key of application %q: %w", a.Name, err)
	}
	if _, err := r.db.ExecContext(ctx, r.db.Rebind(`DELETE FROM relay_applications WHERE id = ?`), id); err != nil {
		return fmt.Errorf("relay: delete application: %w", err)
	}
	r.mu.Lock()
	delete(r.apps, a.APIKeyID)
	delete(r.buckets, a.ID)
	r.mu.Unlock()
	return nil
}

// --- destinations ---

const destCols = `id, name, kind, host, port, database_name, username, options, dsn, health, last_error, health_since, created_at, updated_at`

func scanDest(s rowScanner) (Destination, error) {
	var d Destination
	var opts string
	var since, created, updated int64
	if err := s.Scan(&d.ID, &d.Name, &d.Kind, &d.Host, &d.Port, &d.Database, &d.User, &opts, &d.DSN,
		&d.Health, &d.LastError, &since, &created, &updated); err != nil {
		return Destination{}, err
	}
	_ = json.Unmarshal([]byte(opts), &d.Options)
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
// answer is a *ValidationError for bad input, a *RateLimitError when the
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
// password is a *ValidationError asking for it.
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
		var ignored ValidationError
		if pw == "" && d.Kind != KindSQLite && !sameTarget(parseTarget(&ignored, saved), t) {
			return Destination{}, Destination{}, "", &ValidationError{Errors: []FieldError{{Field: "password",
				Message: "is required again: the kind, host, port, database or user changed, and a stored password is only sent to the target it was saved for"}}}
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
		return Destination{}, fmt.Errorf("relay: destination %q: %w", id, ErrNotFound)
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
		return "", fmt.Errorf("relay: destination %q: %w", id, ErrNotFound)
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

// --- routes ---

const routeCols = `id, name, dataset, destination_id, table_schema, table_name, mode, key_columns, deletes, mapping, filter, enabled, created_at, updated_at`

func scanRoute(s rowScanner) (Route, error) {
	var rt Route
	var keys, mapping string
	var created, updated int64
	if err := s.Scan(&rt.ID, &rt.Name, &rt.Dataset, &rt.Destination, &rt.TableSchema, &rt.Table, &rt.Mode, &keys,
		&rt.Deletes, &mapping, &rt.Filter, &rt.Enabled, &created, &updated); err != nil {
		return Route{}, err
	}
	_ = json.Unmarshal([]byte(keys), &rt.KeyColumns)
	_ = json.Unmarshal([]byte(mapping), &rt.Mapping)
	rt.CreatedAt, rt.UpdatedAt = fromMillis(created), fromMillis(updated)
	return rt, nil
}

func (r *Relay) checkRouteRefs(ctx context.Context, rt Route) error {
	var ve ValidationError
	if _, err := r.Dataset(ctx, rt.Dataset); errors.Is(err, ErrNotFound) {
		ve.add("dataset", "no dataset is named %q", rt.Dataset)
	} else if err != nil {
		return err
	}
	if _, err := r.Destination(ctx, rt.Destination); errors.Is(err, ErrNotFound) {
		ve.add("destination", "no destination has the id %q", rt.Destination)
	} else if err != nil {
		return err
	}
	return ve.err()
}

// CreateRoute validates and stores a route.
func (r *Relay) CreateRoute(ctx context.Context, in RouteInput) (Route, error) {
	rt, err := in.route()
	if err != nil {
		return Route{}, err
	}
	if err := r.checkRouteRefs(ctx, rt); err != nil {
		return Route{}, err
	}
	now := fromMillis(toMillis(r.cfg.Now()))
	rt.ID, rt.CreatedAt, rt.UpdatedAt = stream.NewID(), now, now
	_, err = r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO relay_routes (`+routeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		rt.ID, rt.Name, rt.Dataset, rt.Destination, rt.TableSchema, rt.Table, rt.Mode, mustJSON(rt.KeyColumns),
		rt.Deletes, mustJSON(rt.Mapping), rt.Filter, rt.Enabled, toMillis(now), toMillis(now))
	if store.IsUniqueViolation(err) {
		return Route{}, fmt.Errorf("relay: route %q exists: %w", rt.Name, ErrNameTaken)
	}
	if err != nil {
		return Route{}, fmt.Errorf("relay: create route: %w", err)
	}
	return rt, nil
}

// Route returns the route with id, or ErrNotFound.
func (r *Relay) Route(ctx context.Context, id string) (Route, error) {
	rt, err := scanRoute(r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT `+routeCols+` FROM relay_routes WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Route{}, fmt.Errorf("relay: route %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Route{}, fmt.Errorf("relay: route %q: %w", id, err)
	}
	return rt, nil
}

// Routes lists the routes by name.
func (r *Relay) Routes(ctx context.Context) ([]Route, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+routeCols+` FROM relay_routes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("relay: list routes: %w", err)
	}
	defer rows.Close()
	out := []Route{}
	for rows.Next() {
		rt, err := scanRoute(rows)
		if err != nil {
			return nil, fmt.Errorf("relay: list routes: %w", err)
		}
		out = append(out, rt)
	}
	return out, rows.Err()
}

// UpdateRoute replaces a route.
func (r *Relay) UpdateRoute(ctx context.Context, id string, in RouteInput) (Route, error) {
	rt, err := in.route()
	if err != nil {
		return Route{}, err
	}
	old, err := r.Route(ctx, id)
	if err != nil {
		return Route{}, err
	}
	if err := r.checkRouteRefs(ctx, rt); err != nil {
		return Route{}, err
	}
	rt.ID, rt.CreatedAt, rt.UpdatedAt = id, old.CreatedAt, fromMillis(toMillis(r.cfg.Now()))
	_, err = r.db.ExecContext(ctx, r.db.Rebind(`UPDATE relay_routes SET name = ?, dataset = ?, destination_id = ?, table_schema = ?,
		table_name = ?, mode = ?, key_columns = ?, deletes = ?, mapping = ?, filter = ?, enabled = ?, updated_at = ? WHERE id = ?`),
		rt.Name, rt.Dataset, rt.Destination, rt.TableSchema, rt.Table, rt.Mode, mustJSON(rt.KeyColumns), rt.Deletes,
		mustJSON(rt.Mapping), rt.Filter, rt.Enabled, toMillis(rt.UpdatedAt), id)
	if store.IsUniqueViolation(err) {
		return Route{}, fmt.Errorf("relay: route %q exists: %w", rt.Name, ErrNameTaken)
	}
	if err != nil {
		return Route{}, fmt.Errorf("relay: update route: %w", err)
	}
	return rt, nil
}

// DeleteRoute deletes a route.
func (r *Relay) DeleteRoute(ctx context.Context, id string) error {
	res, err := r.db.ExecContext(ctx, r.db.Rebind(`DELETE FROM relay_routes WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("relay: delete route: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("relay: route %q: %w", id, ErrNotFound)
	}
	return nil
}
