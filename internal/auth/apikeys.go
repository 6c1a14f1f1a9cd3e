package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
)

// APIKey is a credential for applications, services and devices,
// presented as "arus_<prefix>_<secret>" (in an Authorization: Bearer
// header). The prefix, 8 random characters, is not secret: it names the key
// in listings and logs. The secret, 256 random bits, is returned only by
// CreateAPIKey and RotateAPIKey; the Store keeps only its SHA-256, which
// is fine for a secret of that entropy (nobody can guess a preimage) and
// keeps verification fast enough for ingest traffic.
type APIKey struct {
	ID     string
	Prefix string
	Name   string
	// OwnerID is the user the key acts for, or empty for a key of its own
	// (a service or device key). An owned key never grants more than its
	// owner may currently do, and is refused while the owner is disabled.
	OwnerID string
	// Scopes are the permissions the key grants, each either bare
	// ("records.produce": on every resource) or qualified by one resource
	// ("relay.ingest:cars"). Keys returned by VerifyAPIKey hold only the
	// scopes their owner may still exercise.
	Scopes    []string
	CreatedAt time.Time
	// ExpiresAt is zero for a key that does not expire.
	ExpiresAt time.Time
	// LastUsedAt is written at most once per Config.TouchInterval.
	LastUsedAt time.Time
	RotatedAt  time.Time
	RevokedAt  time.Time
}

// Allows reports whether the key grants p on resource: some scope is p
// itself, or p qualified by exactly this resource. A qualified scope does
// not grant the permission without a resource (resource ""). Allows looks
// only at scopes; VerifyAPIKey has already refused revoked, expired and
// disabled-owner keys.
func (k APIKey) Allows(p Permission, resource string) bool {
	for _, sc := range k.Scopes {
		sp, res, qualified := strings.Cut(sc, ":")
		if Permission(sp) == p && (!qualified || res == resource) {
			return true
		}
	}
	return false
}

// NewAPIKey is the input of CreateAPIKey.
type NewAPIKey struct {
	Name    string
	OwnerID string
	Scopes  []string
	// ExpiresAt, when set, must be in the future.
	ExpiresAt time.Time
}

const (
	keyMarker    = "arus_"
	prefixLen    = 8  // characters: 40 random bits
	secretLen    = 52 // characters: 256 random bits
	maxKeyName   = 100
	maxKeyScopes = 64
)

// keyEncoding is lowercase base32 without padding: no characters that
// need escaping anywhere, and a key selects with one double-click.
var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newKeyPrefix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return keyEncoding.EncodeToString(b[:])
}

func newKeySecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return keyEncoding.EncodeToString(b[:])
}

// parseKey splits a presented key into prefix and secret.
func parseKey(s string) (prefix, secret string, ok bool) {
	rest, ok := strings.CutPrefix(s, keyMarker)
	if !ok || len(rest) != prefixLen+1+secretLen || rest[prefixLen] != '_' {
		return "", "", false
	}
	prefix, secret = rest[:prefixLen], rest[prefixLen+1:]
	if !inKeyAlphabet(prefix) || !inKeyAlphabet(secret) {
		return "", "", false
	}
	return prefix, secret, true
}

func inKeyAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

func secretHash(secret string) string { return tokenHash(secret) }

// checkKey validates and normalises a new key.
func (s *Store) checkKey(ctx context.Context, nk *NewAPIKey) error {
	ve := invalid.Fields{Kind: ErrInvalid}
	nk.Name = strings.TrimSpace(nk.Name)
	switch {
	case nk.Name == "":
		ve.Add("name", "is required")
	case !utf8.ValidString(nk.Name):
		ve.Add("name", "must be valid UTF-8 text")
	case utf8.RuneCountInString(nk.Name) > maxKeyName:
		ve.Add("name", "must be at most %d characters long", maxKeyName)
	case strings.ContainsFunc(nk.Name, unicode.IsControl):
		ve.Add("name", "must not contain control characters")
	}
	var owner *User
	if nk.OwnerID != "" {
		u, err := s.User(ctx, nk.OwnerID)
		switch {
		case errors.Is(err, ErrNotFound):
			ve.Add("owner_id", "no such user")
		case err != nil:
			return err
		case u.Disabled:
			ve.Add("owner_id", "the user is disabled")
		default:
			owner = &u
		}
	}
	switch {
	case len(nk.Scopes) == 0:
		ve.Add("scopes", "at least one scope is required, such as %q", PermRelayIngest+":orders")
	case len(nk.Scopes) > maxKeyScopes:
		ve.Add("scopes", "at most %d scopes", maxKeyScopes)
	}
	var scopes []string
	for i, sc := range nk.Scopes {
		sc = strings.TrimSpace(sc)
		p, _, err := ParseScope(sc)
		field := fmt.Sprintf("scopes[%d]", i)
		switch {
		case err != nil:
			ve.Add(field, "%v", err)
		case owner != nil && !owner.Can(p):
			ve.Add(field, "the owner %s may not %s; a key cannot grant more than its owner", owner.Username, p)
		case !slices.Contains(scopes, sc):
			scopes = append(scopes, sc)
		}
	}
	nk.Scopes = scopes
	if !nk.ExpiresAt.IsZero() && !nk.ExpiresAt.After(s.now()) {
		ve.Add("expires_at", "must be in the future")
	}
	return ve.Err()
}

