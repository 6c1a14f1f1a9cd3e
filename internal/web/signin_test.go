package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
)

// hostileNext are post-login targets that a browser could read as another
// origin, in the forms browsers forgive: doubled or back slashes, tabs and
// newlines they drop, schemes, and encodings of each.
var hostileNext = []string{
	"//evil.example",
	"///evil.example",
	"////evil.example",
	`/\evil.example`,
	`/\/evil.example`,
	`\\evil.example`,
	`\/evil.example`,
	"/\t/evil.example",
	"/\n/evil.example",
	"/\r\n/evil.example",
	"/\t\t/evil.example",
	"\t//evil.example",
	" //evil.example",
	"/ /evil.example",
	"/\x00/evil.example",
	"/\x1f/evil.example",
	"/\u3000/evil.example",
	"/\u00a0/evil.example",
	"https://evil.example",
	"HTTPS://evil.example/",
	"http:evil.example",
	"http:/evil.example",
	`https:\\evil.example`,
	"javascript:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"//evil.example@localhost",
	"/%09/evil.example",
	"/%2F/evil.example",
	"/%5C/evil.example",
	"%2F%2Fevil.example",
	"%2f%5cevil.example",
	"/.//evil.example",
	"/./\t/evil.example",
	"/\uff0fevil.example",
	"/login?next=//evil.example",
	"/\r\nSet-Cookie: x=1",
}

// browserTarget resolves a Location header as a browser does: tabs and
// newlines removed, leading and trailing controls and spaces trimmed, a
// backslash read as a slash.
func browserTarget(t *testing.T, base, loc string) *url.URL {
	t.Helper()
	s := strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, loc)
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	b, _ := url.Parse(base)
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable to Go; a browser may still follow it.
		return &url.URL{Host: "unparseable:" + loc}
	}
	return b.ResolveReference(u)
}

// checkSameSite fails when a redirect could leave the site or carries
// characters a browser would rewrite.
func checkSameSite(t *testing.T, what, base string, resp *http.Response) {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("%s: status %d, want 303", what, resp.StatusCode)
		return
	}
	b, _ := url.Parse(base)
	if u := browserTarget(t, base, loc); u.Scheme != b.Scheme || u.Host != b.Host {
		t.Errorf("%s: Location %q leads to %s://%s, want this site", what, loc, u.Scheme, u.Host)
	}
	if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsFunc(loc, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '\\' }) {
		t.Errorf("%s: Location %q is not a plain same-site path", what, loc)
	}
}

func TestSignInRedirectStaysOnSite(t *testing.T) {
	f := newFixture(t)
	signIn := func(next string) *http.Response {
		b := f.browser()
		_, body := b.get("/login")
		resp, _ := b.post("/login", url.Values{"csrf_token": {csrfOf(t, body)}, "username": {"admin"}, "password": {adminPassword}, "next": {next}})
		return resp
	}
	signedIn := f.browser()
	signedIn.login("admin", adminPassword)
	for _, next := range hostileNext {
		t.Run(fmt.Sprintf("%q", next), func(t *testing.T) {
			// Signing in with next in the form.
			checkSameSite(t, "POST /login", f.srv.URL, signIn(next))
			// Already signed in: the login page sends on at once.
			resp, _ := signedIn.get("/login?next=" + url.QueryEscape(next))
			checkSameSite(t, "GET /login signed in", f.srv.URL, resp)
		})
	}
	// The reported case, as sent.
	resp, _ := signedIn.get("/login?next=/%09/evil.example")
	checkSameSite(t, "GET /login?next=/%09/evil.example", f.srv.URL, resp)

	// Same-site targets are kept as they are.
	for _, next := range []string{"/users", "/topics/orders?partition=1&from=10", "/groups/a%2Fb", "/relay/routes/new"} {
		if got := signIn(next).Header.Get("Location"); got != next {
			t.Errorf("sign in with next %q: Location %q, want it kept", next, got)
		}
	}
}

