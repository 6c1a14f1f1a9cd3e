package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

// Junk from requests — NUL bytes, invalid UTF-8, huge strings — is "not
// found", "invalid" or stored cleaned; it never reaches the database as a
// failing query (PostgreSQL rejects NUL and invalid UTF-8).
func TestJunkInput(t *testing.T) {
	junk := []string{"", "\x00", "a\x00b", "\xff\xfe", strings.Repeat("é", 5000), "'; DROP TABLE auth_users; --", "%", "../../etc"}
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		u := e.mustCreate(t, "rina", auth.RoleAdmin)
		// ok reports whether err is one of the expected kinds of answer.
		ok := func(err error) bool {
			return err == nil || errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrInvalid) ||
				errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrThrottled)
		}
		for _, j := range junk {
			calls := map[string]error{}
			_, calls["User"] = e.st.User(ctx, j)
			_, calls["UserByUsername"] = e.st.UserByUsername(ctx, j)
			_, calls["UpdateUser"] = e.st.UpdateUser(ctx, j, func(*auth.User) error { return nil })
			_, calls["UpdateUser name"] = e.st.UpdateUser(ctx, u.ID, func(u *auth.User) error { u.Name = j; return nil })
			_, calls["CreateUser"] = e.st.CreateUser(ctx, auth.NewUser{Username: j, Name: j, Email: j, Phone: j})
			_, calls["ListUsers"] = e.st.ListUsers(ctx, auth.UserQuery{Search: j, After: j})
			_, calls["Authenticate"] = e.st.Authenticate(ctx, j, j, j)
			calls["SetPassword"] = e.st.SetPassword(ctx, j, goodPassword)
			_, _, calls["CreateSession"] = e.st.CreateSession(ctx, j, auth.SessionMeta{})
			_, _, calls["Session"] = e.st.Session(ctx, j)
			calls["DeleteSession"] = e.st.DeleteSession(ctx, j)
			calls["DeleteUserSessions"] = e.st.DeleteUserSessions(ctx, j)
			calls["DeleteUserSession"] = e.st.DeleteUserSession(ctx, u.ID, j)
			_, calls["UserSessions"] = e.st.UserSessions(ctx, j)
			_, _, calls["CreateAPIKey"] = e.st.CreateAPIKey(ctx, auth.NewAPIKey{Name: j, OwnerID: j, Scopes: []string{j}})
			_, calls["APIKey"] = e.st.APIKey(ctx, j)
			_, calls["ListAPIKeys"] = e.st.ListAPIKeys(ctx, j)
			calls["RevokeAPIKey"] = e.st.RevokeAPIKey(ctx, j)
			_, _, calls["RotateAPIKey"] = e.st.RotateAPIKey(ctx, j)
			_, calls["VerifyAPIKey"] = e.st.VerifyAPIKey(ctx, j)
			_, calls["VerifyAPIKey shaped"] = e.st.VerifyAPIKey(ctx, "arus_"+pad(j, 8)+"_"+strings.Repeat("a", 52))
			for name, err := range calls {
				if !ok(err) {
					t.Errorf("%s(%.20q): error %v, want not found, invalid or success", name, j, err)
				}
			}
			sess, _, err := e.st.CreateSession(ctx, u.ID, auth.SessionMeta{IP: j, UserAgent: j})
			if err != nil {
				t.Errorf("CreateSession with junk metadata %.20q: %v", j, err)
			}
			if len(sess.UserAgent) > 512 || strings.ContainsRune(sess.UserAgent, 0) {
				t.Errorf("user agent stored as %.20q (%d bytes)", sess.UserAgent, len(sess.UserAgent))
			}
		}
	})
}

// pad cuts or pads s to n bytes.
func pad(s string, n int) string {
	s += strings.Repeat("a", n)
	return s[:n]
}
