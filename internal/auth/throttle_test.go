package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

// login tries a login and returns its error.
func login(st *auth.Store, user, pw, ip string) error {
	_, err := st.Authenticate(context.Background(), user, pw, ip)
	return err
}

// failN makes n failed logins, each of which must fail as a wrong
// password (not throttled).
func failN(t *testing.T, st *auth.Store, n int, user, ip string) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := login(st, user, "wrong password", ip); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("failed login %d for %q from %q: error %v, want ErrInvalidCredentials", i+1, user, ip, err)
		}
	}
}

// wantThrottled checks that err is a *ThrottledError with the given retry.
func wantThrottled(t *testing.T, what string, err error, retry time.Duration) {
	t.Helper()
	var te *auth.ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, auth.ErrThrottled) {
		t.Fatalf("%s: error %v, want *ThrottledError", what, err)
	}
	if te.RetryAfter != retry {
		t.Errorf("%s: RetryAfter %v, want %v", what, te.RetryAfter, retry)
	}
}

// An account is throttled per client address: the attacker's address is
// slowed down, the owner's is not.
func TestThrottleAccountPerAddress(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		e := newEnv(t, base)
		e.mustCreate(t, "rina")

		failN(t, e.st, 5, "rina", "192.0.2.1")
		// Locked from that address: even the right password.
		wantThrottled(t, "6th attempt", login(e.st, "rina", goodPassword, "192.0.2.1"), time.Minute)
		e.clock.Advance(20 * time.Second)
		wantThrottled(t, "20s later", login(e.st, "rina", goodPassword, "192.0.2.1"), 40*time.Second)
		// The owner, from another address, signs in.
		if err := login(e.st, "rina", goodPassword, "192.0.2.2"); err != nil {
			t.Fatalf("owner from another address while the attacker's is locked: %v", err)
		}

		// Another process sees the same lock; so does a restart.
		other := e.reopen(t)
		wantThrottled(t, "other process", login(other, "RINA", goodPassword, "192.0.2.1"), 40*time.Second)

		// Lockouts grow: each doubles the one before.
		e.clock.Advance(40 * time.Second)
		failN(t, e.st, 5, "rina", "")
		wantThrottled(t, "first lockout", login(e.st, "rina", goodPassword, ""), time.Minute)
		e.clock.Advance(time.Minute)
		failN(t, e.st, 5, "rina", "")
		wantThrottled(t, "second lockout", login(e.st, "rina", goodPassword, ""), 2*time.Minute)
		e.clock.Advance(2 * time.Minute)

		// Success clears the account's failures from that address.
		if err := login(e.st, "rina", goodPassword, ""); err != nil {
			t.Fatalf("login after the lockout: %v", err)
		}
		failN(t, e.st, 4, "rina", "")
		if err := login(e.st, "rina", goodPassword, ""); err != nil {
			t.Fatalf("login after 4 failures: %v", err)
		}
		failN(t, e.st, 4, "rina", "")
		if err := login(e.st, "rina", goodPassword, ""); err != nil {
			t.Fatalf("login after success and 4 failures: %v", err)
		}
		// and a lockout after that starts short again.
		failN(t, e.st, 5, "rina", "")
		wantThrottled(t, "after success", login(e.st, "rina", goodPassword, ""), time.Minute)

		// Failures older than the window are forgotten.
		e.clock.Advance(time.Minute)
		failN(t, e.st, 4, "rina", "")
		e.clock.Advance(15 * time.Minute)
		failN(t, e.st, 4, "rina", "")
		if err := login(e.st, "rina", goodPassword, ""); err != nil {
			t.Errorf("login after failures in two windows: %v", err)
		}
	})
}

// Unknown usernames are throttled like known ones, so throttling tells
// nothing about which exist.
func TestThrottleUnknownUser(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		e := newEnv(t, base)
		failN(t, e.st, 5, "nobody", "")
		wantThrottled(t, "unknown user", login(e.st, "nobody", goodPassword, ""), time.Minute)
		failN(t, e.st, 5, "x"+string(make([]byte, 100)), "")
	})
}

func TestThrottleAddress(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		e := newEnv(t, base)
		e.mustCreate(t, "rina")
		e.mustCreate(t, "budi")
		// Spraying many usernames from one address.
		for i := 0; i < 20; i++ {
			failN(t, e.st, 1, fmt.Sprintf("guess%d", i), "2001:db8::1")
		}
		// The whole /64 is locked, for every username.
		wantThrottled(t, "same /64", login(e.st, "rina", goodPassword, "2001:db8::ffff"), time.Minute)
		if err := login(e.st, "rina", goodPassword, "2001:db8:0:1::1"); err != nil {
			t.Errorf("login from another /64: %v", err)
		}
		// A valid login does not reset an address's failures.
		e.clock.Advance(time.Minute)
		if err := login(e.st, "budi", goodPassword, "2001:db8::1"); err != nil {
			t.Fatalf("login after the address lockout: %v", err)
		}
		for i := 0; i < 19; i++ {
			failN(t, e.st, 1, fmt.Sprintf("again%d", i), "2001:db8::1")
		}
		if err := login(e.st, "budi", goodPassword, "2001:db8::1"); err != nil {
			t.Fatalf("successful logins do not count: %v", err)
		}
		failN(t, e.st, 1, "last", "2001:db8::1")
		wantThrottled(t, "second address lockout", login(e.st, "budi", goodPassword, "2001:db8::1"), 2*time.Minute)
	})
}

// Parallel guesses cannot slip past the limit while hashes run: at most
// MaxFailures of them get to check a password.
func TestThrottleParallel(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		e := newEnv(t, base)
		e.mustCreate(t, "rina")
		const n = 30
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- login(e.st, "rina", "wrong password", "")
			}()
		}
		wg.Wait()
		close(errs)
		checked := 0
		for err := range errs {
			switch {
			case errors.Is(err, auth.ErrInvalidCredentials):
				checked++
			case errors.Is(err, auth.ErrThrottled):
			default:
				t.Errorf("parallel login: error %v", err)
			}
		}
		if checked > 5 {
			t.Errorf("%d of %d parallel guesses were checked, want at most 5", checked, n)
		}
		wantThrottled(t, "after the burst", login(e.st, "rina", goodPassword, ""), time.Minute)
	})
}

func TestCleanupForgetsThrottling(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		e := newEnv(t, base)
		failN(t, e.st, 3, "someone", "192.0.2.9")
		count := func() int {
			var n int
			if err := e.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM auth_throttle`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if err := e.st.Cleanup(context.Background()); err != nil || count() != 2 {
			t.Fatalf("Cleanup right away: %d rows, %v; want 2 kept", count(), err)
		}
		e.clock.Advance(25 * time.Hour)
		if err := e.st.Cleanup(context.Background()); err != nil || count() != 0 {
			t.Errorf("Cleanup a day later: %d rows, %v; want 0", count(), err)
		}
	})
}
