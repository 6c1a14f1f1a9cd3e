package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestSessionLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		u := e.mustCreate(t, "rina", auth.RoleOperator)

		sess, token, err := e.st.CreateSession(ctx, u.ID, auth.SessionMeta{IP: "192.0.2.1", UserAgent: "test/1.0"})
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if len(token) != 43 || len(sess.CSRFToken) != 43 || sess.ID == "" || sess.ID == token {
			t.Errorf("token %q, CSRF token %q, id %q: want two 43-character tokens and a separate id", token, sess.CSRFToken, sess.ID)
		}
		if want := e.clock.Now().Add(24 * time.Hour); !sess.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt %v, want %v", sess.ExpiresAt, want)
		}

		// Only the token's SHA-256 is stored.
		rows := rowStrings(t, e.db, `SELECT * FROM auth_sessions`)
		for _, col := range rows {
			if strings.Contains(col, token) {
				t.Errorf("sessions table holds the token in clear: %q", col)
			}
		}
		var stored string
		if err := e.db.QueryRowContext(ctx, `SELECT token_hash FROM auth_sessions`).Scan(&stored); err != nil || stored != sha256Hex(token) {
			t.Errorf("token_hash %q (%v), want the SHA-256 of the token", stored, err)
		}

		got, gotUser, err := e.st.Session(ctx, token)
		if err != nil {
			t.Fatalf("Session: %v", err)
		}
		if got != sess || gotUser.ID != u.ID || !gotUser.Can(auth.PermGroupsReset) {
			t.Errorf("Session = %+v, %+v\nwant %+v and user %s", got, gotUser, sess, u.ID)
		}
		if !got.CheckCSRF(sess.CSRFToken) || got.CheckCSRF("") || got.CheckCSRF(token) {
			t.Error("CheckCSRF accepts a wrong token or rejects the right one")
		}
		// The token with its first character changed (changing the last
		// one could leave the decoded bytes as they were).
		other := "A"
		if token[0] == 'A' {
			other = "B"
		}
		for _, bad := range []string{"", "short", other + token[1:], strings.Repeat("A", 43)} {
			if _, _, err := e.st.Session(ctx, bad); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("Session(%q) error %v, want ErrInvalidCredentials", bad, err)
			}
		}

		// A new login gets a new token and may end the previous one.
		sess2, token2, err := e.st.CreateSession(ctx, u.ID, auth.SessionMeta{Replaces: token})
		if err != nil {
			t.Fatalf("second CreateSession: %v", err)
		}
		if token2 == token || sess2.ID == sess.ID || sess2.CSRFToken == sess.CSRFToken {
			t.Error("second login reused the token, id or CSRF token")
		}
		if _, _, err := e.st.Session(ctx, token); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("replaced session: error %v, want ErrInvalidCredentials", err)
		}
		if err := e.st.DeleteSession(ctx, token2); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		if _, _, err := e.st.Session(ctx, token2); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("after logout: error %v, want ErrInvalidCredentials", err)
		}
		if err := e.st.DeleteSession(ctx, token2); err != nil {
			t.Errorf("second DeleteSession: %v", err)
		}

		if _, _, err := e.st.CreateSession(ctx, "no-such-user", auth.SessionMeta{}); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("CreateSession(unknown user): error %v, want ErrNotFound", err)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		u := e.mustCreate(t, "rina")
		lastSeen := func(token string) time.Time {
			var ms int64
			if err := e.db.QueryRowContext(ctx, e.db.Rebind(`SELECT last_seen_at FROM auth_sessions WHERE token_hash = ?`), sha256Hex(token)).Scan(&ms); err != nil {
				t.Fatalf("last_seen_at: %v", err)
			}
			return time.UnixMilli(ms).UTC()
		}

		// Idle: 2h without use ends it.
		_, idle, _ := e.st.CreateSession(ctx, u.ID, auth.SessionMeta{})
		start := e.clock.Now()
		e.clock.Advance(30 * time.Second)
		if _, _, err := e.st.Session(ctx, idle); err != nil {
			t.Fatalf("Session after 30s: %v", err)
		}
		if got := lastSeen(idle); !got.Equal(start) {
			t.Errorf("last seen written after 30s: %v, want %v (at most once a minute)", got, start)
		}
		e.clock.Advance(31 * time.Second)
		s, _, err := e.st.Session(ctx, idle)
		if err != nil {
			t.Fatalf("Session after 61s: %v", err)
		}
		if got := lastSeen(idle); !got.Equal(e.clock.Now()) || !s.LastSeenAt.Equal(got) {
			t.Errorf("last seen after 61s: stored %v, returned %v; want %v", got, s.LastSeenAt, e.clock.Now())
		}
		e.clock.Advance(2*time.Hour - time.Millisecond)
		if _, _, err := e.st.Session(ctx, idle); err != nil {
			t.Fatalf("Session just before idle expiry: %v", err)
		}
		e.clock.Advance(2 * time.Hour)
		if _, _, err := e.st.Session(ctx, idle); !errors.Is(err, auth.ErrExpired) {
			t.Errorf("idle session: error %v, want ErrExpired", err)
		}
		if _, _, err := e.st.Session(ctx, idle); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("idle session again: error %v, want ErrInvalidCredentials (deleted)", err)
		}

		// Absolute: 24h after login, however busy.
		_, busy, _ := e.st.CreateSession(ctx, u.ID, auth.SessionMeta{})
		for i := 0; i < 47; i++ {
			e.clock.Advance(30 * time.Minute)
			if _, _, err := e.st.Session(ctx, busy); err != nil {
				t.Fatalf("busy session after %v: %v", time.Duration(i+1)*30*time.Minute, err)
			}
		}
		e.clock.Advance(30 * time.Minute)
		if _, _, err := e.st.Session(ctx, busy); !errors.Is(err, auth.ErrExpired) {
			t.Errorf("session after 24h: error %v, want ErrExpired", err)
		}
	})
}