// browserFrom is a browser whose connections come from the loopback
// address ip (any of 127.0.0.0/8 on Linux), so that the server sees
// distinct clients.
func (f *fixture) browserFrom(ip string) *browser {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	f.t.Cleanup(tr.CloseIdleConnections)
	b := &browser{t: f.t, base: f.srv.URL, c: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	req, _ := http.NewRequest("GET", f.srv.URL+"/login", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		f.t.Skipf("cannot connect from %s (loopback aliases missing?): %v", ip, err)
	}
	resp.Body.Close()
	return b
}

// signIn posts the login form with the given X-Forwarded-For (none when
// empty) and returns the status.
func (b *browser) signIn(username, password, forwarded string) *http.Response {
	b.t.Helper()
	_, body := b.get("/login")
	form := url.Values{"csrf_token": {csrfOf(b.t, body)}, "username": {username}, "password": {password}}
	req, _ := http.NewRequest("POST", b.base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if forwarded != "" {
		req.Header.Set("X-Forwarded-For", forwarded)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func wantThrottledResponse(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s: status %d, Retry-After %q; want 429 with Retry-After", what, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// Wrong passwords slow down the address they come from, not the account:
// the owner signs in from elsewhere.
func TestSignInThrottledPerAddress(t *testing.T) {
	f := newFixture(t)
	attacker, owner := f.browserFrom("127.0.0.2"), f.browserFrom("127.0.0.3")
	for i := range 5 {
		wantStatus(t, fmt.Sprintf("attacker's wrong password %d", i+1), attacker.signIn("admin", "not the password", ""), http.StatusUnauthorized)
	}
	wantThrottledResponse(t, "attacker's 6th try", attacker.signIn("admin", "not the password", ""))
	wantThrottledResponse(t, "attacker with the right password", attacker.signIn("admin", adminPassword, ""))
	wantStatus(t, "owner from another address", owner.signIn("admin", adminPassword, ""), http.StatusSeeOther)
	// Another user from the attacker's address is not locked either:
	// five failures are far from the address's own limit.
	ctx := context.Background()
	if _, err := f.auth.CreateUser(ctx, auth.NewUser{Username: "budi", Password: "budi's passphrase", Roles: []auth.Role{auth.RoleViewer}}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "another account from the attacker's address", attacker.signIn("budi", "budi's passphrase", ""), http.StatusSeeOther)
}

// X-Forwarded-For counts only from a trusted proxy.
func TestSignInForwardedFor(t *testing.T) {
	t.Run("ignored from an untrusted peer", func(t *testing.T) {
		f := newFixture(t)
		attacker := f.browserFrom("127.0.0.2")
		// A new forged address each time does not buy new tries.
		for i := range 5 {
			wantStatus(t, fmt.Sprintf("wrong password %d", i+1), attacker.signIn("admin", "not the password", fmt.Sprintf("198.51.100.%d", i+1)), http.StatusUnauthorized)
		}
		wantThrottledResponse(t, "6th try with a forged address", attacker.signIn("admin", "not the password", "198.51.100.99"))
		owner := f.browserFrom("127.0.0.3")
		wantStatus(t, "owner", owner.signIn("admin", adminPassword, "203.0.113.5"), http.StatusSeeOther)
		wantSessionIP(t, f, "127.0.0.3")
	})
	t.Run("honoured from a trusted proxy", func(t *testing.T) {
		f := newFixtureWithAuth(t, func(c *auth.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} }, nil)
		proxy := f.browserFrom("127.0.0.2")
		for i := range 5 {
			wantStatus(t, fmt.Sprintf("wrong password %d", i+1), proxy.signIn("admin", "not the password", "203.0.113.7"), http.StatusUnauthorized)
		}
		wantThrottledResponse(t, "attacker's 6th try through the proxy", proxy.signIn("admin", adminPassword, "203.0.113.7"))
		// Prepending a forged address does not hide the one the proxy saw.
		wantThrottledResponse(t, "attacker with a forged first hop", proxy.signIn("admin", adminPassword, "198.51.100.20, 203.0.113.7"))
		// The owner, another client of the same proxy, signs in.
		wantStatus(t, "owner through the proxy", proxy.signIn("admin", adminPassword, "198.51.100.20"), http.StatusSeeOther)
		wantSessionIP(t, f, "198.51.100.20")
	})
}

// wantSessionIP checks that the admin's newest session records ip.
func wantSessionIP(t *testing.T, f *fixture, ip string) {
	t.Helper()
	admin, err := f.auth.UserByUsername(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := f.auth.UserSessions(context.Background(), admin.ID)
	if err != nil || len(sessions) == 0 {
		t.Fatalf("admin's sessions: %v, %v", sessions, err)
	}
	if got := sessions[0].IP; got != ip {
		t.Errorf("session address %q, want %q", got, ip)
	}
}
