// Package auth holds the users, roles, passwords, login throttling, sessions
// and API keys of Arus: the domain and its storage, with no HTTP in it. The
// console's cookie sessions and CSRF checks, and the API's bearer keys, are
// built on top of the Store.
//
// Security properties, in one place:
//
//   - Passwords are hashed with argon2id (PHC string format) and never leave
//     the Store: no returned type has a password or hash field, and nothing
//     is logged about them. Verification is constant-time, and a login for
//     an unknown user hashes a dummy password so that it takes as long.
//   - Failed logins are throttled per account and client address, and per
//     client address, with the counters in the database so that they hold
//     across processes and restarts; repeated lockouts grow exponentially.
//     An attacker slows down only their own address, never the account.
//   - Session tokens and API key secrets carry 256 random bits, are returned
//     only when created, and only their SHA-256 is stored: a copy of the
//     database lets nobody log in or call the API.
//   - Permissions are decided in one place, [Role.Can]; an API key never
//     grants more than its owner may currently do.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/arus-platform/arus/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures a [Store]. The zero value is ready for production;
// Validate fills in the defaults documented on each field.
type Config struct {
	// Argon2 sets the password hashing cost. Default [DefaultArgon2] (OWASP:
	// 19 MiB, 2 passes, 1 lane). Stored hashes with other parameters are
	// re-hashed at the next successful login. Lower values are for tests.
	Argon2 Argon2Params
	// MinPasswordLength is the least number of characters (Unicode code
	// points) of a password. Default 12.
	MinPasswordLength int
	// MaxPasswordLength is the most characters of a password. Default 256.
	MaxPasswordLength int
	// MaxConcurrentHashes bounds the password hashes computed at once, and
	// with it the memory logins can take (Argon2.Memory each); the rest
	// wait. Default GOMAXPROCS.
	MaxConcurrentHashes int

	// SessionIdle ends a session not used for this long. Default 2h.
	SessionIdle time.Duration
	// SessionLifetime ends a session this long after login, however much it
	// is used. Default 24h.
	SessionLifetime time.Duration
	// TouchInterval is how often a session's last-seen time and an API
	// key's last-used time are written: at most once per interval, to keep
	// writes off the request path. Idle expiry is therefore exact to within
	// this interval. Default 1m.
	TouchInterval time.Duration

	// Throttle sets login throttling.
	Throttle ThrottleConfig
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For header names the client (see Store.ClientIP). Empty:
	// no proxy is trusted and the connection's address is the client's.
	TrustedProxies []netip.Prefix

	// APIKeyCacheTTL is how long a verified API key is trusted without
	// asking the database. Revoking a key takes effect at once in the
	// process that revoked it and within this time in the others.
	// Default 10s; negative turns the cache off.
	APIKeyCacheTTL time.Duration
	// APIKeyCacheSize bounds the keys cached. Default 10,000.
	APIKeyCacheSize int

	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives lockouts and failures to write bookkeeping.
	// Default slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = DefaultArgon2()
	}
	if err := c.Argon2.fill(); err != nil {
		return err
	}
	if c.MinPasswordLength == 0 {
		c.MinPasswordLength = 12
	}
	if c.MaxPasswordLength == 0 {
		c.MaxPasswordLength = 256
	}
	if c.MinPasswordLength < 1 || c.MaxPasswordLength < c.MinPasswordLength {
		return fmt.Errorf("auth: password length limits %d..%d: need 1 <= min <= max", c.MinPasswordLength, c.MaxPasswordLength)
	}
	if c.MaxConcurrentHashes == 0 {
		c.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	if c.MaxConcurrentHashes < 1 {
		return fmt.Errorf("auth: max concurrent hashes %d: must be at least 1", c.MaxConcurrentHashes)
	}
	if c.SessionIdle == 0 {
		c.SessionIdle = 2 * time.Hour
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = 24 * time.Hour
	}
	if c.TouchInterval == 0 {
		c.TouchInterval = time.Minute
	}
	if c.SessionIdle < 0 || c.SessionLifetime < 0 || c.TouchInterval < 0 {
		return errors.New("auth: session durations must not be negative")
	}
	if err := c.Throttle.validate(); err != nil {
		return err
	}
	if c.APIKeyCacheTTL == 0 {
		c.APIKeyCacheTTL = 10 * time.Second
	}
	if c.APIKeyCacheSize == 0 {
		c.APIKeyCacheSize = 10000
	}
	if c.APIKeyCacheSize < 0 {
		return fmt.Errorf("auth: API key cache size %d: must not be negative", c.APIKeyCacheSize)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Store keeps users, sessions, API keys and login throttling state in the
// "auth" component's database. It is safe for concurrent use, and several
// processes may share one database.
type Store struct {
	db   *store.DB
	cfg  Config
	log  *slog.Logger
	keys *keyCache
	// watch ends live responses of sessions that end in this process.
	watch sessionWatch

	// dummyHash is verified against when a login names no known user, so
	// that the answer takes as long as for a real one.
	dummyHash string
	// hashSlots bounds concurrent argon2 computations.
	hashSlots chan struct{}
}

// Open migrates the auth tables in db and returns a Store over them.
func Open(ctx context.Context, db *store.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("auth: no database")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("auth: migrations: %w", err)
	}
	if err := db.Migrate(ctx, sub); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	s := &Store{
		db:        db,
		cfg:       cfg,
		log:       cfg.Logger,
		keys:      newKeyCache(cfg.APIKeyCacheTTL, cfg.APIKeyCacheSize),
		hashSlots: make(chan struct{}, cfg.MaxConcurrentHashes),
	}
	s.dummyHash, err = s.hashPassword(ctx, rand.Text())
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Cleanup deletes expired sessions and throttling state that no longer
// matters. Call it now and then (say, hourly); nothing depends on it for
// correctness, only on table size.
func (s *Store) Cleanup(ctx context.Context) error {
	now := s.now()
	idleCut := toMillis(now.Add(-s.cfg.SessionIdle))
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM auth_sessions WHERE expires_at <= ? OR last_seen_at <= ?`),
		toMillis(now), idleCut); err != nil {
		return fmt.Errorf("auth: delete expired sessions: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM auth_throttle WHERE last_at <= ? AND locked_until <= ?`),
		toMillis(now.Add(-s.cfg.Throttle.Forget)), toMillis(now)); err != nil {
		return fmt.Errorf("auth: delete stale throttling state: %w", err)
	}
	return nil
}

