package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/arus-platform/arus/invalid"
)

// Argon2Params are the cost parameters of argon2id password hashes.
type Argon2Params struct {
	// Memory in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
	// KeyLen is the hash length in bytes. Default 32.
	KeyLen uint32
	// SaltLen is the random salt length in bytes. Default 16.
	SaltLen uint32
}

// DefaultArgon2 returns OWASP's recommended argon2id parameters, sized for
// a small (2-core) server: 19 MiB of memory, 2 passes, 1 lane. One hash
// takes some tens of milliseconds there.
func DefaultArgon2() Argon2Params {
	return Argon2Params{Memory: 19456, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}
}

// fill sets default lengths and checks the parameters.
func (p *Argon2Params) fill() error {
	if p.KeyLen == 0 {
		p.KeyLen = 32
	}
	if p.SaltLen == 0 {
		p.SaltLen = 16
	}
	if err := p.check(); err != nil {
		return fmt.Errorf("auth: argon2 parameters: %w", err)
	}
	return nil
}

// check bounds the parameters, including those parsed from a stored hash,
// so that a corrupt row cannot make one login take gigabytes.
func (p Argon2Params) check() error {
	switch {
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.Time < 1 || p.Time > 64:
		return fmt.Errorf("time %d: must be 1 to 64", p.Time)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > 4<<20:
		return fmt.Errorf("memory %d KiB: must be 8×threads to 4 GiB", p.Memory)
	case p.KeyLen < 16 || p.KeyLen > 128:
		return fmt.Errorf("key length %d: must be 16 to 128 bytes", p.KeyLen)
	case p.SaltLen < 8 || p.SaltLen > 64:
		return fmt.Errorf("salt length %d: must be 8 to 64 bytes", p.SaltLen)
	}
	return nil
}

// phcHash is a parsed PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, base64 without padding.
type phcHash struct {
	params Argon2Params
	salt   []byte
	key    []byte
}

func (h phcHash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.Memory, h.params.Time, h.params.Threads,
		base64.RawStdEncoding.EncodeToString(h.salt), base64.RawStdEncoding.EncodeToString(h.key))
}

func parsePHC(s string) (phcHash, error) {
	var h phcHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, errors.New("not an argon2id PHC string")
	}
	if want := fmt.Sprintf("v=%d", argon2.Version); parts[2] != want {
		return h, fmt.Errorf("argon2 version %q: want %s", parts[2], want)
	}
	var m, t uint32
	var p uint8
	_, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p)
	if err != nil || fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) != parts[3] {
		return h, fmt.Errorf("argon2 parameters %q: want m=<KiB>,t=<passes>,p=<lanes>", parts[3])
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil {
		return h, fmt.Errorf("salt: %w", err)
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil {
		return h, fmt.Errorf("hash: %w", err)
	}
	h = phcHash{
		params: Argon2Params{Memory: m, Time: t, Threads: p, KeyLen: uint32(len(key)), SaltLen: uint32(len(salt))},
		salt:   salt,
		key:    key,
	}
	if err := h.params.check(); err != nil {
		return phcHash{}, err
	}
	return h, nil
}

// acquireHashSlot waits for one of the MaxConcurrentHashes slots.
func (s *Store) acquireHashSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.hashSlots <- struct{}{}:
		return func() { <-s.hashSlots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("auth: waiting to hash a password: %w", ctx.Err())
	}
}

// hashPassword hashes pw with a new random salt and the configured
// parameters, as a PHC string.
func (s *Store) hashPassword(ctx context.Context, pw string) (string, error) {
	release, err := s.acquireHashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	p := s.cfg.Argon2
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return phcHash{params: p, salt: salt, key: key}.String(), nil
}

// verifyPassword reports whether pw matches the PHC hash, comparing in
// constant time, and whether the hash should be replaced because it was
// made with other parameters than the configured ones.
func (s *Store) verifyPassword(ctx context.Context, encoded, pw string) (ok, stale bool, err error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, false, fmt.Errorf("auth: stored password hash: %w", err)
	}
	release, err := s.acquireHashSlot(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	key := argon2.IDKey([]byte(pw), h.salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	ok = subtle.ConstantTimeCompare(key, h.key) == 1
	return ok, h.params != s.cfg.Argon2, nil
}

// checkPassword applies the password rules: a length in characters between
// the configured limits, valid UTF-8, and not the username. Following
// NIST SP 800-63B it imposes no composition rules (no "one digit, one
// symbol"); length is what makes a password strong.
func (s *Store) checkPassword(ve *invalid.Fields, field, pw, username string) {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		ve.Add(field, "must be valid UTF-8 text")
	case n < s.cfg.MinPasswordLength:
		ve.Add(field, "must be at least %d characters long (it has %d)", s.cfg.MinPasswordLength, n)
	case n > s.cfg.MaxPasswordLength:
		ve.Add(field, "must be at most %d characters long", s.cfg.MaxPasswordLength)
	case username != "" && strings.EqualFold(pw, username):
		ve.Add(field, "must not be the username")
	}
}