func TestSessionsEndWithUser(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		e.mustCreate(t, "boss", auth.RoleAdmin)
		u := e.mustCreate(t, "rina", auth.RoleAdmin)
		other := e.mustCreate(t, "budi")
		_, keep, _ := e.st.CreateSession(ctx, other.ID, auth.SessionMeta{})

		tokens := func(n int) []string {
			var out []string
			for i := 0; i < n; i++ {
				_, tok, err := e.st.CreateSession(ctx, u.ID, auth.SessionMeta{UserAgent: strings.Repeat("é", 1000)})
				if err != nil {
					t.Fatalf("CreateSession: %v", err)
				}
				out = append(out, tok)
			}
			return out
		}
		wantEnded := func(what string, toks []string) {
			t.Helper()
			for _, tok := range toks {
				if _, _, err := e.st.Session(ctx, tok); !errors.Is(err, auth.ErrInvalidCredentials) {
					t.Errorf("%s: session error %v, want ErrInvalidCredentials", what, err)
				}
			}
			if _, _, err := e.st.Session(ctx, keep); err != nil {
				t.Errorf("%s: another user's session ended: %v", what, err)
			}
		}

		toks := tokens(3)
		list, err := e.st.UserSessions(ctx, u.ID)
		if err != nil || len(list) != 3 {
			t.Fatalf("UserSessions = %d sessions, %v; want 3", len(list), err)
		}
		if ua := list[0].UserAgent; len(ua) != 512 && len(ua) != 511 {
			t.Errorf("user agent stored as %d bytes, want cut to 512", len(ua))
		}
		if err := e.st.DeleteUserSession(ctx, other.ID, list[0].ID); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("delete another user's session: error %v, want ErrNotFound", err)
		}
		if err := e.st.DeleteUserSession(ctx, u.ID, list[0].ID); err != nil {
			t.Errorf("DeleteUserSession: %v", err)
		}
		if list, _ := e.st.UserSessions(ctx, u.ID); len(list) != 2 {
			t.Errorf("after DeleteUserSession: %d sessions, want 2", len(list))
		}
		if err := e.st.DeleteUserSessions(ctx, u.ID); err != nil {
			t.Fatalf("DeleteUserSessions: %v", err)
		}
		wantEnded("DeleteUserSessions", toks)

		toks = tokens(2)
		if err := e.st.SetPassword(ctx, u.ID, "another long password"); err != nil {
			t.Fatal(err)
		}
		wantEnded("SetPassword", toks)

		toks = tokens(2)
		if _, err := e.st.Disable(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		wantEnded("Disable", toks)
		if _, _, err := e.st.CreateSession(ctx, u.ID, auth.SessionMeta{}); !errors.Is(err, auth.ErrDisabled) {
			t.Errorf("CreateSession for a disabled user: error %v, want ErrDisabled", err)
		}
	})
}

func TestCleanupSessions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		u := e.mustCreate(t, "rina")
		e.st.CreateSession(ctx, u.ID, auth.SessionMeta{})
		e.clock.Advance(time.Hour)
		_, live, _ := e.st.CreateSession(ctx, u.ID, auth.SessionMeta{})
		e.clock.Advance(90 * time.Minute)
		if err := e.st.Cleanup(ctx); err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
		var n int
		if err := e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_sessions`).Scan(&n); err != nil || n != 1 {
			t.Errorf("after Cleanup %d sessions (%v), want 1", n, err)
		}
		if _, _, err := e.st.Session(ctx, live); err != nil {
			t.Errorf("live session after Cleanup: %v", err)
		}
	})
}
