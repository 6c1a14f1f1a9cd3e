package schema

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/arus-platform/arus/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Latest names the latest live version of a subject where a version number
// is expected.
const Latest = -1

// Config configures a [Registry].
type Config struct {
	// DefaultMode is the compatibility mode of subjects that have none of
	// their own, until one is stored with SetDefaultMode. Default
	// ModeBackward.
	DefaultMode Mode
	// MaxSchemaBytes bounds a schema document. Default 256 KiB: ample for
	// event schemas, and small enough that compiling one stays quick.
	MaxSchemaBytes int
	// Metrics counts registrations and compatibility rejections; nil
	// counts nothing.
	Metrics *Metrics
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.DefaultMode == "" {
		c.DefaultMode = ModeBackward
	}
	if !c.DefaultMode.Valid() {
		return fmt.Errorf("schema: default mode: %w", invalidf("compatibility mode %q is unknown", c.DefaultMode))
	}
	if c.MaxSchemaBytes < 0 {
		return fmt.Errorf("schema: max schema bytes %d: must not be negative", c.MaxSchemaBytes)
	}
	if c.MaxSchemaBytes == 0 {
		c.MaxSchemaBytes = 256 << 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Version is one registered version of a subject's schema.
type Version struct {
	// ID is the schema id: unique across all subjects and never given out
	// again, even after a delete. Records carry it in the arus-schema-id
	// header.
	ID      int64  `json:"id"`
	Subject string `json:"subject"`
	// Version numbers a subject's versions from 1; numbers are never
	// reused.
	Version int `json:"version"`
	// Schema is the JSON Schema document as registered, compacted. Listings
	// leave it out.
	Schema    json.RawMessage `json:"schema,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	// Deleted marks a soft-deleted version: only a lookup by id still
	// finds it, so that records written with it can still be read.
	Deleted bool `json:"deleted,omitempty"`
}

// Subject describes one subject.
type Subject struct {
	Name string `json:"subject"`
	// Versions counts the live versions.
	Versions int `json:"versions"`
	// Latest is the latest live version and LatestID its id; 0 when none.
	Latest   int   `json:"latest"`
	LatestID int64 `json:"latest_id,omitempty"`
	// Mode is the subject's compatibility mode: its own when ModeSet, else
	// the registry default.
	Mode    Mode `json:"mode"`
	ModeSet bool `json:"mode_set"`
	// Deleted marks a subject whose versions were all deleted.
	Deleted bool `json:"deleted,omitempty"`
}

// Check is the outcome of checking a schema against a subject without
// registering it.
type Check struct {
	Subject string `json:"subject"`
	// Mode is the subject's compatibility mode.
	Mode Mode `json:"mode"`
	// Compatible says whether Register would accept the schema.
	Compatible bool `json:"compatible"`
	// Versions are the existing versions the schema was compared with.
	Versions []int `json:"versions"`
	// Problems are the reasons it is not compatible.
	Problems []Incompatibility `json:"problems,omitempty"`
	// Existing, when the schema is registered already, is that version:
	// Register would return it rather than add one.
	Existing *Version `json:"existing,omitempty"`
}

var subjectName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,255}$`)

// ValidateSubject checks a subject name: 1 to 255 characters of a-z, A-Z,
// 0-9, '.', '_' and '-' (a topic name and a suffix such as "-value").
func ValidateSubject(name string) error {
	if !subjectName.MatchString(name) {
		return invalidf("subject name %q: use 1 to 255 characters of a-z, A-Z, 0-9, '.', '_' and '-'", name)
	}
	return nil
}

// SubjectFunc names the subject of a topic's record values.
type SubjectFunc func(topic string) string

// TopicValue is the default subject naming: "<topic>-value", one subject
// per topic.
func TopicValue(topic string) string { return topic + "-value" }

// Registry keeps subjects and their schema versions in the "schema"
// component's database, and checks each new version against the subject's
// compatibility mode. It is safe for concurrent use, and several processes
// may share one database: registrations to one subject are serialised by
// a lock on the subject's row, so two concurrent versions are each checked
// against the other.
type Registry struct {
	db  *store.DB
	cfg Config
}

// Open migrates the registry's tables in db and returns a Registry over
// them. The migrations are recorded under db's component, so give the
// registry a store of its own (store.Config{Component: "schema"}), not one
// whose component has migrations of its own.
func Open(ctx context.Context, db *store.DB, cfg Config) (*Registry, error) {
	if db == nil {
		return nil, errors.New("schema: no database")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("schema: migrations: %w", err)
	}
	if err := db.Migrate(ctx, sub); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return &Registry{db: db, cfg: cfg}, nil
}

// MaxSchemaBytes is the size of the largest schema document r accepts
// ([Config.MaxSchemaBytes]).
func (r *Registry) MaxSchemaBytes() int { return r.cfg.MaxSchemaBytes }

// Register adds doc as the next version of subject, after checking it
// against the subject's compatibility mode, and returns it with created
// true. When the subject already has a live version with the same
// document (ignoring key order and spacing), it returns that version with
// created false and adds nothing.
//
// It fails with a [*CompileError] when doc is not a JSON Schema, and with an
// [*IncompatibleError] when the mode refuses it.
func (r *Registry) Register(ctx context.Context, subject string, doc []byte) (v Version, created bool, err error) {
	if err := ValidateSubject(subject); err != nil {
		return Version{}, false, err
	}
	sch, body, fp, err := r.prepare(doc)
	if err != nil {
		return Version{}, false, err
	}
	err = r.db.InTx(ctx, func(tx *sql.Tx) error {
		now := r.cfg.Now().UnixMilli()
		mode, err := r.lockSubject(ctx, tx, subject, now)
		if err != nil {
			return err
		}
		live, err := r.liveVersions(ctx, tx, subject)
		if err != nil {
			return err
		}
		for _, l := range live {
			if l.fingerprint == fp {
				v = l.Version
				return nil
			}
		}
		problems, _, err := checkAgainst(mode, sch, live)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return &IncompatibleError{Subject: subject, Mode: mode, Problems: problems}
		}
		var last int
		if err := tx.QueryRowContext(ctx, r.db.Rebind(`SELECT COALESCE(MAX(version), 0) FROM schema_versions WHERE subject = ?`),
			subject).Scan(&last); err != nil {
			return err
		}
		v = Version{Subject: subject, Version: last + 1, Schema: body, CreatedAt: time.UnixMilli(now).UTC()}
		if err := tx.QueryRowContext(ctx, r.db.Rebind(`INSERT INTO schema_versions (subject, version, body, fingerprint, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`), subject, v.Version, string(body), fp, now).Scan(&v.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE schema_subjects SET deleted_at = 0 WHERE name = ?`), subject); err != nil {
			return err
		}
		created = true
		return nil
	})
	var ie *IncompatibleError
	switch {
	case errors.As(err, &ie):
		r.cfg.Metrics.rejected(subject, ie.Problems)
		return Version{}, false, err
	case err != nil:
		return Version{}, false, r.fail("register a version of "+subject, err)
	}
	if created {
		r.cfg.Metrics.registeredVersion(subject)
	}
	return v, created, nil
}

// Check reports whether Register would accept doc for subject, without
// registering it.
func (r *Registry) Check(ctx context.Context, subject string, doc []byte) (Check, error) {
	if err := ValidateSubject(subject); err != nil {
		return Check{}, err
	}
	sch, _, fp, err := r.prepare(doc)
	if err != nil {
		return Check{}, err
	}
	mode, _, err := r.mode(ctx, r.db, subject)
	if err != nil {
		return Check{}, r.fail("check a schema for "+subject, err)
	}
	live, err := r.liveVersions(ctx, r.db, subject)
	if err != nil {
		return Check{}, r.fail("check a schema for "+subject, err)
	}
	c := Check{Subject: subject, Mode: mode, Versions: []int{}}
	for _, l := range live {
		if l.fingerprint == fp {
			v := l.Version
			c.Existing = &v
			c.Compatible = true
			return c, nil
		}
	}
	c.Problems, c.Versions, err = checkAgainst(mode, sch, live)
	if err != nil {
		return Check{}, r.fail("check a schema for "+subject, err)
	}
	c.Compatible = len(c.Problems) == 0
	return c, nil
}

// prepare checks and compiles a document and returns its stored form.
func (r *Registry) prepare(doc []byte) (*jsonschema.Schema, []byte, string, error) {
	if len(doc) > r.cfg.MaxSchemaBytes {
		return nil, nil, "", &CompileError{Reason: fmt.Sprintf("the schema is %d bytes, more than the limit of %d", len(doc), r.cfg.MaxSchemaBytes)}
	}
	sch, err := compile(doc)
	if err != nil {
		return nil, nil, "", err
	}
	body, fp, err := canonical(doc)
	if err != nil {
		return nil, nil, "", err
	}
	return sch, body, fp, nil
}

// checkAgainst compares sch with the versions mode names among live (in
// version order) and returns the problems and the versions compared.
func checkAgainst(mode Mode, sch *jsonschema.Schema, live []storedVersion) ([]Incompatibility, []int, error) {
	if mode == ModeNone || len(live) == 0 {
		return nil, []int{}, nil
	}
	against := live[len(live)-1:]
	if mode.Transitive() {
		against = live
	}
	var problems []Incompatibility
	versions := []int{}
	for i := len(against) - 1; i >= 0; i-- {
		old, err := compile(against[i].Schema)
		if err != nil {
			return nil, nil, fmt.Errorf("compile stored version %d: %w", against[i].Version.Version, err)
		}
		versions = append(versions, against[i].Version.Version)
		problems = append(problems, compareCompiled(old, sch, mode, against[i].Version.Version)...)
	}
	return problems, versions, nil
}

// lockSubject makes sure the subject's row exists, locks it until the
// transaction ends and returns the subject's mode.
func (r *Registry) lockSubject(ctx context.Context, tx *sql.Tx, subject string, now int64) (Mode, error) {
	if _, err := tx.ExecContext(ctx, r.db.Rebind(`INSERT INTO schema_subjects (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`),
		subject, now); err != nil {
		return "", err
	}
	q := `SELECT mode FROM schema_subjects WHERE name = ?`
	if r.db.Dialect == store.Postgres {
		q += ` FOR UPDATE` // SQLite transactions hold the write lock from BEGIN
	}
	var mode string
	if err := tx.QueryRowContext(ctx, r.db.Rebind(q), subject).Scan(&mode); err != nil {
		return "", err
	}
	if mode != "" {
		return Mode(mode), nil
	}
	return r.defaultMode(ctx, tx)
}

// storedVersion is a version with its fingerprint.
type storedVersion struct {
	Version
	fingerprint string
}

// liveVersions returns the subject's live versions with their documents,
// in version order.
func (r *Registry) liveVersions(ctx context.Context, q store.Querier, subject string) ([]storedVersion, error) {
	rows, err := q.QueryContext(ctx, r.db.Rebind(`SELECT id, version, body, fingerprint, created_at FROM schema_versions
		WHERE subject = ? AND deleted_at = 0 ORDER BY version`), subject)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storedVersion
	for rows.Next() {
		var v storedVersion
		var body string
		var created int64
		if err := rows.Scan(&v.ID, &v.Version.Version, &body, &v.fingerprint, &created); err != nil {
			return nil, err
		}
		v.Subject, v.Schema, v.CreatedAt = subject, json.RawMessage(body), time.UnixMilli(created).UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}

// fail wraps a storage error with what was being done; the registry's own
// errors (not found, invalid, incompatible) go through as they are.
func (r *Registry) fail(what string, err error) error {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrInvalidSchema) || errors.Is(err, ErrIncompatible) {
		return err
	}
	return fmt.Errorf("schema: %s: %w", what, err)
}
