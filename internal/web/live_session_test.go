package web

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// waitEnded reads a live stream until the server ends it, failing when it
// goes on. Live values are sent only once an hour in these tests, so the
// stream cannot end by a periodic re-check.
func waitEnded(t *testing.T, ch <-chan map[string]string, what string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case _, open := <-ch:
			if !open {
				return
			}
		case <-timeout:
			t.Fatalf("%s: the live stream goes on", what)
		}
	}
}

// A live-update stream ends with the session that opened it: at sign-out,
// when the user's password changes, and when the user is disabled.
func TestLiveStreamEndsWithSession(t *testing.T) {
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), RetentionInterval: -1,
		Options: stream.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	f := newFixtureWithConfig(t, func(c *Config) { c.Broker, c.LiveEvery = b, time.Hour })
	ctx := context.Background()
	const vicPassword = "vic's passphrase 42"
	vic, err := f.auth.CreateUser(ctx, auth.NewUser{Username: "vic", Password: vicPassword, Roles: []auth.Role{auth.RoleViewer}})
	if err != nil {
		t.Fatal(err)
	}

	// open signs vic in and opens a stream, returning the browser, its
	// CSRF token and the stream, once its first values arrived.
	open := func(t *testing.T) (*browser, string, <-chan map[string]string) {
		br := f.browser()
		csrf := br.login("vic", vicPassword)
		ch := br.events("/groups")
		waitFor(t, ch, "first values", func(map[string]string) bool { return true })
		return br, csrf, ch
	}

	t.Run("sign-out", func(t *testing.T) {
		br, csrf, ch := open(t)
		_, _, other := open(t)
		resp, _ := br.post("/logout", url.Values{"csrf_token": {csrf}})
		wantStatus(t, "sign out", resp, 303)
		waitEnded(t, ch, "after sign-out")
		// vic's other session goes on.
		select {
		case _, ok := <-other:
			if !ok {
				t.Errorf("the stream of vic's other session ended too")
			}
		default:
		}
		if _, _, err := f.auth.Session(ctx, br.cookie(auth.SessionCookie)); err == nil {
			t.Errorf("session still valid after sign-out")
		}
	})
	t.Run("password change", func(t *testing.T) {
		_, _, ch := open(t)
		changer := f.browser()
		changer.login("vic", vicPassword)
		_, body := changer.get(changePasswordPath)
		resp, _ := changer.post(changePasswordPath, url.Values{"csrf_token": {csrfOf(t, body)},
			"current_password": {vicPassword}, "new_password": {"vic's interim passphrase"}, "confirm_password": {"vic's interim passphrase"}})
		wantStatus(t, "change password", resp, 303)
		waitEnded(t, ch, "after the password change in another browser")
		if err := f.auth.SetPassword(ctx, vic.ID, vicPassword); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("user disabled", func(t *testing.T) {
		_, _, ch := open(t)
		admin := f.browser()
		csrf := admin.login("admin", adminPassword)
		resp, _ := admin.post("/users/"+vic.ID+"/disable", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}})
		wantStatus(t, "disable vic", resp, 303)
		waitEnded(t, ch, "after vic was disabled")
	})
}

// testClock is a clock a test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// A live stream ends when its session expires, however long it has been
// open: the stream is not use of the session.
func TestLiveStreamEndsWhenSessionExpires(t *testing.T) {
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), RetentionInterval: -1,
		Options: stream.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	clock := &testClock{now: time.Now()}
	f := newFixtureWithAuth(t, func(c *auth.Config) {
		// The stream re-checks its session every second.
		c.Now, c.TouchInterval = clock.Now, time.Millisecond
	}, func(c *Config) { c.Broker, c.LiveEvery = b, time.Hour })
	br := f.browser()
	br.login("admin", adminPassword)
	ch := br.events("/groups")
	waitFor(t, ch, "first values", func(map[string]string) bool { return true })
	clock.Advance(2*time.Hour + time.Minute)
	waitEnded(t, ch, "after the session's idle time")
}
