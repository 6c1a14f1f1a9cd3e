package mask

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned for a topic without a policy.
var ErrNotFound = errors.New("mask: no policy for the topic")

// Store keeps the policies, one per topic. A nil *Store masks nothing.
type Store struct {
	db *store.DB
}

// Open migrates the policy store.
func Open(ctx context.Context, db *store.DB) (*Store, error) {
	sub, _ := fs.Sub(migrations, "migrations")
	if err := db.Migrate(ctx, sub); err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Stored is a policy with who changed it last and when.
type Stored struct {
	Policy
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// Put validates p and stores it, replacing the topic's policy.
func (s *Store) Put(ctx context.Context, p Policy, by string) (Stored, error) {
	if err := p.Validate(); err != nil {
		return Stored{}, err
	}
	fields, err := json.Marshal(p.Fields)
	if err != nil {
		return Stored{}, err
	}
	now := time.Now()
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO mask_policies (topic, fields, updated_at_ms, updated_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (topic) DO UPDATE SET fields = excluded.fields, updated_at_ms = excluded.updated_at_ms, updated_by = excluded.updated_by`),
		p.Topic, string(fields), now.UnixMilli(), by)
	if err != nil {
		return Stored{}, fmt.Errorf("mask: store policy of %s: %w", p.Topic, err)
	}
	return Stored{Policy: p, UpdatedAt: time.UnixMilli(now.UnixMilli()), UpdatedBy: by}, nil
}

// Delete removes the topic's policy; ErrNotFound when it has none.
func (s *Store) Delete(ctx context.Context, topic string) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM mask_policies WHERE topic = ?`), topic)
	if err != nil {
		return fmt.Errorf("mask: delete policy of %s: %w", topic, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Get returns the topic's policy; ErrNotFound when it has none.
func (s *Store) Get(ctx context.Context, topic string) (Stored, error) {
	if s == nil {
		return Stored{}, ErrNotFound
	}
	row := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT topic, fields, updated_at_ms, updated_by FROM mask_policies WHERE topic = ?`), topic)
	p, err := scan(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Stored{}, ErrNotFound
	}
	return p, err
}

// List returns every policy, by topic.
func (s *Store) List(ctx context.Context) ([]Stored, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT topic, fields, updated_at_ms, updated_by FROM mask_policies ORDER BY topic`)
	if err != nil {
		return nil, fmt.Errorf("mask: list policies: %w", err)
	}
	defer rows.Close()
	out := []Stored{}
	for rows.Next() {
		p, err := scan(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func scan(scan func(...any) error) (Stored, error) {
	var p Stored
	var fields string
	var at int64
	if err := scan(&p.Topic, &fields, &at, &p.UpdatedBy); err != nil {
		return Stored{}, err
	}
	if err := json.Unmarshal([]byte(fields), &p.Fields); err != nil {
		return Stored{}, fmt.Errorf("mask: policy of %s: %w", p.Topic, err)
	}
	p.UpdatedAt = time.UnixMilli(at)
	return p, nil
}

// View returns what a reader sees of the records of topic: each record
// with the topic's policy applied, or unchanged when unmask is true or the
// topic has no policy. It reads the policy once; use it for one request.
// If the policy cannot be read, View fails rather than show records whole.
func (s *Store) View(ctx context.Context, topic string, unmask bool) (func(*stream.Record) *stream.Record, error) {
	if s == nil || unmask {
		return unchanged, nil
	}
	p, err := s.Get(ctx, topic)
	switch {
	case errors.Is(err, ErrNotFound):
		return unchanged, nil
	case err != nil:
		return nil, err
	}
	return func(r *stream.Record) *stream.Record {
		out, _ := p.Record(r)
		return out
	}, nil
}

func unchanged(r *stream.Record) *stream.Record { return r }
