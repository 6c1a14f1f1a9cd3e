package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

const adminPassword = "correct horse battery staple"

type fixture struct {
	t       testing.TB
	srv     *httptest.Server
	auth    *auth.Store
	handler *Handler
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, nil)
}

func newFixtureWith(t testing.TB, broker stream.Broker) *fixture {
	t.Helper()
	return newFixtureWithSagas(t, broker, nil)
}

func newFixtureWithSagas(t testing.TB, broker stream.Broker, sagas *saga.Orchestrator) *fixture {
	t.Helper()
	return newFixtureWithConfig(t, func(c *Config) { c.Broker, c.Sagas = broker, sagas })
}

// newFixtureWithConfig starts the console with an auth store holding the
// admin; change sets the other parts (a DLQ manager is made for a broker).
func newFixtureWithConfig(t testing.TB, change func(*Config)) *fixture {
	t.Helper()
	return newFixtureWithAuth(t, nil, change)
}

// newFixtureWithAuth is newFixtureWithConfig with the auth store's
// configuration changed by authChange as well.
func newFixtureWithAuth(t testing.TB, authChange func(*auth.Config), change func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "auth"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	acfg := auth.Config{Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1}, Logger: quiet}
	if authChange != nil {
		authChange(&acfg)
	}
	st, err := auth.Open(ctx, db, acfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.EnsureAdmin(ctx, adminPassword); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Auth: st, Logger: quiet, Engine: "embedded", Version: "test",
		Status: func(context.Context) []Component {
			return []Component{{Name: "backbone", Kind: "embedded", Where: "/data", Up: true}}
		}}
	if change != nil {
		change(&cfg)
	}
	if cfg.Broker != nil && cfg.DLQ == nil {
		if cfg.DLQ, err = dlq.New(cfg.Broker, dlq.Config{Logger: quiet}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, auth: st, handler: h}
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: f.t, base: f.srv.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func (b *browser) get(path string) (*http.Response, string) { return b.do("GET", path, nil) }

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	return b.do("POST", path, form)
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no CSRF token:\n%s", body)
	}
	return m[1]
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// login signs in and returns a page's CSRF token for later forms.
func (b *browser) login(username, password string) string {
	b.t.Helper()
	_, body := b.get("/login")
	resp, body := b.post("/login", url.Values{"csrf_token": {csrfOf(b.t, body)}, "username": {username}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login as %s: status %d, want 303:\n%s", username, resp.StatusCode, body)
	}
	_, body = b.get("/system")
	return csrfOf(b.t, body)
}

func wantStatus(t *testing.T, what string, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Errorf("%s: status %d, want %d", what, resp.StatusCode, want)
	}
}

func TestLoginFlow(t *testing.T) {
	f := newFixture(t)
	b := f.browser()

	resp, _ := b.get("/users")
	wantStatus(t, "anonymous /users", resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/login?next=%2Fusers" {
		t.Errorf("redirect to %q, want the login page with next=/users", loc)
	}

	_, body := b.get("/login")
	token := csrfOf(t, body)
	resp, _ = b.post("/login", url.Values{"username": {"admin"}, "password": {adminPassword}})
	wantStatus(t, "login without CSRF token", resp, http.StatusForbidden)
	resp, body = b.post("/login", url.Values{"csrf_token": {token}, "username": {"admin"}, "password": {"wrong password!"}})
	wantStatus(t, "login with a wrong password", resp, http.StatusUnauthorized)
	if !strings.Contains(body, "Wrong username or password.") {
		t.Errorf("wrong-password page lacks the message")
	}

	// Session fixation: a session cookie planted before login is replaced.
	u, _ := url.Parse(f.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: auth.SessionCookie, Value: "planted-by-attacker", Path: "/"}})
	resp, _ = b.post("/login", url.Values{"csrf_token": {token}, "username": {"admin"}, "password": {adminPassword}, "next": {"/users"}})
	wantStatus(t, "login", resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/users" {
		t.Errorf("after login redirected to %q, want /users", loc)
	}
	first := b.cookie(auth.SessionCookie)
	if first == "" || first == "planted-by-attacker" {
		t.Fatalf("session cookie after login = %q, want a new session id", first)
	}
	for _, c := range resp.Cookies() {
		if c.Name == auth.SessionCookie && (!c.HttpOnly || c.SameSite != http.SameSiteLaxMode) {
			t.Errorf("session cookie flags: HttpOnly %v SameSite %v", c.HttpOnly, c.SameSite)
		}
	}
	resp, body = b.get("/users")
	wantStatus(t, "/users after login", resp, http.StatusOK)
	if !strings.Contains(body, ">admin</a>") {
		t.Errorf("users page does not list admin")
	}

	// Logout needs the CSRF token, then ends the session.
	_, body = b.get("/system")
	resp, _ = b.post("/logout", url.Values{})
	wantStatus(t, "logout without CSRF token", resp, http.StatusForbidden)
	resp, _ = b.post("/logout", url.Values{"csrf_token": {csrfOf(t, body)}})
	wantStatus(t, "logout", resp, http.StatusSeeOther)
	resp, _ = b.get("/users")
	wantStatus(t, "/users after logout", resp, http.StatusSeeOther)
	// The old session id is dead, not merely forgotten by the browser.
	old := f.browser()
	old.c.Jar.SetCookies(u, []*http.Cookie{{Name: auth.SessionCookie, Value: first, Path: "/"}})
	resp, _ = old.get("/users")
	wantStatus(t, "/users with the logged-out session id", resp, http.StatusSeeOther)
}

