package ticketing

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors callers act on; match them with errors.Is.
var (
	// ErrNotFound: no such merchant, event, area, order, ticket or refund.
	ErrNotFound = errors.New("ticketing: not found")
	// ErrConflict: the request does not fit the current state (an event
	// not in a state that allows it, an idempotency key used for another
	// order, a name taken).
	ErrConflict = errors.New("ticketing: conflict")
	// ErrSoldOut: an area has fewer free tickets than an order asks for.
	ErrSoldOut = errors.New("ticketing: sold out")
	// ErrForbidden: the caller may not act on this merchant's data.
	ErrForbidden = errors.New("ticketing: forbidden")
)

// FieldError is one bad field of an input.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every bad field of an input.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "ticketing: invalid input: " + strings.Join(parts, "; ")
}

// checker collects field errors.
type checker struct{ fields []FieldError }

func (c *checker) fail(field, format string, args ...any) {
	c.fields = append(c.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) text(field, v string, min, max int) {
	n := len([]rune(strings.TrimSpace(v)))
	switch {
	case n < min && min == 1:
		c.fail(field, "is required")
	case n < min:
		c.fail(field, "must be at least %d characters", min)
	case n > max:
		c.fail(field, "must be at most %d characters", max)
	}
}

func (c *checker) oneOf(field, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.fail(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

func (c *checker) window(startField, endField string, start, end time.Time) {
	switch {
	case start.IsZero():
		c.fail(startField, "is required")
	case end.IsZero():
		c.fail(endField, "is required")
	case !end.After(start):
		c.fail(endField, "must be after %s", startField)
	}
}

func (c *checker) err() error {
	if len(c.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: c.fields}
}

// newID returns a random id with a prefix naming its kind, usable as an
// inventory, saga and stream key (letters, digits and '_').
func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// secret returns a random secret of n bytes in hex, for ticket codes and
// staff QR codes.
func secret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
