package auth_test

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

// ended waits for ctx to end, failing after a while.
func ended(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: the session's context goes on", what)
	}
}

func TestSessionContext(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		// Re-check the database every second.
		e := newEnv(t, base, func(c *auth.Config) { c.TouchInterval = time.Millisecond })
		u := e.mustCreate(t, "rina")
		start := func(st *auth.Store) (auth.Session, string, context.Context) {
			t.Helper()
			sess, token, err := e.st.CreateSession(context.Background(), u.ID, auth.SessionMeta{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := st.SessionContext(context.Background(), sess)
			t.Cleanup(cancel)
			return sess, token, ctx
		}

		_, token, ctx := start(e.st)
		_, _, keep := start(e.st)
		if err := e.st.DeleteSession(context.Background(), token); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		default:
			t.Errorf("the context of a deleted session did not end at once")
		}
		if keep.Err() != nil {
			t.Errorf("the context of the user's other session ended")
		}

		// Ended by another process sharing the database.
		other := e.reopen(t)
		_, _, ctx = start(other)
		if err := e.st.DeleteUserSessions(context.Background(), u.ID); err != nil {
			t.Fatal(err)
		}
		ended(t, ctx, "sessions deleted by another process")

		// Past its idle time, however long the stream has been open.
		_, _, ctx = start(e.st)
		e.clock.Advance(2*time.Hour + time.Second)
		ended(t, ctx, "idle session")
	})
}

func TestClientIP(t *testing.T) {
	e := newEnv(t, store.Config{Dir: t.TempDir()}, func(c *auth.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	})
	for _, tc := range []struct {
		name, remote string
		forwarded    []string
		want         string
	}{
		{"no proxy", "192.0.2.1:5000", nil, "192.0.2.1"},
		{"untrusted peer's header ignored", "192.0.2.1:5000", []string{"198.51.100.1"}, "192.0.2.1"},
		{"trusted proxy, no header", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"trusted proxy names the client", "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"rightmost untrusted hop wins", "10.1.2.3:5000", []string{"203.0.113.9, 198.51.100.1"}, "198.51.100.1"},
		{"chained trusted proxies skipped", "10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines", "10.1.2.3:5000", []string{"203.0.113.9", "198.51.100.1, 10.0.0.7"}, "198.51.100.1"},
		{"junk hop stops the walk", "10.1.2.3:5000", []string{"198.51.100.1, junk, 10.0.0.7"}, "10.0.0.7"},
		{"IPv6 trusted proxy", "[2001:db8::1]:443", []string{"2001:db9::5"}, "2001:db9::5"},
		{"IPv4-mapped client", "10.1.2.3:5000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"all hops trusted", "10.1.2.3:5000", []string{"10.0.0.1"}, "10.0.0.1"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, f := range tc.forwarded {
			r.Header.Add("X-Forwarded-For", f)
		}
		if got := e.st.ClientIP(r); got != tc.want {
			t.Errorf("%s: ClientIP = %q, want %q", tc.name, got, tc.want)
		}
	}
}
