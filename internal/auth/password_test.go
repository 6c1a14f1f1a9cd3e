package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

func storedHash(t *testing.T, db *store.DB, userID string) string {
	t.Helper()
	var hash string
	if err := db.QueryRowContext(context.Background(), db.Rebind(`SELECT password_hash FROM auth_users WHERE id = ?`), userID).Scan(&hash); err != nil {
		t.Fatalf("read hash: %v", err)
	}
	return hash
}

// The password is stored only as an argon2id hash, and neither it nor the
// hash is in anything the Store returns.
func TestPasswordNeverLeaves(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		u := e.mustCreate(t, "rina", auth.RoleAdmin)
		hash := storedHash(t, e.db, u.ID)
		if hash == goodPassword || strings.Contains(hash, goodPassword) || !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Errorf("stored hash %q: want an argon2id PHC string, not the password", hash)
		}
		for _, row := range rowStrings(t, e.db, `SELECT * FROM auth_users`) {
			if strings.Contains(row, goodPassword) {
				t.Errorf("users table holds the password in clear: %q", row)
			}
		}

		got, _ := e.st.User(ctx, u.ID)
		loggedIn, err := e.st.Authenticate(ctx, "rina", goodPassword, "192.0.2.1")
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		page, _ := e.st.ListUsers(ctx, auth.UserQuery{})
		sess, _, _ := e.st.CreateSession(ctx, u.ID, auth.SessionMeta{})
		key, _, _ := e.st.CreateAPIKey(ctx, auth.NewAPIKey{Name: "k", OwnerID: u.ID, Scopes: []string{"topics.read"}})
		for name, v := range map[string]any{
			"CreateUser": u, "User": got, "Authenticate": loggedIn, "ListUsers": page, "CreateSession": sess, "CreateAPIKey": key,
		} {
			assertNoSecrets(t, name, v, goodPassword, hash, hash[strings.LastIndex(hash, "$")+1:])
		}
		// NewUser, the one input holding a password, does not print it.
		assertNoSecrets(t, "NewUser printed", auth.NewUser{Username: "x", Password: goodPassword}.String(), goodPassword)
	})
}

func TestSetAndChangePassword(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		u := e.mustCreate(t, "rina")
		_, token, err := e.st.CreateSession(ctx, u.ID, auth.SessionMeta{})
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}

		const next = "a much better passphrase"
		if err := e.st.SetPassword(ctx, u.ID, "short"); !slices.Equal(fields(t, err), []string{"password"}) {
			t.Errorf("SetPassword(short): %v", err)
		}
		if err := e.st.SetPassword(ctx, "no-such-id", next); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SetPassword(unknown user): error %v, want ErrNotFound", err)
		}
		before := storedHash(t, e.db, u.ID)
		if err := e.st.SetPassword(ctx, u.ID, next); err != nil {
			t.Fatalf("SetPassword: %v", err)
		}
		if storedHash(t, e.db, u.ID) == before {
			t.Error("hash unchanged after SetPassword")
		}
		if _, _, err := e.st.Session(ctx, token); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("session after a password change: error %v, want ErrInvalidCredentials (ended)", err)
		}
		if _, err := e.st.Authenticate(ctx, "rina", goodPassword, ""); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("old password: error %v, want ErrInvalidCredentials", err)
		}
		if _, err := e.st.Authenticate(ctx, "rina", next, ""); err != nil {
			t.Errorf("new password: %v", err)
		}

		if _, err := e.st.ChangePassword(ctx, "rina", "wrong current pw", goodPassword, "192.0.2.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("ChangePassword(wrong current): error %v, want ErrInvalidCredentials", err)
		}
		if _, err := e.st.ChangePassword(ctx, "rina", next, "tiny", "192.0.2.1"); !slices.Equal(fields(t, err), []string{"new_password"}) {
			t.Errorf("ChangePassword(short new): %v", err)
		}
		if _, err := e.st.ChangePassword(ctx, "rina", next, next, "192.0.2.1"); !slices.Equal(fields(t, err), []string{"new_password"}) {
			t.Errorf("ChangePassword(same as current): %v", err)
		}
		changed, err := e.st.ChangePassword(ctx, "rina", next, goodPassword, "192.0.2.1")
		if err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		if changed.ID != u.ID || changed.MustChangePassword {
			t.Errorf("ChangePassword returned %+v, want rina with no change pending", changed)
		}
		if _, err := e.st.Authenticate(ctx, "rina", goodPassword, ""); err != nil {
			t.Errorf("login after ChangePassword: %v", err)
		}

		generated, err := e.st.ResetPassword(ctx, u.ID)
		if err != nil || len(generated) < 12 {
			t.Fatalf("ResetPassword = %q, %v", generated, err)
		}
		reset, err := e.st.Authenticate(ctx, "rina", generated, "")
		if err != nil {
			t.Errorf("login with the reset password: %v", err)
		}
		if !reset.MustChangePassword {
			t.Errorf("after ResetPassword: MustChangePassword false, want true")
		}
		if _, err := e.st.ChangePassword(ctx, "rina", generated, next, ""); err != nil {
			t.Fatalf("ChangePassword after a reset: %v", err)
		}
		if got, _ := e.st.User(ctx, u.ID); got.MustChangePassword {
			t.Errorf("after ChangePassword: MustChangePassword true, want false")
		}
	})
}

