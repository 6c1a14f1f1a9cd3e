package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// The store of routes.

const routeCols = `id, name, dataset, destination_id, table_schema, table_name, mode, key_columns, deletes, mapping, filter, enabled, created_at, updated_at`

func scanRoute(s rowScanner) (Route, error) {
	var rt Route
	var keys, mapping string
	var created, updated int64
	if err := s.Scan(&rt.ID, &rt.Name, &rt.Dataset, &rt.Destination, &rt.TableSchema, &rt.Table, &rt.Mode, &keys,
		&rt.Deletes, &mapping, &rt.Filter, &rt.Enabled, &created, &updated); err != nil {
		return Route{}, err
	}
	if err := unmarshalColumn("key_columns of route "+rt.Name, keys, &rt.KeyColumns); err != nil {
		return Route{}, err
	}
	if err := unmarshalColumn("mapping of route "+rt.Name, mapping, &rt.Mapping); err != nil {
		return Route{}, err
	}
	rt.CreatedAt, rt.UpdatedAt = fromMillis(created), fromMillis(updated)
	return rt, nil
}

func (r *Relay) checkRouteRefs(ctx context.Context, rt Route) error {
	ve := invalid.Fields{Kind: ErrInvalid}
	if ds, err := r.Dataset(ctx, rt.Dataset); errors.Is(err, ErrNotFound) {
		ve.Add("dataset", "no dataset is named %q", rt.Dataset)
	} else if err != nil {
		return err
	} else if len(ds.KeyFields) == 0 {
		// Without a key nothing says which row a record is: its records
		// are inserted, each once (by its arus-id), and never deleted.
		if rt.Mode != ModeInsert {
			ve.Add("mode", "dataset %s has no key fields, so its routes only insert: use mode insert", ds.Name)
		}
		if rt.Deletes {
			ve.Add("deletes", "dataset %s has no key fields, so it has no deletes to deliver", ds.Name)
		}
	}
	if _, err := r.Destination(ctx, rt.Destination); errors.Is(err, ErrNotFound) {
		ve.Add("destination", "no destination has the id %q", rt.Destination)
	} else if err != nil {
		return err
	}
	return ve.Err()
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
	r.forgetChecks("")
	return rt, nil
}

// Route returns the route with id, or ErrNotFound.
func (r *Relay) Route(ctx context.Context, id string) (Route, error) {
	rt, err := scanRoute(r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT `+routeCols+` FROM relay_routes WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Route{}, invalid.Refuse(ErrNotFound, "relay_route_unknown", "route %q", id)
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
	r.forgetChecks("")
	return rt, nil
}

// DeleteRoute deletes a route.
func (r *Relay) DeleteRoute(ctx context.Context, id string) error {
	res, err := r.db.ExecContext(ctx, r.db.Rebind(`DELETE FROM relay_routes WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("relay: delete route: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return invalid.Refuse(ErrNotFound, "relay_route_unknown", "route %q", id)
	}
	r.forgetChecks("")
	return nil
}