func (s *Store) now() time.Time { return s.cfg.Now() }

// newID returns a new time-ordered identifier (UUIDv7).
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// uuid.NewV7 fails only when the system's random source does,
		// which crypto/rand treats as fatal too.
		panic(fmt.Sprintf("auth: new id: %v", err))
	}
	return id.String()
}

// validID reports whether id has the form of the ids the Store makes: a
// UUID in canonical text. Ids from requests are checked before they reach
// a query, so that junk is "not found" rather than a database error.
func validID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// cleanText makes client-supplied text fit to store: valid UTF-8, no
// control characters, at most n bytes.
func cleanText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return truncate(s, n)
}

// randomToken returns 256 random bits, base64url-encoded without padding
// (43 characters).
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails; see crypto/rand.Read
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenHash returns the hex SHA-256 of a high-entropy token, the only form
// in which tokens are stored.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Times are stored as Unix milliseconds, which compare the same way on
// every dialect; zero stands for "never" or "not set".
func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// forUpdate returns the row-locking suffix of a SELECT inside a
// transaction: needed on PostgreSQL, implied on SQLite, whose transactions
// take the write lock at BEGIN.
func (s *Store) forUpdate() string {
	if s.db.Dialect == store.Postgres {
		return " FOR UPDATE"
	}
	return ""
}