// A hash made with older parameters is replaced at the next login.
func TestRehashOnLogin(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		u := e.mustCreate(t, "rina")
		stronger := e.reopen(t, func(c *auth.Config) { c.Argon2 = auth.Argon2Params{Memory: 128, Time: 2, Threads: 1} })
		if _, err := stronger.Authenticate(ctx, "rina", "wrong password!", ""); err == nil {
			t.Fatal("wrong password accepted")
		}
		if h := storedHash(t, e.db, u.ID); !strings.Contains(h, "m=64,t=1,p=1") {
			t.Errorf("after a failed login the hash changed to %q", h)
		}
		if _, err := stronger.Authenticate(ctx, "rina", goodPassword, ""); err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if h := storedHash(t, e.db, u.ID); !strings.HasPrefix(h, "$argon2id$v=19$m=128,t=2,p=1$") {
			t.Errorf("after login the hash is %q, want the new parameters", h)
		}
		if _, err := stronger.Authenticate(ctx, "rina", goodPassword, ""); err != nil {
			t.Errorf("login with the re-hashed password: %v", err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		e.mustCreate(t, "rina", auth.RoleViewer)
		if _, err := e.st.CreateUser(ctx, auth.NewUser{Username: "nopass"}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			user, pw string
			want     error
		}{
			{"rina", goodPassword, nil},
			{" RINA ", goodPassword, nil},
			{"rina", "wrong password", auth.ErrInvalidCredentials},
			{"rina", "", auth.ErrInvalidCredentials},
			{"rina", strings.Repeat("x", 2000), auth.ErrInvalidCredentials},
			{"nobody", goodPassword, auth.ErrInvalidCredentials},
			{"nopass", "", auth.ErrInvalidCredentials},
			{"", "", auth.ErrInvalidCredentials},
		}
		for _, tt := range tests {
			u, err := e.st.Authenticate(ctx, tt.user, tt.pw, "")
			if !errors.Is(err, tt.want) || (err != nil) != (tt.want != nil) {
				t.Errorf("Authenticate(%q, %.10q) error %v, want %v", tt.user, tt.pw, err, tt.want)
			}
			if err == nil && (u.Username != "rina" || !slices.Equal(u.Roles, []auth.Role{auth.RoleViewer})) {
				t.Errorf("Authenticate(%q) = %+v, want rina with role viewer", tt.user, u)
			}
			if err != nil && u.ID != "" {
				t.Errorf("Authenticate(%q) failed but returned user %s", tt.user, u.ID)
			}
		}
	})
}
