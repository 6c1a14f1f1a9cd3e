package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
)

// loginChanging signs in with a generated password, which the console
// requires to be changed first, changes it to next and returns a page's
// CSRF token for later forms.
func (b *browser) loginChanging(username, password, next string) string {
	b.t.Helper()
	_, body := b.get("/login")
	resp, body := b.post("/login", url.Values{"csrf_token": {csrfOf(b.t, body)}, "username": {username}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != changePasswordPath {
		b.t.Fatalf("login as %s with a generated password: status %d to %q, want 303 to %s:\n%s",
			username, resp.StatusCode, resp.Header.Get("Location"), changePasswordPath, body)
	}
	_, body = b.get(changePasswordPath)
	resp, body = b.post(changePasswordPath, url.Values{"csrf_token": {csrfOf(b.t, body)},
		"current_password": {password}, "new_password": {next}, "confirm_password": {next}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("change the generated password of %s: status %d, want 303:\n%s", username, resp.StatusCode, body)
	}
	_, body = b.get("/system")
	return csrfOf(b.t, body)
}

// A generated password must be changed before anything else; the change
// needs the current password and ends the user's other sessions.
func TestGeneratedPasswordMustBeChanged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.auth.CreateUser(ctx, auth.NewUser{Username: "vera", Roles: []auth.Role{auth.RoleViewer}})
	if err != nil {
		t.Fatal(err)
	}
	generated, err := f.auth.ResetPassword(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A key vera owns is not held up by the pending change.
	_, key, err := f.auth.CreateAPIKey(ctx, auth.NewAPIKey{Name: "vera's script", OwnerID: u.ID, Scopes: []string{"topics.read"}})
	if err != nil {
		t.Fatal(err)
	}

	b := f.browser()
	_, body := b.get("/login")
	resp, _ := b.post("/login", url.Values{"csrf_token": {csrfOf(t, body)}, "username": {"vera"}, "password": {generated}, "next": {"/topics"}})
	if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != changePasswordPath {
		t.Fatalf("login with the generated password: status %d to %q, want 303 to %s", resp.StatusCode, got, changePasswordPath)
	}
	for _, path := range []string{"/", "/system", "/users", "/keys"} {
		resp, _ := b.get(path)
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != changePasswordPath {
			t.Errorf("GET %s before the change: status %d to %q, want 303 to %s", path, resp.StatusCode, got, changePasswordPath)
		}
	}
	if _, err := f.auth.VerifyAPIKey(ctx, key); err != nil {
		t.Errorf("vera's API key while her password change is pending: %v", err)
	}

	// A second browser signed in meanwhile.
	other := f.browser()
	_, body = other.get("/login")
	other.post("/login", url.Values{"csrf_token": {csrfOf(t, body)}, "username": {"vera"}, "password": {generated}})

	resp, body = b.get(changePasswordPath)
	wantStatus(t, "GET "+changePasswordPath, resp, http.StatusOK)
	if !strings.Contains(body, "Your password was generated for you") {
		t.Errorf("change page does not say why it is required")
	}
	csrf := csrfOf(t, body)
	const mine = "vera's very own passphrase"
	for _, tc := range []struct {
		name                   string
		current, next, confirm string
		field                  string
	}{
		{"wrong current password", "not the password", mine, mine, "current-password-err"},
		{"confirmation differs", generated, mine, mine + "!", "confirm-password-err"},
		{"too short", generated, "short", "short", "new-password-err"},
		{"same as the current one", generated, generated, generated, "new-password-err"},
		{"no new password", generated, "", "", "new-password-err"},
	} {
		resp, body := b.post(changePasswordPath, url.Values{"csrf_token": {csrf},
			"current_password": {tc.current}, "new_password": {tc.next}, "confirm_password": {tc.confirm}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="`+tc.field+`"`) {
			t.Errorf("%s: status %d, want 422 with the error at %s", tc.name, resp.StatusCode, tc.field)
		}
	}
	resp, _ = b.post(changePasswordPath, url.Values{"current_password": {generated}, "new_password": {mine}, "confirm_password": {mine}})
	wantStatus(t, "change without a CSRF token", resp, http.StatusForbidden)

	resp, _ = b.post(changePasswordPath, url.Values{"csrf_token": {csrf},
		"current_password": {generated}, "new_password": {mine}, "confirm_password": {mine}})
	wantStatus(t, "change password", resp, http.StatusSeeOther)
	resp, _ = b.get(resp.Header.Get("Location"))
	resp, body = b.get(resp.Header.Get("Location"))
	wantStatus(t, "first page after the change", resp, http.StatusOK)
	if !strings.Contains(body, "Password changed.") || !strings.Contains(body, "<strong>vera</strong>") {
		t.Errorf("first page after the change does not show vera signed in with a notice")
	}
	// The other browser's session ended with the change.
	resp, _ = other.get("/system")
	if got := resp.Header.Get("Location"); !strings.HasPrefix(got, "/login") {
		t.Errorf("other session after the change: status %d to %q, want the login page", resp.StatusCode, got)
	}
	if _, err := f.auth.Authenticate(ctx, "vera", generated, ""); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("generated password after the change: %v, want ErrInvalidCredentials", err)
	}
	if _, err := f.auth.VerifyAPIKey(ctx, key); err != nil {
		t.Errorf("vera's API key after the change: %v", err)
	}
	// Signing in again goes straight on.
	again := f.browser()
	_, body = again.get("/login")
	resp, _ = again.post("/login", url.Values{"csrf_token": {csrfOf(t, body)}, "username": {"vera"}, "password": {mine}, "next": {"/system"}})
	if got := resp.Header.Get("Location"); got != "/system" {
		t.Errorf("login with the chosen password goes to %q, want /system", got)
	}
}

// Any user changes their own password from the console; others cannot be
// changed there, and the admin's own change keeps the admin signed in.
func TestChangeOwnPassword(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.login("admin", adminPassword)
	_, body := b.get("/system")
	if !strings.Contains(body, `href="/account/password"`) {
		t.Errorf("top bar has no link to change the password")
	}
	_, body = b.get(changePasswordPath)
	if strings.Contains(body, "generated for you") {
		t.Errorf("change page says the change is required when it is not")
	}
	const next = "the admin's next passphrase"
	resp, _ := b.post(changePasswordPath, url.Values{"csrf_token": {csrfOf(t, body)},
		"current_password": {adminPassword}, "new_password": {next}, "confirm_password": {next}})
	wantStatus(t, "change password", resp, http.StatusSeeOther)
	resp, body = b.get("/users")
	wantStatus(t, "/users after the change", resp, http.StatusOK)
	if !strings.Contains(body, "admin") {
		t.Errorf("users page after the change does not list admin")
	}
	if _, err := f.auth.Authenticate(context.Background(), "admin", next, ""); err != nil {
		t.Errorf("admin with the new password: %v", err)
	}
}

// A key made in the console belongs to whoever made it, is listed with its
// owner, and is refused once the owner is disabled.
func TestConsoleKeysAreOwned(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.auth.CreateUser(ctx, auth.NewUser{Username: "ops", Password: "ops passphrase 123", Roles: []auth.Role{auth.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	csrf := b.login("ops", "ops passphrase 123")
	resp, body := b.post("/keys", url.Values{"csrf_token": {csrf}, "name": {"ops script"}, "scopes": {"topics.read"}, "expires_days": {"0"}})
	wantStatus(t, "create key", resp, http.StatusCreated)
	m := regexp.MustCompile(`<code id="new-key">(arus_[^<]+)</code>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("new key not shown:\n%s", body)
	}
	key := m[1]
	k, err := f.auth.VerifyAPIKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := f.auth.UserByUsername(ctx, "ops")
	if k.OwnerID != ops.ID {
		t.Errorf("key made by ops has owner %q, want %q", k.OwnerID, ops.ID)
	}
	_, body = b.get("/keys")
	if !regexp.MustCompile(`ops script</td>\s*<td class="mono">[a-z2-7]+</td>\s*<td><span class="mono">ops</span>`).MatchString(body) {
		t.Errorf("key list does not show ops as the key's owner")
	}

	a := f.browser()
	csrf = a.login("admin", adminPassword)
	resp, _ = a.post("/users/"+ops.ID+"/disable", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}})
	wantStatus(t, "disable ops", resp, http.StatusSeeOther)
	if _, err := f.auth.VerifyAPIKey(ctx, key); !errors.Is(err, auth.ErrDisabled) {
		t.Errorf("key of a disabled owner: %v, want ErrDisabled", err)
	}
}
