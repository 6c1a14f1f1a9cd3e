package consume

import (
	"errors"
	"fmt"
	"time"
)

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: the [Retry] middleware does not retry
// it and the [DeadLetter] middleware dead-letters the record at once. A nil
// err stays nil. errors.Is and errors.As still see through the mark.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// [Permanent]. A recovered panic ([*PanicError]) is permanent as well.
func IsPermanent(err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return true
	}
	var panicked *PanicError
	return errors.As(err, &panicked)
}

// PanicError is the error a handler's panic becomes under the [Recover]
// middleware. It is permanent: the same record would panic again.
type PanicError struct {
	// Value is what the handler panicked with.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// ErrStopping is returned for records that were not finished because the
// runtime is shutting down: a retry that was waiting gives up with it, and
// records not yet started are released with it. Such records are not
// committed and are delivered again to the partition's next owner; the
// [DeadLetter] middleware never dead-letters them.
var ErrStopping = errors.New("consume: stopping")

// RetryError is what the [Retry] middleware returns when it gives up: the
// last error with the attempts made and when the first and the last
// failed. The [DeadLetter] middleware copies these into the dead letter's
// headers.
type RetryError struct {
	Err         error
	Attempts    int
	FirstFailed time.Time
	LastFailed  time.Time
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("after %d attempt(s): %v", e.Attempts, e.Err)
}

func (e *RetryError) Unwrap() error { return e.Err }
