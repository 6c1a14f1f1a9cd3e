package relay

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// The store of datasets.

const datasetCols = `name, topic, key_fields, json_schema, accept_undeliverable, created_at, updated_at`

func scanDataset(s rowScanner) (Dataset, error) {
	var d Dataset
	var keys, sch string
	var created, updated int64
	if err := s.Scan(&d.Name, &d.Topic, &keys, &sch, &d.AcceptUndeliverable, &created, &updated); err != nil {
		return Dataset{}, err
	}
	if err := unmarshalColumn("key_fields of dataset "+d.Name, keys, &d.KeyFields); err != nil {
		return Dataset{}, err
	}
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
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO relay_datasets (`+datasetCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		d.Name, d.Topic, mustJSON(d.KeyFields), string(d.Schema), d.AcceptUndeliverable, toMillis(now), toMillis(now))
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
		return Dataset{}, invalid.Refuse(ErrNotFound, "dataset_unknown", "dataset %q", name)
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
	if len(d.KeyFields) == 0 && len(old.KeyFields) > 0 {
		if err := r.checkKeylessRoutes(ctx, name); err != nil {
			return Dataset{}, err
		}
	}
	d.CreatedAt, d.UpdatedAt = old.CreatedAt, fromMillis(toMillis(r.cfg.Now()))
	_, err = r.db.ExecContext(ctx, r.db.Rebind(`UPDATE relay_datasets SET topic = ?, key_fields = ?, json_schema = ?, accept_undeliverable = ?, updated_at = ? WHERE name = ?`),
		d.Topic, mustJSON(d.KeyFields), string(d.Schema), d.AcceptUndeliverable, toMillis(d.UpdatedAt), name)
	if err != nil {
		return Dataset{}, fmt.Errorf("relay: update dataset: %w", err)
	}
	r.forgetDataset(name)
	if d.Topic != old.Topic {
		r.createTopic(ctx, d.Topic)
	}
	return d, nil
}

// checkKeylessRoutes refuses (ErrInUse) to drop the key fields of a dataset
// that upsert routes or routes with deletes use.
func (r *Relay) checkKeylessRoutes(ctx context.Context, name string) error {
	var n int
	err := r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT COUNT(*) FROM relay_routes WHERE dataset = ? AND (mode <> ? OR deletes)`),
		name, ModeInsert).Scan(&n)
	if err != nil {
		return fmt.Errorf("relay: update dataset: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("relay: dataset %q has %d route(s) that upsert or delete by its key; make them insert-only first: %w", name, n, ErrInUse)
	}
	return nil
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