// generatePassword returns a random password of at least the minimum
// length: base32 text with 5 random bits per character (26 characters, 130
// bits, by default).
func (s *Store) generatePassword() string {
	pw := rand.Text()
	for utf8.RuneCountInString(pw) < s.cfg.MinPasswordLength {
		pw += rand.Text()
	}
	return pw
}

// SetPassword checks pw against the password rules and makes it the user's
// password, one they need not change. Every session of the user ends:
// after a password change or reset, the caller logs the user in afresh if
// it should stay logged in.
func (s *Store) SetPassword(ctx context.Context, userID, pw string) error {
	return s.setPassword(ctx, userID, pw, false)
}

func (s *Store) setPassword(ctx context.Context, userID, pw string, mustChange bool) error {
	u, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	ve := invalid.Fields{Kind: ErrInvalid}
	s.checkPassword(&ve, "password", pw, u.Username)
	if err := ve.Err(); err != nil {
		return err
	}
	hash, err := s.hashPassword(ctx, pw)
	if err != nil {
		return err
	}
	return s.storePassword(ctx, userID, hash, mustChange)
}

// ResetPassword gives the user a new random password and returns it, to be
// shown once to whoever passes it on. The user must change it at the next
// sign-in (User.MustChangePassword). Every session of the user ends.
func (s *Store) ResetPassword(ctx context.Context, userID string) (string, error) {
	pw := s.generatePassword()
	if err := s.setPassword(ctx, userID, pw, true); err != nil {
		return "", err
	}
	return pw, nil
}

// ChangePassword is a user replacing their own password: it checks
// username and current as Authenticate does (throttled per account and
// clientIP alike, so that it cannot guess passwords faster than a login),
// then stores next, which must keep the password rules and differ from
// current. It clears User.MustChangePassword and ends every session of the
// user; the console starts a new one for the browser that made the
// change. It returns the user as changed.
//
// It fails with a *invalid.Fields when next breaks the rules (before
// anything else is checked), and otherwise as Authenticate does.
func (s *Store) ChangePassword(ctx context.Context, username, current, next, clientIP string) (User, error) {
	ve := invalid.Fields{Kind: ErrInvalid}
	if next == "" {
		ve.Add("new_password", "is required")
	} else {
		s.checkPassword(&ve, "new_password", next, normalizeUsername(username))
	}
	if err := ve.Err(); err != nil {
		return User{}, err
	}
	u, err := s.verifyLogin(ctx, username, current, clientIP)
	if err != nil {
		return User{}, err
	}
	if next == current {
		ve.Add("new_password", "must differ from the current password")
		return User{}, ve.Err()
	}
	hash, err := s.hashPassword(ctx, next)
	if err != nil {
		return User{}, err
	}
	if err := s.storePassword(ctx, u.ID, hash, false); err != nil {
		return User{}, err
	}
	return s.User(ctx, u.ID)
}

func (s *Store) storePassword(ctx context.Context, userID, hash string, mustChange bool) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		now := toMillis(s.now())
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE auth_users SET password_hash = ?, password_changed_at = ?, must_change_password = ?, updated_at = ? WHERE id = ?`),
			hash, now, mustChange, now, userID)
		if err != nil {
			return fmt.Errorf("auth: set password: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: user %s", ErrNotFound, userID)
		}
		return s.deleteUserSessionsTx(ctx, tx, userID)
	})
	if err == nil {
		s.watch.endUser(userID)
	}
	return err
}

// rehash replaces a hash made with old parameters, unless the password
// changed meanwhile. Failing is harmless: the next login tries again.
func (s *Store) rehash(ctx context.Context, userID, old, pw string) {
	hash, err := s.hashPassword(ctx, pw)
	if err == nil {
		_, err = s.db.ExecContext(ctx, s.db.Rebind(`UPDATE auth_users SET password_hash = ? WHERE id = ? AND password_hash = ?`),
			hash, userID, old)
	}
	if err != nil {
		s.log.WarnContext(ctx, "auth: re-hash password with current parameters", "user_id", userID, "err", err)
	}
}
