package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// ThrottleConfig sets login throttling. Failed logins are counted per
// account and client address together (per /64 for IPv6), and per client
// address alone, in the database, so that the counts hold across processes
// and restarts. Usernames that do not exist are counted like those that do,
// so that throttling reveals nothing about which exist.
//
// An account is never locked as a whole: an attacker's failures slow down
// only their own address, so the owner signing in from another address is
// not locked out. The address's own count, higher, slows down one address
// guessing across many accounts. Which address a request comes from is
// decided by Config.TrustedProxies (see ClientIP).
//
// When a subject reaches its limit of failures within Window, it is locked
// for Lockout; each further lockout before the state is forgotten doubles
// the time, up to MaxLockout (exponential back-off). Attempts while locked
// are refused without checking the password. A successful login clears the
// account-and-address state and takes back its own count from the address,
// but does not clear the address: one valid account must not reset an
// address guessing at others.
type ThrottleConfig struct {
	// MaxFailures per account and client address within Window before a
	// lockout. Default 5.
	MaxFailures int
	// MaxFailuresPerIP per client address, whatever the accounts, within
	// Window before a lockout; higher, since many users can share an
	// address. Default 20.
	MaxFailuresPerIP int
	// Window is how long failures are counted. Default 15m.
	Window time.Duration
	// Lockout is the first lockout's length. Default 1m.
	Lockout time.Duration
	// MaxLockout caps the growing lockouts. Default 1h.
	MaxLockout time.Duration
	// Forget drops the state of a subject with no attempt for this long,
	// so lockouts start short again. Default 24h.
	Forget time.Duration
}

func (c *ThrottleConfig) validate() error {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.MaxFailures == 0 {
		c.MaxFailures = 5
	}
	if c.MaxFailuresPerIP == 0 {
		c.MaxFailuresPerIP = 20
	}
	def(&c.Window, 15*time.Minute)
	def(&c.Lockout, time.Minute)
	def(&c.MaxLockout, time.Hour)
	def(&c.Forget, 24*time.Hour)
	if c.MaxFailures < 1 || c.MaxFailuresPerIP < 1 {
		return errors.New("auth: throttle failure limits must be at least 1")
	}
	if c.Window <= 0 || c.Lockout <= 0 || c.MaxLockout < c.Lockout || c.Forget <= 0 {
		return errors.New("auth: throttle durations must be positive, with max lockout >= lockout")
	}
	return nil
}

// inFlight is how long an attempt that was counted but has not finished
// still holds its place. Past it, the attempt is taken as failed (its
// process likely stopped).
const inFlight = 30 * time.Second

// throttleState is one subject's row. failures counts the failed and
// in-flight attempts of the current window: an attempt is counted before
// its password is checked, so that parallel guesses cannot slip past the
// limit while the slow hashes run.
type throttleState struct {
	failures    int
	windowStart time.Time
	lastAt      time.Time
	lockedUntil time.Time
	lockouts    int
	deleted     bool
}

// admit decides whether an attempt may go ahead and, if so, counts it. It
// returns how long to wait when it may not.
func (c ThrottleConfig) admit(st *throttleState, limit int, now time.Time) time.Duration {
	if now.Before(st.lockedUntil) {
		return st.lockedUntil.Sub(now)
	}
	if !st.lastAt.IsZero() && now.Sub(st.lastAt) >= c.Forget {
		*st = throttleState{}
	}
	if st.windowStart.IsZero() || now.Sub(st.windowStart) >= c.Window {
		st.failures, st.windowStart = 0, now
	}
	if st.failures >= limit {
		if now.Sub(st.lastAt) < inFlight {
			// Earlier attempts are still being checked; one of them
			// may yet succeed or lock.
			return time.Second
		}
		c.lock(st, now)
		return st.lockedUntil.Sub(now)
	}
	st.failures++
	st.lastAt = now
	return 0
}

// fail records that an admitted attempt failed, locking the subject when
// it reached its limit. It reports whether it locked.
func (c ThrottleConfig) fail(st *throttleState, limit int, now time.Time) bool {
	st.lastAt = now
	if st.failures >= limit && !now.Before(st.lockedUntil) {
		c.lock(st, now)
		return true
	}
	return false
}

// release takes back an admitted attempt that did not fail.
func (c ThrottleConfig) release(st *throttleState) {
	if st.failures > 0 {
		st.failures--
	}
}

// lock starts a lockout: Lockout doubled for each earlier one, up to
// MaxLockout. The failure count starts again after it.
func (c ThrottleConfig) lock(st *throttleState, now time.Time) {
	st.lockouts++
	d := c.Lockout
	for i := 1; i < st.lockouts && d < c.MaxLockout; i++ {
		d *= 2
	}
	d = min(d, c.MaxLockout)
	st.lockedUntil = now.Add(d)
	st.failures, st.windowStart, st.lastAt = 0, now, now
}

// throttleSubject is a key of the throttle table and its failure limit.
// pair marks the account-and-address subject, cleared by a success.
type throttleSubject struct {
	key   string
	limit int
	pair  bool
}

func (s *Store) throttleSubjects(username, clientIP string) []throttleSubject {
	if !usernamePattern.MatchString(username) {
		// No such username can exist; keep the key short and storable.
		username = "#" + tokenHash(username)[:32]
	}
	ip := ipSubject(clientIP)
	subs := []throttleSubject{{key: "pair:" + ip + " " + username, limit: s.cfg.Throttle.MaxFailures, pair: true}}
	if ip != "" {
		subs = append(subs, throttleSubject{key: "ip:" + ip, limit: s.cfg.Throttle.MaxFailuresPerIP})
	}
	// A fixed order, so that two transactions lock rows alike.
	slices.SortFunc(subs, func(a, b throttleSubject) int { return strings.Compare(a.key, b.key) })
	return subs
}

