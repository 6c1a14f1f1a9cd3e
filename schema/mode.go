package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/arus-platform/arus/store"
)

// Mode is a compatibility mode: which existing versions of a subject a new
// version is checked against, and in which direction. The names are those
// of the Confluent schema registry.
type Mode string

// Compatibility modes.
const (
	// ModeNone checks nothing.
	ModeNone Mode = "NONE"
	// ModeBackward: readers using the new version can read data written
	// with the latest existing version. Every value valid under the latest
	// version must be valid under the new one.
	ModeBackward Mode = "BACKWARD"
	// ModeBackwardTransitive is ModeBackward against every live version.
	ModeBackwardTransitive Mode = "BACKWARD_TRANSITIVE"
	// ModeForward: readers still using the latest existing version can
	// read data written with the new one. Every value valid under the new
	// version must be valid under the latest one.
	ModeForward Mode = "FORWARD"
	// ModeForwardTransitive is ModeForward against every live version.
	ModeForwardTransitive Mode = "FORWARD_TRANSITIVE"
	// ModeFull is ModeBackward and ModeForward against the latest version.
	ModeFull Mode = "FULL"
	// ModeFullTransitive is ModeFull against every live version.
	ModeFullTransitive Mode = "FULL_TRANSITIVE"
)

var modes = []Mode{ModeNone, ModeBackward, ModeBackwardTransitive, ModeForward, ModeForwardTransitive, ModeFull, ModeFullTransitive}

// Modes returns every mode.
func Modes() []Mode { return append([]Mode(nil), modes...) }

// ParseMode reads a mode name, ignoring case and accepting '-' for '_'
// (backward-transitive).
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(s)), "-", "_"))
	if !m.Valid() {
		names := make([]string, len(modes))
		for i, m := range modes {
			names[i] = string(m)
		}
		return "", fmt.Errorf("%w: compatibility mode %q is unknown; use one of %s", ErrInvalid, s, strings.Join(names, ", "))
	}
	return m, nil
}

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool {
	for _, k := range modes {
		if m == k {
			return true
		}
	}
	return false
}

// Transitive reports whether m checks against every live version rather
// than the latest only.
func (m Mode) Transitive() bool { return strings.HasSuffix(string(m), "_TRANSITIVE") }

// backward reports whether m requires new readers to read old data.
func (m Mode) backward() bool {
	return m == ModeBackward || m == ModeBackwardTransitive || m == ModeFull || m == ModeFullTransitive
}

// forward reports whether m requires old readers to read new data.
func (m Mode) forward() bool {
	return m == ModeForward || m == ModeForwardTransitive || m == ModeFull || m == ModeFullTransitive
}

// Mode returns the compatibility mode of subject, and whether it is the
// subject's own rather than the registry default. A subject need not exist
// yet to have a mode.
func (r *Registry) Mode(ctx context.Context, subject string) (Mode, bool, error) {
	if err := ValidateSubject(subject); err != nil {
		return "", false, err
	}
	m, set, err := r.mode(ctx, r.db, subject)
	if err != nil {
		return "", false, r.fail("get the mode of "+subject, err)
	}
	return m, set, nil
}

func (r *Registry) mode(ctx context.Context, q store.Querier, subject string) (Mode, bool, error) {
	var mode string
	err := q.QueryRowContext(ctx, r.db.Rebind(`SELECT mode FROM schema_subjects WHERE name = ?`), subject).Scan(&mode)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", false, err
	}
	if mode != "" {
		return Mode(mode), true, nil
	}
	def, err := r.defaultMode(ctx, q)
	return def, false, err
}

// SetMode sets the compatibility mode of subject; "" returns it to the
// registry default. Versions registered before are not checked again.
func (r *Registry) SetMode(ctx context.Context, subject string, m Mode) error {
	if err := ValidateSubject(subject); err != nil {
		return err
	}
	if m != "" && !m.Valid() {
		return invalidf("compatibility mode %q is unknown", m)
	}
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO schema_subjects (name, mode, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET mode = excluded.mode`), subject, string(m), r.cfg.Now().UnixMilli())
	if err != nil {
		return r.fail("set the mode of "+subject, err)
	}
	return nil
}

const defaultModeSetting = "default_mode"

// DefaultMode returns the mode of subjects without their own.
func (r *Registry) DefaultMode(ctx context.Context) (Mode, error) {
	m, err := r.defaultMode(ctx, r.db)
	if err != nil {
		return "", r.fail("get the default mode", err)
	}
	return m, nil
}

func (r *Registry) defaultMode(ctx context.Context, q store.Querier) (Mode, error) {
	var m string
	err := q.QueryRowContext(ctx, r.db.Rebind(`SELECT value FROM schema_settings WHERE name = ?`), defaultModeSetting).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return r.cfg.DefaultMode, nil
	}
	return Mode(m), err
}

// SetDefaultMode stores the mode of subjects without their own, replacing
// Config.DefaultMode.
func (r *Registry) SetDefaultMode(ctx context.Context, m Mode) error {
	if !m.Valid() {
		return invalidf("compatibility mode %q is unknown", m)
	}
	_, err := r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO schema_settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`), defaultModeSetting, string(m))
	if err != nil {
		return r.fail("set the default mode", err)
	}
	return nil
}
