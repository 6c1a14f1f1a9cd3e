package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// The store of applications and their API keys.

const appCols = `id, name, datasets, rate_limit, burst, api_key_id, created_at, updated_at`

func scanApp(s rowScanner) (Application, error) {
	var a Application
	var ds string
	var created, updated int64
	if err := s.Scan(&a.ID, &a.Name, &ds, &a.RateLimit, &a.Burst, &a.APIKeyID, &created, &updated); err != nil {
		return Application{}, err
	}
	if err := unmarshalColumn("datasets of application "+a.Name, ds, &a.Datasets); err != nil {
		return Application{}, err
	}
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
	ve := invalid.Fields{Kind: ErrInvalid}
	for i, d := range na.Datasets {
		if _, err := r.Dataset(ctx, d); errors.Is(err, ErrNotFound) {
			ve.Add(fmt.Sprintf("datasets[%d]", i), "no dataset is named %q", d)
		} else if err != nil {
			return Application{}, "", err
		}
	}
	if err := ve.Err(); err != nil {
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
		if store.IsUniqueViolation(err) {
			err = fmt.Errorf("relay: application %q exists: %w", na.Name, ErrNameTaken)
		} else {
			err = fmt.Errorf("relay: create application: %w", err)
		}
		// The key was made for an application that does not exist: it must
		// not outlive it. A key that cannot be revoked is said, not hidden.
		if rerr := r.cfg.Auth.RevokeAPIKey(context.WithoutCancel(ctx), key.ID); rerr != nil {
			r.log.ErrorContext(ctx, "relay: revoke the key of an application that was not created; revoke it by hand",
				"key_id", key.ID, "application", na.Name, "err", rerr)
			err = errors.Join(err, fmt.Errorf("relay: revoke key %s made for it: %w", key.ID, rerr))
		}
		return Application{}, "", err
	}
	return a, secretKey, nil
}

// Application returns the application with id, or ErrNotFound.
func (r *Relay) Application(ctx context.Context, id string) (Application, error) {
	a, err := scanApp(r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT `+appCols+` FROM relay_applications WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Application{}, invalid.Refuse(ErrNotFound, "application_unknown", "application %q", id)
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