// CreateAPIKey validates and stores a new key and returns it with the full
// key string, arus_<prefix>_<secret>, to be shown once: it cannot be
// retrieved again. A key owned by a user may only hold scopes that user
// may exercise.
func (s *Store) CreateAPIKey(ctx context.Context, nk NewAPIKey) (APIKey, string, error) {
	if err := s.checkKey(ctx, &nk); err != nil {
		return APIKey{}, "", err
	}
	now := fromMillis(toMillis(s.now()))
	k := APIKey{
		ID:        newID(),
		Name:      nk.Name,
		OwnerID:   nk.OwnerID,
		Scopes:    nk.Scopes,
		CreatedAt: now,
		ExpiresAt: fromMillis(toMillis(nk.ExpiresAt)),
	}
	var owner any
	if k.OwnerID != "" {
		owner = k.OwnerID
	}
	// A prefix collides once in about a million keys; try again then.
	for attempt := 0; ; attempt++ {
		k.Prefix = newKeyPrefix()
		secret := newKeySecret()
		_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO auth_api_keys
			(id, prefix, secret_hash, name, owner_id, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			k.ID, k.Prefix, secretHash(secret), k.Name, owner, strings.Join(k.Scopes, " "), toMillis(k.CreatedAt), toMillis(k.ExpiresAt))
		if err == nil {
			return k, keyMarker + k.Prefix + "_" + secret, nil
		}
		if !store.IsUniqueViolation(err) || attempt == 3 {
			return APIKey{}, "", fmt.Errorf("auth: create API key: %w", err)
		}
	}
}

const keyColumns = `k.id, k.prefix, k.name, k.owner_id, k.scopes, k.created_at, k.expires_at, k.last_used_at, k.rotated_at, k.revoked_at`

func scanKey(r rowScanner, extra ...any) (APIKey, error) {
	var k APIKey
	var owner sql.NullString
	var scopes string
	var created, expires, used, rotated, revoked int64
	dest := append([]any{&k.ID, &k.Prefix, &k.Name, &owner, &scopes, &created, &expires, &used, &rotated, &revoked}, extra...)
	if err := r.Scan(dest...); err != nil {
		return APIKey{}, err
	}
	k.OwnerID = owner.String
	k.Scopes = strings.Fields(scopes)
	k.CreatedAt, k.ExpiresAt, k.LastUsedAt = fromMillis(created), fromMillis(expires), fromMillis(used)
	k.RotatedAt, k.RevokedAt = fromMillis(rotated), fromMillis(revoked)
	return k, nil
}

