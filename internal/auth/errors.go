package auth

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors, for errors.Is. Errors returned by the Store wrap them
// with context.
var (
	// ErrNotFound: no such user, session or API key.
	ErrNotFound = errors.New("auth: not found")
	// ErrUsernameTaken: another user has the username.
	ErrUsernameTaken = errors.New("auth: username is taken")
	// ErrInvalidCredentials: the username and password, or the API key, do
	// not match. It never says which part was wrong.
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
	// ErrThrottled: too many failed logins; the error is a
	// *ThrottledError saying when to retry.
	ErrThrottled = errors.New("auth: too many failed attempts")
	// ErrExpired: the session or API key has expired.
	ErrExpired = errors.New("auth: expired")
	// ErrRevoked: the API key was revoked.
	ErrRevoked = errors.New("auth: revoked")
	// ErrDisabled: the user is disabled (or owns the API key and is
	// disabled). Login returns it only after the password was verified.
	ErrDisabled = errors.New("auth: user is disabled")
	// ErrUnconfirmed: a customer signed in with the right password before
	// confirming their e-mail address.
	ErrUnconfirmed = errors.New("auth: the e-mail address is not confirmed yet")
	// ErrPasswordChangeRequired: the session's user must change a generated
	// password before the session may be used for anything else. It
	// wraps ErrInvalidCredentials, so callers that know only that refuse
	// the session as well.
	ErrPasswordChangeRequired = fmt.Errorf("%w: the user must change their password first", ErrInvalidCredentials)
	// ErrLastAdmin: the change would leave no enabled administrator.
	ErrLastAdmin = errors.New("auth: no enabled admin would remain")
	// ErrInvalid: input broke a rule; the error is an *invalid.Fields
	// naming the fields.
	ErrInvalid = errors.New("auth: invalid input")
)

// ThrottledError is returned when logins for an account from an address,
// or from an address as a whole, are locked after repeated failures. It matches ErrThrottled under
// errors.Is; RetryAfter suits an HTTP Retry-After header.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many failed attempts; retry in %s", e.RetryAfter.Round(time.Second))
}

// Unwrap returns ErrThrottled.
func (e *ThrottledError) Unwrap() error { return ErrThrottled }