// ipSubject normalises a client address: IPv4 as is, IPv6 to its /64 (a
// single client commonly holds a whole /64). It accepts "host:port" too.
func ipSubject(clientIP string) string {
	clientIP = strings.TrimSpace(clientIP)
	if clientIP == "" {
		return ""
	}
	addr, err := netip.ParseAddr(clientIP)
	if err != nil {
		ap, perr := netip.ParseAddrPort(clientIP)
		if perr != nil {
			return "#" + tokenHash(clientIP)[:32]
		}
		addr = ap.Addr()
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// updateThrottle loads the state of the subjects, locked for the
// transaction, lets fn change it, and writes it back. Nothing is written
// when fn fails.
func (s *Store) updateThrottle(ctx context.Context, subs []throttleSubject, fn func(states []throttleState) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		states := make([]throttleState, len(subs))
		for i, sub := range subs {
			// Inserting first makes a concurrent transaction wait for this
			// one even when the row is new.
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO auth_throttle (subject) VALUES (?) ON CONFLICT (subject) DO NOTHING`), sub.key); err != nil {
				return fmt.Errorf("auth: throttle: %w", err)
			}
			var windowStart, lastAt, lockedUntil int64
			st := &states[i]
			err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT failures, window_start, last_at, locked_until, lockouts FROM auth_throttle WHERE subject = ?`+s.forUpdate()),
				sub.key).Scan(&st.failures, &windowStart, &lastAt, &lockedUntil, &st.lockouts)
			if err != nil {
				return fmt.Errorf("auth: throttle: %w", err)
			}
			st.windowStart, st.lastAt, st.lockedUntil = fromMillis(windowStart), fromMillis(lastAt), fromMillis(lockedUntil)
		}
		if err := fn(states); err != nil {
			return err
		}
		for i, sub := range subs {
			st := states[i]
			var err error
			if st.deleted {
				_, err = tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM auth_throttle WHERE subject = ?`), sub.key)
			} else {
				_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE auth_throttle SET failures = ?, window_start = ?, last_at = ?, locked_until = ?, lockouts = ? WHERE subject = ?`),
					st.failures, toMillis(st.windowStart), toMillis(st.lastAt), toMillis(st.lockedUntil), st.lockouts, sub.key)
			}
			if err != nil {
				return fmt.Errorf("auth: throttle: %w", err)
			}
		}
		return nil
	})
}

// reserveAttempt admits a login attempt for every subject, counting it,
// or fails with a *ThrottledError and counts nothing.
func (s *Store) reserveAttempt(ctx context.Context, subs []throttleSubject) error {
	now := s.now()
	// A locked subject is refused with a read, so that a flood of attempts
	// against it does not become a flood of writes.
	if until := s.lockedUntil(ctx, subs); now.Before(until) {
		return throttled(until.Sub(now))
	}
	var retry time.Duration
	err := s.updateThrottle(ctx, subs, func(states []throttleState) error {
		next := slices.Clone(states)
		refused := make([]bool, len(subs))
		for i, sub := range subs {
			if r := s.cfg.Throttle.admit(&next[i], sub.limit, now); r > 0 {
				retry, refused[i] = max(retry, r), true
			}
		}
		for i := range states {
			// A refused attempt is counted nowhere, but a lockout that
			// admit started is kept.
			if retry == 0 || refused[i] {
				states[i] = next[i]
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if retry > 0 {
		return throttled(retry)
	}
	return nil
}

// throttled returns a *ThrottledError, rounding the wait up to whole
// seconds as Retry-After wants.
func throttled(retry time.Duration) error {
	return &ThrottledError{RetryAfter: (retry + time.Second - 1).Truncate(time.Second)}
}

// lockedUntil returns the latest lock end of the subjects; zero when none
// is known or the read fails (the transaction that follows decides then).
func (s *Store) lockedUntil(ctx context.Context, subs []throttleSubject) time.Time {
	args := make([]any, len(subs))
	for i, sub := range subs {
		args[i] = sub.key
	}
	var until sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT MAX(locked_until) FROM auth_throttle WHERE subject IN (?`+strings.Repeat(", ?", len(subs)-1)+`)`), args...).Scan(&until)
	if err != nil {
		return time.Time{}
	}
	return fromMillis(until.Int64)
}

type attemptOutcome int

const (
	attemptFailed attemptOutcome = iota
	attemptSucceeded
	attemptAborted // not a guess: an internal error or cancellation
)

// finishAttempt records how an admitted attempt ended. Failing to record it
// is logged, not returned: the login's answer stands.
func (s *Store) finishAttempt(ctx context.Context, subs []throttleSubject, outcome attemptOutcome) {
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	var locked []string
	err := s.updateThrottle(ctx, subs, func(states []throttleState) error {
		for i, sub := range subs {
			st := &states[i]
			switch {
			case outcome == attemptFailed:
				if s.cfg.Throttle.fail(st, sub.limit, now) {
					locked = append(locked, sub.key)
				}
			case outcome == attemptSucceeded && sub.pair:
				st.deleted = true
			default:
				s.cfg.Throttle.release(st)
			}
		}
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "auth: record login attempt", "err", err)
		return
	}
	for _, key := range locked {
		// Usernames are not logged: people type passwords into the
		// username field.
		kind, subject, _ := strings.Cut(key, ":")
		ip, _, _ := strings.Cut(subject, " ")
		s.log.WarnContext(ctx, "auth: logins locked after repeated failures", "kind", kind, "ip", ip)
	}
}
