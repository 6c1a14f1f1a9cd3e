package schema

import (
	"errors"
	"fmt"
	"strings"

	"github.com/arus-platform/arus/stream"
)

// Sentinel errors, wrapped with the detail of what failed: test with
// errors.Is and show err.Error() to people.
var (
	// ErrNotFound is returned for a subject, version or schema id that
	// does not exist, or was deleted.
	ErrNotFound = errors.New("schema: not found")
	// ErrInvalid marks a bad argument: a subject name, version number or
	// mode that breaks a documented rule.
	ErrInvalid = errors.New("schema: invalid argument")
	// ErrInvalidSchema marks a schema document that is not a JSON Schema
	// the registry can compile; see [*CompileError].
	ErrInvalidSchema = errors.New("schema: invalid JSON Schema")
	// ErrIncompatible marks a version refused by its subject's
	// compatibility mode; see [*IncompatibleError].
	ErrIncompatible = errors.New("schema: incompatible")
	// ErrInvalidValue marks a value that does not match its schema; see
	// [*ValidationError].
	ErrInvalidValue = errors.New("schema: value does not match its schema")
)

// FieldError names one place in a JSON document, by JSON Pointer (RFC
// 6901; "" is the whole document), and what is wrong there.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e FieldError) String() string {
	p := e.Path
	if p == "" {
		p = "(root)"
	}
	return p + ": " + e.Message
}

// joinFieldErrors renders the first few errors on one line.
func joinFieldErrors(errs []FieldError) string {
	const shown = 3
	var parts []string
	for i, e := range errs {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-shown))
			break
		}
		parts = append(parts, e.String())
	}
	return strings.Join(parts, "; ")
}

// CompileError is a schema document that cannot be compiled: not JSON, not
// valid against its JSON Schema meta-schema, with a reference the registry
// cannot resolve, or over the size limit. It wraps [ErrInvalidSchema].
type CompileError struct {
	// Reason is the compiler's reason in one line.
	Reason string
	// Errors, when the meta-schema rejected the document, names each bad
	// keyword by its JSON Pointer in the schema document.
	Errors []FieldError
}

func (e *CompileError) Error() string {
	if len(e.Errors) > 0 {
		return "invalid JSON Schema: " + joinFieldErrors(e.Errors)
	}
	return "invalid JSON Schema: " + e.Reason
}

func (e *CompileError) Unwrap() error { return ErrInvalidSchema }

// IncompatibleError is a version its subject's compatibility mode refuses.
// It wraps [ErrIncompatible].
type IncompatibleError struct {
	Subject string
	Mode    Mode
	// Problems are the reasons, at least one.
	Problems []Incompatibility
}

func (e *IncompatibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schema for %s is incompatible under %s: %s", e.Subject, e.Mode, e.Problems[0])
	if n := len(e.Problems) - 1; n > 0 {
		fmt.Fprintf(&b, " (and %d more)", n)
	}
	return b.String()
}

func (e *IncompatibleError) Unwrap() error { return ErrIncompatible }

// ValidationError is a value that does not match the schema version it
// was checked against. It wraps [ErrInvalidValue] and [stream.ErrInvalid],
// so a producer's caller sees bad input.
type ValidationError struct {
	Subject string
	Version int
	ID      int64
	// Errors names each failing place in the value, at least one.
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("value does not match schema %s version %d (id %d): %s", e.Subject, e.Version, e.ID, joinFieldErrors(e.Errors))
}

func (e *ValidationError) Unwrap() []error { return []error{ErrInvalidValue, stream.ErrInvalid} }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
