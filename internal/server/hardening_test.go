package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
)

// Every file and directory a server creates in its data directory is its
// user's alone, even under a world-readable parent.
func TestDataFilesArePrivate(t *testing.T) {
	parent := t.TempDir()
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(parent, "data")
	r := start(t, Config{Data: data, AdminPassword: "a configured password"})
	// Work that writes to every store: a topic and records, a sign-in
	// (sessions, audit), a key.
	key := r.key(t, "topics.write", "records.produce")
	if rep := r.call(t, "POST", "/api/v1/topics", key, `{"name":"orders","partitions":1}`); rep.status != 201 {
		t.Fatalf("create topic: %d %s", rep.status, rep.body)
	}
	if rep := r.call(t, "POST", "/api/v1/topics/orders/records", key, `{"records":[{"value":"x"}]}`); rep.status >= 300 {
		t.Fatalf("produce: %d %s", rep.status, rep.body)
	}
	if _, err := r.auth.Authenticate(context.Background(), "admin", "a configured password", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	// While it runs (the SQLite -wal and -shm files exist), and once
	// stopped.
	if files, wal := walkPrivate(t, parent, data); wal == 0 {
		t.Errorf("no -wal file found while the server runs, among %d files", files)
	}
	r.stop()
	if files, _ := walkPrivate(t, parent, data); files < 4 {
		t.Errorf("found %d files in the data directory; want the stores, the log and the key file", files)
	}

	// A data directory that others can read is closed at the next start.
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	start(t, Config{Data: data}).stop()
	if info, _ := os.Stat(data); info.Mode().Perm() != 0o700 {
		t.Errorf("after a restart the data directory has mode %04o, want 0700", info.Mode().Perm())
	}
}

// walkPrivate checks the modes under data and counts its files and -wal
// files.
func walkPrivate(t *testing.T, parent, data string) (files, wal int) {
	t.Helper()
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(parent, path)
		mode := info.Mode().Perm()
		switch {
		case d.IsDir() && mode != 0o700:
			t.Errorf("directory %s has mode %04o, want 0700", rel, mode)
		case !d.IsDir() && mode != 0o600:
			t.Errorf("file %s has mode %04o, want 0600", rel, mode)
		}
		if !d.IsDir() {
			files++
			if strings.HasSuffix(path, "-wal") {
				wal++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, wal
}

// Over TLS every answer carries Strict-Transport-Security; over plain
// HTTP none does, unless a TLS-terminating proxy is declared.
func TestHSTS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t)
	cert, key := issue(t, ca, caKey, "localhost", false)
	writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", cert.Raw)
	writeKey(t, filepath.Join(dir, "server.key"), key)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	get := func(c *http.Client, u string) http.Header {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	withTLS := start(t, Config{TLSCert: filepath.Join(dir, "server.pem"), TLSKey: filepath.Join(dir, "server.key")})
	for _, path := range []string{"/healthz", "/login", "/api/v1/topics", "/", "/static/app.css"} {
		if got := get(tlsClient, withTLS.url+path).Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("GET %s over TLS: Strict-Transport-Security %q, want max-age=31536000", path, got)
		}
	}
	plain := start(t, Config{})
	if got := get(http.DefaultClient, plain.url+"/login").Get("Strict-Transport-Security"); got != "" {
		t.Errorf("over plain HTTP: Strict-Transport-Security %q, want none", got)
	}
	proxied := start(t, Config{SecureCookies: true})
	if got := get(http.DefaultClient, proxied.url+"/login").Get("Strict-Transport-Security"); got == "" {
		t.Errorf("behind a TLS-terminating proxy (--secure-cookies): no Strict-Transport-Security")
	}
}

// bannerPassword returns the one-time password a first start printed.
func bannerPassword(t *testing.T, r *running) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s+(\S{12,})\s*$`).FindStringSubmatch(r.banner.String())
	if m == nil {
		t.Fatalf("no password in the banner:\n%s", r.banner.String())
	}
	return m[1]
}

// console is a browser on a running server: a cookie jar, no redirects
// followed.
type console struct {
	t   *testing.T
	r   *running
	c   *http.Client
	tok string
}

func newConsole(t *testing.T, r *running) *console {
	jar, _ := cookiejar.New(nil)
	return &console{t: t, r: r, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (c *console) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.r.url+path, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindStringSubmatch(string(b)); m != nil {
		c.tok = m[1]
	}
	return resp, string(b)
}

func (c *console) signIn(username, password string) *http.Response {
	c.t.Helper()
	c.do("GET", "/login", nil)
	resp, _ := c.do("POST", "/login", url.Values{"csrf_token": {c.tok}, "username": {username}, "password": {password}})
	return resp
}

// The printed first password must be changed at the first sign-in; the
// API changes it too, needing the current one, and ends the user's
// sessions.
func TestFirstPasswordMustBeChanged(t *testing.T) {
	r := start(t, Config{})
	first := bannerPassword(t, r)

	c := newConsole(t, r)
	resp := c.signIn("admin", first)
	if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != "/account/password" {
		t.Fatalf("first sign-in: status %d to %q, want 303 to /account/password", resp.StatusCode, got)
	}
	if resp, _ := c.do("GET", "/users", nil); resp.Header.Get("Location") != "/account/password" {
		t.Errorf("GET /users before the change: status %d to %q, want the change page", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Nor does the API take the session until then.
	u, _ := url.Parse(r.url)
	var cookie string
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == auth.SessionCookie {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if rep := r.call(t, "GET", "/api/v1/topics", "", "", "Cookie", cookie); rep.status != http.StatusUnauthorized || !strings.Contains(rep.body, "must change their password") {
		t.Errorf("API call with the session before the change: %d %s, want 401 saying why", rep.status, rep.body)
	}

	const next = "the admin's own passphrase"
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"no body fields", `{}`, 422, `"field":"username"`},
		{"unknown field", `{"username":"admin","current_password":"x","new_password":"y","extra":1}`, 422, "extra"},
		{"wrong current password", `{"username":"admin","current_password":"not it at all","new_password":"` + next + `"}`, 401, "current_password"},
		{"unknown user", `{"username":"nobody","current_password":"not it at all","new_password":"` + next + `"}`, 401, "current_password"},
		{"too short", `{"username":"admin","current_password":"` + first + `","new_password":"short"}`, 422, `"field":"new_password"`},
		{"unchanged", `{"username":"admin","current_password":"` + first + `","new_password":"` + first + `"}`, 422, "must differ"},
	} {
		rep := r.call(t, "POST", "/api/v1/account/password", "", tc.body)
		if rep.status != tc.status || !strings.Contains(rep.body, tc.want) {
			t.Errorf("%s: %d %s, want %d mentioning %s", tc.name, rep.status, rep.body, tc.status, tc.want)
		}
	}
	// A disabled user learns nothing about their password.
	ctx := context.Background()
	if _, err := r.auth.CreateUser(ctx, auth.NewUser{Username: "gone", Password: "gone's passphrase", Roles: []auth.Role{auth.RoleViewer}}); err != nil {
		t.Fatal(err)
	}
	gone, _ := r.auth.UserByUsername(ctx, "gone")
	if _, err := r.auth.Disable(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if rep := r.call(t, "POST", "/api/v1/account/password", "", `{"username":"gone","current_password":"gone's passphrase","new_password":"`+next+`"}`); rep.status != 401 {
		t.Errorf("disabled user with the right password: %d %s, want 401 as for a wrong one", rep.status, rep.body)
	}
	rep := r.call(t, "POST", "/api/v1/account/password", "", `{"username":"admin","current_password":"`+first+`","new_password":"`+next+`"}`)
	if rep.status != http.StatusNoContent {
		t.Fatalf("change password over the API: %d %s, want 204", rep.status, rep.body)
	}
	// The console session opened with the first password has ended.
	if resp, _ := c.do("GET", "/system", nil); !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("the old session after the change: status %d to %q, want the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := newConsole(t, r).signIn("admin", first); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the first password after the change: status %d, want 401", resp.StatusCode)
	}
	c = newConsole(t, r)
	if resp := c.signIn("admin", next); resp.Header.Get("Location") != "/" {
		t.Errorf("the new password: status %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := c.do("GET", "/users", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /users after the change: %d", resp.StatusCode)
	}
	// The audit log names who changed the password.
	entries, err := r.auditLog.List(context.Background(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries.Entries {
		if e.Path == "/api/v1/account/password" && e.Status == http.StatusNoContent && e.Actor == "admin" {
			found = true
		}
	}
	if !found {
		t.Errorf("the audit log does not name admin for the password change")
	}
}

// A key made in the console belongs to its maker; the API refuses it once
// the maker is disabled.
func TestConsoleKeyRefusedWithItsOwner(t *testing.T) {
	r := start(t, Config{AdminPassword: "a configured password"})
	ctx := context.Background()
	ops, err := r.auth.CreateUser(ctx, auth.NewUser{Username: "ops", Password: "ops passphrase 123", Roles: []auth.Role{auth.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	c := newConsole(t, r)
	if resp := c.signIn("ops", "ops passphrase 123"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ops signs in: %d", resp.StatusCode)
	}
	c.do("GET", "/keys", nil)
	resp, body := c.do("POST", "/keys", url.Values{"csrf_token": {c.tok}, "name": {"ops script"}, "scopes": {"topics.read"}, "expires_days": {"0"}})
	m := regexp.MustCompile(`<code id="new-key">(arus_[^<]+)</code>`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusCreated || m == nil {
		t.Fatalf("create a key in the console: %d", resp.StatusCode)
	}
	key := m[1]
	if rep := r.call(t, "GET", "/api/v1/topics", key, ""); rep.status != 200 {
		t.Fatalf("the new key: %d %s", rep.status, rep.body)
	}
	admin := newConsole(t, r)
	admin.signIn("admin", "a configured password")
	admin.do("GET", "/users/"+ops.ID, nil)
	if resp, _ := admin.do("POST", "/users/"+ops.ID+"/disable", url.Values{"csrf_token": {admin.tok}, "confirmed": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable ops: %d", resp.StatusCode)
	}
	if rep := r.call(t, "GET", "/api/v1/topics", key, ""); rep.status != http.StatusUnauthorized {
		t.Errorf("the key of a disabled owner: %d %s, want 401", rep.status, rep.body)
	}
	if _, err := r.auth.Enable(ctx, ops.ID); err != nil {
		t.Fatal(err)
	}
	if rep := r.call(t, "GET", "/api/v1/topics", key, ""); rep.status != 200 {
		t.Errorf("the key once its owner is enabled again: %d %s", rep.status, rep.body)
	}
}

// --trusted-proxies decides whether X-Forwarded-For names the client.
func TestTrustedProxiesFlag(t *testing.T) {
	for _, tc := range []struct {
		name, trusted string
		ownerStatus   int
	}{
		{"no proxy trusted", "", http.StatusTooManyRequests},
		{"loopback trusted", "127.0.0.1, ::1", http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := start(t, Config{AdminPassword: "a configured password", TrustedProxies: tc.trusted})
			signIn := func(password, forwarded string) int {
				c := newConsole(t, r)
				c.do("GET", "/login", nil)
				req, _ := http.NewRequest("POST", r.url+"/login", strings.NewReader(url.Values{"csrf_token": {c.tok}, "username": {"admin"}, "password": {password}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", forwarded)
				resp, err := c.c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for range 5 {
				signIn("not the password", "203.0.113.7")
			}
			if got := signIn("a configured password", "203.0.113.7"); got != http.StatusTooManyRequests {
				t.Errorf("attacker's address after 5 failures: %d, want 429", got)
			}
			if got := signIn("a configured password", "198.51.100.20"); got != tc.ownerStatus {
				t.Errorf("owner with another forwarded address: %d, want %d", got, tc.ownerStatus)
			}
		})
	}
	cfg := Config{Broker: "embedded", TrustedProxies: "10.0.0.0/8, proxy.example"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `trusted-proxies: "proxy.example"`) {
		t.Errorf("Validate with a host name in --trusted-proxies: %v", err)
	}
}

// A consume stream opened with a console session ends when that session
// does, like the console's own live streams.
func TestAPIConsumeStreamEndsAtSignOut(t *testing.T) {
	r := start(t, Config{AdminPassword: "admin's passphrase 42"})
	c := newConsole(t, r)
	if resp := c.signIn("admin", "admin's passphrase 42"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: status %d, want 303", resp.StatusCode)
	}
	c.do("GET", "/topics", nil) // a page carrying the session's CSRF token
	api := func(method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, r.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", c.tok)
		resp, err := c.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := api("POST", "/api/v1/topics", `{"name":"watched","partitions":1}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create topic: status %d, want 201", resp.StatusCode)
	}
	resp := api("POST", "/api/v1/groups/watchers/consume?topic=watched", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consume: status %d, want 200", resp.StatusCode)
	}
	ended := make(chan struct{})
	go func() { io.Copy(io.Discard, resp.Body); resp.Body.Close(); close(ended) }()

	if resp, _ := c.do("POST", "/logout", url.Values{"csrf_token": {c.tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: status %d, want 303", resp.StatusCode)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the consume stream goes on after sign-out")
	}
}