// APIKey returns the key with the given id, or ErrNotFound.
func (s *Store) APIKey(ctx context.Context, id string) (APIKey, error) {
	if !validID(id) {
		return APIKey{}, fmt.Errorf("%w: API key %q", ErrNotFound, id)
	}
	k, err := scanKey(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+keyColumns+` FROM auth_api_keys k WHERE k.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, fmt.Errorf("%w: API key %s", ErrNotFound, id)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("auth: load API key: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns the keys a user owns, or every key when ownerID is
// empty, newest first, revoked ones included.
func (s *Store) ListAPIKeys(ctx context.Context, ownerID string) ([]APIKey, error) {
	if ownerID != "" && !validID(ownerID) {
		return nil, nil
	}
	query := `SELECT ` + keyColumns + ` FROM auth_api_keys k`
	var args []any
	if ownerID != "" {
		query += ` WHERE k.owner_id = ?`
		args = append(args, ownerID)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(query+` ORDER BY k.created_at DESC, k.id DESC`), args...)
	if err != nil {
		return nil, fmt.Errorf("auth: list API keys: %w", err)
	}
	defer rows.Close()
	var keys []APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("auth: list API keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth: list API keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes a key for good. It is refused at once by this
// process and, in other processes sharing the database, within
// Config.APIKeyCacheTTL. Revoking a revoked key does nothing.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: API key %q", ErrNotFound, id)
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE auth_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0`),
		toMillis(s.now()), id)
	if err != nil {
		return fmt.Errorf("auth: revoke API key: %w", err)
	}
	s.keys.invalidate(id)
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.APIKey(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// RotateAPIKey gives a key a new secret and returns the new full key
// string, shown once. The key keeps its id, prefix, name, scopes and
// expiry, so listings and logs still name it the same; the old secret is
// refused at once by this process and within Config.APIKeyCacheTTL by
// others. Revoked and expired keys cannot be rotated (ErrRevoked,
// ErrExpired).
func (s *Store) RotateAPIKey(ctx context.Context, id string) (APIKey, string, error) {
	if !validID(id) {
		return APIKey{}, "", fmt.Errorf("%w: API key %q", ErrNotFound, id)
	}
	var k APIKey
	secret := newKeySecret()
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx, s.db.Rebind(`SELECT `+keyColumns+` FROM auth_api_keys k WHERE k.id = ?`+s.forUpdate()), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: API key %s", ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("auth: rotate API key: %w", err)
		}
		now := s.now()
		switch {
		case !k.RevokedAt.IsZero():
			return fmt.Errorf("%w: API key %s", ErrRevoked, k.Prefix)
		case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
			return fmt.Errorf("%w: API key %s", ErrExpired, k.Prefix)
		}
		k.RotatedAt = fromMillis(toMillis(now))
		_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE auth_api_keys SET secret_hash = ?, rotated_at = ? WHERE id = ?`),
			secretHash(secret), toMillis(k.RotatedAt), id)
		if err != nil {
			return fmt.Errorf("auth: rotate API key: %w", err)
		}
		return nil
	})
	s.keys.invalidate(id)
	if err != nil {
		return APIKey{}, "", err
	}
	return k, keyMarker + k.Prefix + "_" + secret, nil
}

// VerifyAPIKey checks a presented key and returns it. It fails with
// ErrInvalidCredentials for a malformed, unknown or wrong key (the secret
// is compared in constant time), and only once the secret matched, with
// ErrRevoked, ErrExpired, or ErrDisabled when the owner is disabled. The
// key returned holds the scopes its owner may still exercise.
//
// Successful verifications are cached for Config.APIKeyCacheTTL, so a
// busy client costs one SHA-256 and a map lookup per request. The
// key's last-used time is written at most once per Config.TouchInterval.
func (s *Store) VerifyAPIKey(ctx context.Context, presented string) (APIKey, error) {
	now := s.now()
	ck := sha256.Sum256([]byte(presented))
	if e := s.keys.get(ck, now); e != nil {
		if !e.key.ExpiresAt.IsZero() && !now.Before(e.key.ExpiresAt) {
			s.keys.drop(ck)
			return APIKey{}, fmt.Errorf("%w: API key %s", ErrExpired, e.key.Prefix)
		}
		return s.usedKey(ctx, e, now), nil
	}

	prefix, secret, ok := parseKey(presented)
	if !ok {
		return APIKey{}, ErrInvalidCredentials
	}
	gen := s.keys.generation()
	var hash string
	var ownerDisabled sql.NullBool
	k, err := scanKey(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+keyColumns+`, k.secret_hash, u.disabled
		FROM auth_api_keys k LEFT JOIN auth_users u ON u.id = k.owner_id WHERE k.prefix = ?`), prefix), &hash, &ownerDisabled)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, ErrInvalidCredentials
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("auth: verify API key: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(secretHash(secret)), []byte(hash)) != 1 {
		return APIKey{}, ErrInvalidCredentials
	}
	switch {
	case !k.RevokedAt.IsZero():
		return APIKey{}, fmt.Errorf("%w: API key %s", ErrRevoked, k.Prefix)
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return APIKey{}, fmt.Errorf("%w: API key %s", ErrExpired, k.Prefix)
	case ownerDisabled.Bool:
		return APIKey{}, fmt.Errorf("%w: owner of API key %s", ErrDisabled, k.Prefix)
	}
	if k.OwnerID != "" {
		roles, err := s.userRoles(ctx, s.db, k.OwnerID)
		if err != nil {
			return APIKey{}, err
		}
		owner := User{Roles: roles}
		k.Scopes = slices.DeleteFunc(k.Scopes, func(sc string) bool {
			p, _, err := ParseScope(sc)
			return err != nil || !owner.Can(p)
		})
	}
	return s.usedKey(ctx, s.keys.put(ck, k, now, gen), now), nil
}

// usedKey records a use of a verified key, writing its last-used time when
// the last write is at least Config.TouchInterval old, and returns a copy
// of the key for the caller.
func (s *Store) usedKey(ctx context.Context, e *cachedKey, now time.Time) APIKey {
	nowMs := toMillis(now)
	last := e.lastUsed.Load()
	if nowMs-last >= s.cfg.TouchInterval.Milliseconds() && e.lastUsed.CompareAndSwap(last, nowMs) {
		_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE auth_api_keys SET last_used_at = ? WHERE id = ? AND last_used_at <= ?`),
			nowMs, e.key.ID, nowMs-s.cfg.TouchInterval.Milliseconds())
		if err != nil {
			// The key is valid; only the bookkeeping missed.
			s.log.WarnContext(ctx, "auth: record API key use", "key", e.key.Prefix, "err", err)
		}
	}
	k := e.key
	k.Scopes = slices.Clone(e.key.Scopes)
	k.LastUsedAt = fromMillis(e.lastUsed.Load())
	return k
}
