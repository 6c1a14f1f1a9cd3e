package stream

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Backends wrap them with the detail of what failed, so
// callers test with errors.Is and show err.Error() to people.
var (
	// ErrInvalid marks bad input: a topic name, partition count, offset,
	// timestamp, group name or broker URL that breaks a documented rule.
	ErrInvalid = errors.New("invalid argument")
	// ErrTopicNotFound is returned for a topic that does not exist.
	ErrTopicNotFound = errors.New("topic not found")
	// ErrTopicExists is returned when creating a topic that already exists.
	ErrTopicExists = errors.New("topic already exists")
	// ErrGroupNotFound is returned for a consumer group that has never
	// committed an offset.
	ErrGroupNotFound = errors.New("consumer group not found")
	// ErrGroupActive is returned when resetting the offsets of a group that
	// has live members: stop its consumers first.
	ErrGroupActive = errors.New("consumer group has active members")
	// ErrRecordTooLarge is returned for a record larger than the broker's
	// maximum record size.
	ErrRecordTooLarge = errors.New("record too large")
	// ErrOffsetOutOfRange is returned when reading past a partition's end.
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrClosed is returned by a broker after Close.
	ErrClosed = errors.New("broker closed")
	// ErrUnavailable marks a failure to reach the engine (connection refused,
	// timeout); retrying later may succeed.
	ErrUnavailable = errors.New("broker unavailable")
)

// Invalidf returns an error wrapping [ErrInvalid] with a message that names the
// offending value and the rule it breaks.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ProduceError reports a produce call in which some records were not stored.
// Records whose index is not in Failed were stored and are durable.
type ProduceError struct {
	// Failed holds the indexes, in the slice passed to Produce, of the
	// records that were not stored, in increasing order.
	Failed []int
	// Err is the cause, for the first failed record.
	Err error
}

func (e *ProduceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "produce: %d record(s) not stored", len(e.Failed))
	if len(e.Failed) <= 8 {
		fmt.Fprintf(&b, " (index %v)", e.Failed)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *ProduceError) Unwrap() error { return e.Err }

// AllFailed returns a ProduceError in which all n records failed with err.
func AllFailed(n int, err error) *ProduceError {
	failed := make([]int, n)
	for i := range failed {
		failed[i] = i
	}
	return &ProduceError{Failed: failed, Err: err}
}

// PartialError is returned by a [Handler] that processed only the first N
// records of its batch before failing with Err. The first N records are
// committed; the rest are delivered again.
type PartialError struct {
	N   int
	Err error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("handler failed after %d record(s): %v", e.N, e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }

// Processed returns how many records of a batch of size n a handler error
// says were processed: N for a [*PartialError], 0 for any other error and n
// for nil.
func Processed(err error, n int) int {
	if err == nil {
		return n
	}
	var pe *PartialError
	if errors.As(err, &pe) && pe.N >= 0 && pe.N <= n {
		return pe.N
	}
	return 0
}
