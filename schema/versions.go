package schema

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
)

// Reading and deleting versions and subjects.

const versionColumns = `id, subject, version, body, created_at, deleted_at`

func scanVersion(row interface{ Scan(...any) error }) (Version, error) {
	var v Version
	var body string
	var created, deleted int64
	if err := row.Scan(&v.ID, &v.Subject, &v.Version, &body, &created, &deleted); err != nil {
		return Version{}, err
	}
	v.Schema, v.CreatedAt, v.Deleted = json.RawMessage(body), time.UnixMilli(created).UTC(), deleted != 0
	return v, nil
}

// Version returns a live version of subject, or its latest live version
// for [Latest].
func (r *Registry) Version(ctx context.Context, subject string, version int) (Version, error) {
	if err := ValidateSubject(subject); err != nil {
		return Version{}, err
	}
	v, err := r.version(ctx, r.db, subject, version)
	if err != nil {
		return Version{}, r.fail("get version of "+subject, err)
	}
	return v, nil
}

func (r *Registry) version(ctx context.Context, q store.Querier, subject string, version int) (Version, error) {
	var row *sql.Row
	switch {
	case version == Latest:
		row = q.QueryRowContext(ctx, r.db.Rebind(`SELECT `+versionColumns+` FROM schema_versions
			WHERE subject = ? AND deleted_at = 0 ORDER BY version DESC LIMIT 1`), subject)
	case version > 0:
		row = q.QueryRowContext(ctx, r.db.Rebind(`SELECT `+versionColumns+` FROM schema_versions
			WHERE subject = ? AND version = ? AND deleted_at = 0`), subject, version)
	default:
		return Version{}, invalidf("version %d: versions are numbered from 1", version)
	}
	v, err := scanVersion(row)
	if errors.Is(err, sql.ErrNoRows) {
		if version == Latest {
			return Version{}, invalid.Refuse(ErrNotFound, "subject_unknown", "subject %s has no versions", subject)
		}
		return Version{}, invalid.Refuse(ErrNotFound, "version_unknown", "subject %s has no version %d", subject, version)
	}
	return v, err
}

// ByID returns the version with schema id id, soft-deleted or not.
func (r *Registry) ByID(ctx context.Context, id int64) (Version, error) {
	v, err := scanVersion(r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT `+versionColumns+` FROM schema_versions WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, invalid.Refuse(ErrNotFound, "schema_id_unknown", "no schema has id %d", id)
	}
	if err != nil {
		return Version{}, r.fail(fmt.Sprintf("get schema %d", id), err)
	}
	return v, nil
}

// Subjects lists the subjects with at least one live version, sorted by
// name; with deleted, also those whose versions were all deleted.
func (r *Registry) Subjects(ctx context.Context, deleted bool) ([]Subject, error) {
	def, err := r.defaultMode(ctx, r.db)
	if err != nil {
		return nil, r.fail("list subjects", err)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT s.name, s.mode,
		(SELECT COUNT(*) FROM schema_versions v WHERE v.subject = s.name AND v.deleted_at = 0),
		(SELECT COUNT(*) FROM schema_versions v WHERE v.subject = s.name),
		COALESCE((SELECT MAX(v.version) FROM schema_versions v WHERE v.subject = s.name AND v.deleted_at = 0), 0),
		COALESCE((SELECT v.id FROM schema_versions v WHERE v.subject = s.name AND v.deleted_at = 0 ORDER BY v.version DESC LIMIT 1), 0)
		FROM schema_subjects s ORDER BY s.name`)
	if err != nil {
		return nil, r.fail("list subjects", err)
	}
	defer rows.Close()
	out := []Subject{}
	for rows.Next() {
		var s Subject
		var mode string
		var all int
		if err := rows.Scan(&s.Name, &mode, &s.Versions, &all, &s.Latest, &s.LatestID); err != nil {
			return nil, r.fail("list subjects", err)
		}
		s.Mode, s.ModeSet = Mode(mode), mode != ""
		if !s.ModeSet {
			s.Mode = def
		}
		s.Deleted = s.Versions == 0
		if s.Versions > 0 || (deleted && all > 0) {
			out = append(out, s)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail("list subjects", err)
	}
	return out, nil
}

// Versions lists the versions of subject in order, without their
// documents: the live ones, and with deleted also the deleted ones.
func (r *Registry) Versions(ctx context.Context, subject string, deleted bool) ([]Version, error) {
	if err := ValidateSubject(subject); err != nil {
		return nil, err
	}
	q := `SELECT id, version, created_at, deleted_at FROM schema_versions WHERE subject = ?`
	if !deleted {
		q += ` AND deleted_at = 0`
	}
	rows, err := r.db.QueryContext(ctx, r.db.Rebind(q+` ORDER BY version`), subject)
	if err != nil {
		return nil, r.fail("list versions of "+subject, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v := Version{Subject: subject}
		var created, del int64
		if err := rows.Scan(&v.ID, &v.Version, &created, &del); err != nil {
			return nil, r.fail("list versions of "+subject, err)
		}
		v.CreatedAt, v.Deleted = time.UnixMilli(created).UTC(), del != 0
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail("list versions of "+subject, err)
	}
	if len(out) == 0 {
		return nil, invalid.Refuse(ErrNotFound, "subject_unknown", "subject %s has no versions", subject)
	}
	return out, nil
}

// DeleteVersion soft-deletes a live version of subject (or the latest, for
// [Latest]) and returns it. The version is no longer listed, used as the
// latest, or compared with new versions; ByID still finds it, and its
// number and id are never given out again.
func (r *Registry) DeleteVersion(ctx context.Context, subject string, version int) (Version, error) {
	if err := ValidateSubject(subject); err != nil {
		return Version{}, err
	}
	var v Version
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if v, err = r.version(ctx, tx, subject, version); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, r.db.Rebind(`UPDATE schema_versions SET deleted_at = ? WHERE id = ?`), r.cfg.Now().UnixMilli(), v.ID)
		return err
	})
	if err != nil {
		return Version{}, r.fail("delete a version of "+subject, err)
	}
	v.Deleted = true
	return v, nil
}

// DeleteSubject soft-deletes every live version of subject and returns
// their numbers. The subject keeps its mode; registering to it again
// continues its version numbers.
func (r *Registry) DeleteSubject(ctx context.Context, subject string) ([]int, error) {
	if err := ValidateSubject(subject); err != nil {
		return nil, err
	}
	var deleted []int
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		live, err := r.liveVersions(ctx, tx, subject)
		if err != nil {
			return err
		}
		if len(live) == 0 {
			return invalid.Refuse(ErrNotFound, "subject_unknown", "subject %s has no versions", subject)
		}
		now := r.cfg.Now().UnixMilli()
		if _, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE schema_versions SET deleted_at = ? WHERE subject = ? AND deleted_at = 0`), now, subject); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, r.db.Rebind(`UPDATE schema_subjects SET deleted_at = ? WHERE name = ?`), now, subject); err != nil {
			return err
		}
		for _, l := range live {
			deleted = append(deleted, l.Version.Version)
		}
		return nil
	})
	if err != nil {
		return nil, r.fail("delete subject "+subject, err)
	}
	return deleted, nil
}