func TestLoginThrottled(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	_, body := b.get("/login")
	token := csrfOf(t, body)
	var resp *http.Response
	for i := 0; i < 10; i++ {
		resp, _ = b.post("/login", url.Values{"csrf_token": {token}, "username": {"admin"}, "password": {"not the password"}})
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
	}
	wantStatus(t, "repeated failed logins", resp, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("throttled login has no Retry-After")
	}
	// Even the right password is refused while throttled.
	resp, _ = b.post("/login", url.Values{"csrf_token": {token}, "username": {"admin"}, "password": {adminPassword}})
	wantStatus(t, "right password while throttled", resp, http.StatusTooManyRequests)
}

func TestUsersAndKeys(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	csrf := b.login("admin", adminPassword)

	// Every POST form needs its token.
	for _, path := range []string{"/users", "/keys", "/logout"} {
		resp, _ := b.post(path, url.Values{"username": {"x"}, "name": {"x"}})
		wantStatus(t, "POST "+path+" without CSRF token", resp, http.StatusForbidden)
		resp, _ = b.post(path, url.Values{"csrf_token": {"forged"}, "name": {"x"}})
		wantStatus(t, "POST "+path+" with a forged CSRF token", resp, http.StatusForbidden)
	}

	resp, body := b.post("/users", url.Values{"csrf_token": {csrf}, "username": {"Bad Name!"}, "roles": {"viewer"}})
	wantStatus(t, "create user with a bad username", resp, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `id="username-err"`) {
		t.Errorf("bad username not shown next to its field")
	}

	resp, body = b.post("/users", url.Values{"csrf_token": {csrf}, "username": {"vera"}, "name": {"Vera Viewer"}, "roles": {"viewer"}})
	wantStatus(t, "create user", resp, http.StatusCreated)
	pw := regexp.MustCompile(`<code id="new-password">([^<]+)</code>`).FindStringSubmatch(body)
	if pw == nil {
		t.Fatalf("created user's generated password not shown")
	}
	if strings.Contains(body, "password_hash") || strings.Contains(body, "$argon2id$") {
		t.Errorf("page shows a password hash")
	}

	resp, body = b.post("/keys", url.Values{"csrf_token": {csrf}, "name": {"shop"}, "scopes": {"records.produce"}, "expires_days": {"30"}})
	wantStatus(t, "create key", resp, http.StatusCreated)
	secret := regexp.MustCompile(`<code id="new-key">(arus_[^<]+)</code>`).FindStringSubmatch(body)
	if secret == nil {
		t.Fatalf("new key's secret not shown:\n%s", body)
	}
	if _, err := f.auth.VerifyAPIKey(context.Background(), secret[1]); err != nil {
		t.Errorf("the shown key does not verify: %v", err)
	}
	_, body = b.get("/keys")
	if strings.Contains(body, secret[1]) {
		t.Errorf("the key list shows the secret again")
	}

	// Rotating and revoking a key ask first; nothing changes until confirmed.
	keys, _ := f.auth.ListAPIKeys(context.Background(), "")
	var shop auth.APIKey
	for _, k := range keys {
		if k.Name == "shop" {
			shop = k
		}
	}
	for _, action := range []string{"rotate", "revoke"} {
		resp, body = b.post("/keys/"+shop.ID+"/"+action, url.Values{"csrf_token": {csrf}})
		wantStatus(t, action+" review", resp, http.StatusOK)
		if !strings.Contains(body, `name="confirmed" value="yes"`) || !strings.Contains(body, "“shop”") {
			t.Errorf("%s shows no review naming the key", action)
		}
		if _, err := f.auth.VerifyAPIKey(context.Background(), secret[1]); err != nil {
			t.Errorf("the key changed before %s was confirmed: %v", action, err)
		}
	}
	resp, _ = b.post("/keys/"+shop.ID+"/revoke", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}})
	wantStatus(t, "revoke", resp, http.StatusSeeOther)
	if _, err := f.auth.VerifyAPIKey(context.Background(), secret[1]); err == nil {
		t.Error("a revoked key still verifies")
	}
	resp, _ = b.post("/keys/"+shop.ID+"/rotate", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}})
	wantStatus(t, "rotate a revoked key", resp, http.StatusConflict)

	// So do resetting a password and disabling a user.
	vera, err := f.auth.UserByUsername(context.Background(), "vera")
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"password", "disable"} {
		resp, body = b.post("/users/"+vera.ID+"/"+action, url.Values{"csrf_token": {csrf}})
		wantStatus(t, action+" review", resp, http.StatusOK)
		if !strings.Contains(body, `name="confirmed" value="yes"`) || !strings.Contains(body, "vera?") {
			t.Errorf("%s shows no review naming the user", action)
		}
	}
	if u, _ := f.auth.User(context.Background(), vera.ID); u.Disabled {
		t.Error("user disabled before it was confirmed")
	}

	// A viewer reads the system page but manages neither users nor keys.
	v := f.browser()
	v.loginChanging("vera", html(pw[1]), "vera's very own passphrase")
	for _, path := range []string{"/users", "/users/new", "/keys"} {
		resp, _ = v.get(path)
		wantStatus(t, "viewer GET "+path, resp, http.StatusForbidden)
	}
	_, body = v.get("/system")
	if strings.Contains(body, `href="/users"`) {
		t.Errorf("a viewer's navigation links to the users page")
	}
	resp, _ = v.post("/users", url.Values{"csrf_token": {csrfOf(t, body)}, "username": {"mallory"}, "roles": {"admin"}})
	wantStatus(t, "viewer POST /users", resp, http.StatusForbidden)
}

// html undoes the escaping html/template applies to text.
func html(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&#43;", "+").Replace(s)
}

func TestSecurityHeadersAndNotFound(t *testing.T) {
	f := newFixture(t)
	resp, body := f.browser().get("/nope")
	wantStatus(t, "GET /nope", resp, http.StatusNotFound)
	if !strings.Contains(body, "Page not found") {
		t.Errorf("404 page lacks its title")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	resp, _ = f.browser().get("/static/app.css")
	wantStatus(t, "GET /static/app.css", resp, http.StatusOK)
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{"/users": "/users", "": "/", "//evil.example": "/", "https://evil.example": "/", "/\\evil": "/"} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// lang chooses the language of the ticketing pages and the scanner, as
// their switch does.
func (b *browser) lang(l string) {
	b.t.Helper()
	resp, _ := b.get("/lang?l=" + l + "&next=/ticketing/events")
	if resp.StatusCode != http.StatusSeeOther || b.cookie(consoleLang.cookie) != l {
		b.t.Fatalf("GET /lang?l=%s: status %d, cookie %q", l, resp.StatusCode, b.cookie(consoleLang.cookie))
	}
}
