package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Authenticate checks a username and password and returns the user. It is
// the login: on success, start a session with CreateSession.
//
// It fails with ErrInvalidCredentials whether the username is unknown, the
// user has no password or the password is wrong, taking about as long in
// each case (an unknown user's attempt hashes against a dummy); with a
// *ThrottledError (ErrThrottled) while this account from clientIP, or
// clientIP as a whole, is locked after repeated failures (see
// ThrottleConfig), without checking the password; and with ErrDisabled for
// a disabled user, only once the password was verified. clientIP is the
// address ClientIP returns for the request; it may be empty when there is
// none (then every such attempt counts as one address).
//
// A customer (RoleCustomer) who registered by e-mail signs in only once the
// address is confirmed: before, the right password gets ErrUnconfirmed.
//
// A hash made with other parameters than Config.Argon2 is replaced after a
// successful login.
func (s *Store) Authenticate(ctx context.Context, username, password, clientIP string) (User, error) {
	u, err := s.verifyLogin(ctx, username, password, clientIP)
	if err != nil {
		return User{}, err
	}
	if u.HasRole(RoleCustomer) && !u.Confirmed {
		return User{}, ErrUnconfirmed
	}
	return u, nil
}

// verifyLogin is Authenticate without the confirmation check: changing
// one's password needs no confirmed address.
func (s *Store) verifyLogin(ctx context.Context, username, password, clientIP string) (User, error) {
	uname := normalizeUsername(username)
	subs := s.throttleSubjects(uname, clientIP)
	if err := s.reserveAttempt(ctx, subs); err != nil {
		return User{}, err
	}
	u, hash, err := s.credentials(ctx, uname)
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.finishAttempt(ctx, subs, attemptAborted)
		return User{}, err
	}
	found := err == nil && hash != ""
	if !found {
		hash = s.dummyHash
	}
	ok := false
	stale := false
	// An absurdly long password cannot be right; do not spend time
	// hashing it.
	if len(password) <= 4*s.cfg.MaxPasswordLength {
		ok, stale, err = s.verifyPassword(ctx, hash, password)
		if err != nil {
			s.finishAttempt(ctx, subs, attemptAborted)
			return User{}, err
		}
	}
	if !ok || !found {
		s.finishAttempt(ctx, subs, attemptFailed)
		return User{}, ErrInvalidCredentials
	}
	s.finishAttempt(ctx, subs, attemptSucceeded)
	if u.Disabled {
		return User{}, ErrDisabled
	}
	if stale {
		s.rehash(ctx, u.ID, hash, password)
	}
	return u, nil
}

// credentials loads a user by username with their password hash.
func (s *Store) credentials(ctx context.Context, username string) (User, string, error) {
	if !usernamePattern.MatchString(username) {
		return User{}, "", ErrNotFound
	}
	var hash string
	u, err := scanUser(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+`, u.password_hash FROM auth_users u WHERE u.username = ?`), username), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", ErrNotFound
	}
	if err != nil {
		return User{}, "", fmt.Errorf("auth: load user: %w", err)
	}
	if u.Roles, err = s.userRoles(ctx, s.db, u.ID); err != nil {
		return User{}, "", err
	}
	return u, hash, nil
}
