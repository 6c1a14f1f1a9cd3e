package schema

import (
	"fmt"
	"strings"
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
