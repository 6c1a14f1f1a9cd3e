package ticketing

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
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
	// ErrInvalid: the input broke a rule; the error is an *invalid.Fields
	// naming every bad field.
	ErrInvalid = errors.New("ticketing: invalid input")
)

// checker collects field errors with the rules ticketing's inputs share.
type checker struct{ invalid.Fields }

func (c *checker) text(field, v string, min, max int) {
	n := len([]rune(strings.TrimSpace(v)))
	switch {
	case n < min && min == 1:
		c.Add(field, "is required")
	case n < min:
		c.Add(field, "must be at least %d characters", min)
	case n > max:
		c.Add(field, "must be at most %d characters", max)
	}
}

func (c *checker) oneOf(field, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.Add(field, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

func (c *checker) window(startField, endField string, start, end time.Time) {
	switch {
	case start.IsZero():
		c.Add(startField, "is required")
	case end.IsZero():
		c.Add(endField, "is required")
	case !end.After(start):
		c.Add(endField, "must be after %s", startField)
	}
}

// err returns the field errors under ErrInvalid, or nil when there are
// none.
func (c *checker) err() error {
	c.Kind = ErrInvalid
	return c.Err()
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
