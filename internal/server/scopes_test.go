package server

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
)

// muxPatterns walks a ServeMux and returns every pattern registered on it.
// The standard library offers no listing, so the walk reads the mux's
// routing structures by reflection; it fails the test rather than return
// nothing if they change shape.
func muxPatterns(t *testing.T, mux *http.ServeMux) []string {
	t.Helper()
	seen := map[uintptr]bool{}
	found := map[string]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(v.Elem())
		case reflect.Struct:
			if v.Type().PkgPath() != "net/http" {
				return
			}
			if v.Type().Name() == "pattern" {
				found[v.FieldByName("str").String()] = true
				return
			}
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value())
			}
		}
	}
	walk(reflect.ValueOf(mux))
	for _, want := range []string{"GET /healthz", "POST /api/v1/topics/{topic}/records", "/"} {
		if !found[want] {
			t.Fatalf("walking the mux found %d patterns, not %q: net/http's routing structures changed; update muxPatterns", len(found), want)
		}
	}
	out := make([]string, 0, len(found))
	for p := range found {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// publicRoutes take no credentials, so no scope: health, metrics, static
// files, signing in, changing one's password with the current one (the
// password is the credential), a customer's sign-up and confirmation (the
// signed link is the credential), the payment provider's callback (its
// signature is the credential), a gate device's enrolment (the one-time
// code is the credential), joining an event's waiting room (anyone may,
// limited per client) and asking for one's place in it (the queue ticket
// is the credential), the gate scanner's page and service worker (static;
// the device's key stays in the browser), the language switch of the
// ticketing pages and the scanner (it sets a cookie), the two not-found fallbacks,
// and the storefront (public pages; an order's pages take its secret link
// as the credential, see TestShopOrderPagesNeedTheirLink). Every other
// route must refuse a request without credentials.
var publicRoutes = []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /static/", "GET /login", "POST /login",
	"POST /api/v1/account/password", "POST /api/v1/customers", "GET /api/v1/customers/confirm",
	"POST /api/v1/customers/confirm/resend", "POST /api/v1/payment/provider/callback",
	"POST /api/v1/gate/enrol", "POST /api/v1/ticketing/events/{id}/waiting-room/join",
	"POST /api/v1/ticketing/events/{id}/waiting-room/status", "GET /scan/{$}", "GET /scan/sw.js", "GET /lang", "/", "/api/v1/",
	"GET /shop/{$}", "GET /shop/events/{event}", "GET /shop/events/{event}/checkout",
	"POST /shop/events/{event}/checkout", "GET /shop/orders/{token}", "GET /shop/orders/{token}/provider",
	"POST /shop/orders/{token}/provider", "GET /shop/orders/{token}/tickets", "POST /shop/orders/{token}/refund",
	"GET /shop/lang", "GET /shop/login", "POST /shop/login", "POST /shop/logout", "GET /shop/my",
	"GET /shop/signup", "POST /shop/signup", "GET /shop/events/{event}/queue", "POST /shop/events/{event}/queue", "/shop/"}

// bodyNamedRoutes name the object they create in the body, not the path.
var bodyNamedRoutes = map[string]string{"POST /api/v1/topics": `{"name":%q}`}

// fill turns a pattern into a method and a path naming target as its
// resource (its first wildcard); other wildcards get plain values.
func fill(pattern, target string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "GET", pattern
	}
	first := true
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			b.WriteString(path)
			break
		}
		j := strings.IndexByte(path[i:], '}')
		b.WriteString(path[:i])
		switch name := path[i+1 : i+j]; {
		case name == "$":
		case first:
			b.WriteString(target)
			first = false
		case name == "version":
			b.WriteString("1")
		default:
			b.WriteString("0")
		}
		path = path[i+j+1:]
	}
	path = b.String()
	if strings.HasSuffix(path, "/") && path != "/" && !strings.HasSuffix(pattern, "{$}") {
		path += "x"
	}
	return method, path
}

// trick is one way a request might try to reach victim with a key
// narrowed to orders.
type trick struct {
	name  string
	apply func(method, pattern string) (path, body string)
}

var tricks = []trick{
	{"plain", func(_, p string) (string, string) { return pathOf(p, "victim"), body("victim") }},
	{"query names the allowed resource", func(_, p string) (string, string) {
		return pathOf(p, "victim") + "?topic=orders&group=orders&dlq=orders&subject=orders&name=orders&id=orders&dataset=orders", body("victim")
	}},
	{"duplicate query parameters", func(_, p string) (string, string) {
		return pathOf(p, "victim") + "?topic=orders&topic=victim&topic=orders,victim&topic=orders;topic=orders", body("victim")
	}},
	{"body names the allowed resource", func(_, p string) (string, string) {
		return pathOf(p, "victim"), `{"name":"orders","topic":"orders","subject":"orders","dataset":"orders","datasets":["orders"],"group":"orders"}`
	}},
	{"duplicate and recased body fields", func(_, p string) (string, string) {
		// encoding/json lets the last of several spellings win: Name.
		return pathOf(p, "victim"), `{"name":"orders","NAME":"orders","Name":"victim"}`
	}},
	{"case", func(_, p string) (string, string) { return pathOf(p, "ORDERS"), body("Orders") }},
	{"percent-encoded name", func(_, p string) (string, string) { return pathOf(p, "vict%69m"), body("victim") }},
	{"encoded slash", func(_, p string) (string, string) { return pathOf(p, "orders%2F..%2Fvictim"), body("orders/../victim") }},
	{"dot-dot", func(_, p string) (string, string) { return pathOf(p, "orders/../victim"), body("victim") }},
	{"trailing slash", func(_, p string) (string, string) { return pathOf(p, "victim") + "/", body("victim") }},
}

// clean reports whether the mux serves p as it is; it redirects other
// paths (dot segments, double slashes) to their clean form, a redirect the
// test does not follow.
func clean(p string) bool {
	c := path.Clean(p)
	return c == p || c != "/" && c+"/" == p
}

func pathOf(pattern, target string) string { _, p := fill(pattern, target); return p }

func body(name string) string { return fmt.Sprintf(`{"name":%q,"topic":%q}`, name, name) }

// Every route the server registers, with a key holding one scope narrowed
// to the resource "orders", refuses every trick that aims at the resource
// "victim": the query string, the body, encodings, case, dot segments and
// trailing slashes never widen a narrowed scope. Nothing of victim's
// changes, and the same key on its own resource is let through.
func TestNarrowedScopesNeverReachAnotherResource(t *testing.T) {
	r := start(t, Config{})
	patterns := muxPatterns(t, r.mux)

	admin := r.key(t, permsAll("")...)
	setup := []struct{ method, path, body string }{
		{"POST", "/api/v1/topics", `{"name":"victim","partitions":1}`},
		{"POST", "/api/v1/topics", `{"name":"orders","partitions":1}`},
		{"POST", "/api/v1/topics/victim/records", `{"records":[{"key":"k","value":"v"}]}`},
		{"POST", "/api/v1/relay/datasets", `{"name":"victim","key_fields":["id"]}`},
		{"POST", "/api/v1/relay/datasets", `{"name":"orders","key_fields":["id"]}`},
		{"POST", "/api/v1/schemas/subjects/victim/versions", `{"schema":{"type":"object"}}`},
	}
	for _, s := range setup {
		if rep := r.call(t, s.method, s.path, admin, s.body); rep.status >= 300 {
			t.Fatalf("setup %s %s: %d %s", s.method, s.path, rep.status, rep.body)
		}
	}
	if rep := r.call(t, "POST", "/api/v1/groups/victim/consume?topic=victim&max=1&idle=1s", admin, ""); rep.status != 200 {
		t.Fatalf("setup: consume as group victim: %d %s", rep.status, rep.body)
	}
	keys := map[auth.Permission]string{}
	for _, p := range auth.Permissions() {
		keys[p] = r.key(t, string(p)+":orders")
	}
	before := snapshot(t, r, admin)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	type job struct {
		pattern string
		perm    auth.Permission
		trick   trick
	}
	jobs := make(chan job)
	var sent atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for j := range jobs {
				method, _ := fill(j.pattern, "victim")
				path, b := j.trick.apply(method, j.pattern)
				fail := func(format string, args ...any) {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s, scope %s:orders, %s: %s %s ", j.pattern, j.perm, j.trick.name, method, path)+fmt.Sprintf(format, args...))
					mu.Unlock()
				}
				req, err := http.NewRequest(method, r.url+path, strings.NewReader(b))
				if err != nil {
					fail("%v", err)
					continue
				}
				req.Header.Set("Authorization", "Bearer "+keys[j.perm])
				_, matched := r.mux.Handler(req)
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil {
					fail("%v", err)
					continue
				}
				resp.Body.Close()
				var bad string
				switch {
				case resp.StatusCode < 300:
					bad = "let through"
				case matched != j.pattern || !clean(req.URL.Path):
					// Another route, or the mux's redirect to the clean
					// path: anything but success.
				case strings.Contains(" "+j.pattern, " /api/"):
					if resp.StatusCode != http.StatusForbidden {
						bad = "want 403"
					}
				default:
					// The console takes no API key: it sends the caller to sign in.
					if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
						bad = "want 303 to /login"
					}
				}
				if bad != "" {
					fail("answered %d (%s)", resp.StatusCode, bad)
				}
			}
		})
	}
	// Every route outside publicRoutes asks for credentials: a route
	// added without any check fails here rather than escape the class.
	for _, p := range patterns {
		if slices.Contains(publicRoutes, p) {
			continue
		}
		method, path := fill(p, "victim")
		req, _ := http.NewRequest(method, r.url+path, strings.NewReader(body("victim")))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		api := strings.Contains(" "+p, " /api/")
		if api && resp.StatusCode != http.StatusUnauthorized ||
			!api && (resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login")) {
			t.Errorf("%s without credentials: %s %s answered %d; want it refused (401, or the console's sign-in), or the route listed in publicRoutes", p, method, path, resp.StatusCode)
		}
	}

	routes := 0
	var public []string
	for _, p := range patterns {
		if slices.Contains(publicRoutes, p) {
			public = append(public, p)
			continue
		}
		routes++
		for _, perm := range auth.Permissions() {
			for _, tr := range tricks {
				jobs <- job{p, perm, tr}
			}
		}
	}
	close(jobs)
	wg.Wait()
	sort.Strings(failures)
	for i, f := range failures {
		if i == 20 {
			t.Errorf("… and %d more", len(failures)-20)
			break
		}
		t.Error(f)
	}
	t.Logf("class tested: %d routes × %d scopes × %d tricks = %d requests (%d public routes left out: %s)",
		routes, len(auth.Permissions()), len(tricks), sent.Load(), len(public), strings.Join(public, ", "))
	if want := int64(routes * len(auth.Permissions()) * len(tricks)); sent.Load() != want || routes < 100 {
		t.Errorf("sent %d requests over %d routes, want %d over every route", sent.Load(), routes, want)
	}
	if after := snapshot(t, r, admin); after != before {
		t.Errorf("victim's state changed:\nbefore %s\nafter  %s", before, after)
	}

	// The same scopes on their own resource are let through: the check
	// looks at the path (or the body naming a new object), not at nothing.
	all := r.key(t, permsAll(":orders")...)
	for _, p := range patterns {
		method, path := fill(p, "orders")
		b := body("orders")
		if f, ok := bodyNamedRoutes[p]; ok {
			b = fmt.Sprintf(f, "orders")
		} else if !strings.Contains(p, "{") || !strings.Contains(p, "/api/v1/") {
			continue
		}
		if strings.HasSuffix(p, "/consume") {
			path += "?topic=orders&max=1&idle=10ms"
		}
		if rep := r.call(t, method, path, all, b); rep.status == http.StatusForbidden || rep.status == http.StatusUnauthorized {
			t.Errorf("%s with scopes on orders: %s %s answered %d %s, want it let through", p, method, path, rep.status, rep.body)
		}
	}
}

func permsAll(suffix string) []string {
	var out []string
	for _, p := range auth.Permissions() {
		out = append(out, string(p)+suffix)
	}
	return out
}

// snapshot describes what a request could change about victim and the
// server's collections.
func snapshot(t *testing.T, r *running, admin string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	topics, err := r.broker.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range topics {
		fmt.Fprintf(&b, "topic %s/%d:%d ", tp.Name, tp.Partitions, tp.Records())
	}
	g, err := r.broker.DescribeGroup(ctx, "victim")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range g.Offsets {
		fmt.Fprintf(&b, "group victim %s/%d@%d ", o.Topic, o.Partition, o.Committed)
	}
	groups, _ := r.broker.ListGroups(ctx)
	fmt.Fprintf(&b, "groups %d ", len(groups))
	for _, path := range []string{"/api/v1/relay/datasets", "/api/v1/relay/applications", "/api/v1/relay/destinations",
		"/api/v1/relay/routes", "/api/v1/schemas/subjects", "/api/v1/schemas/subjects/victim/versions", "/api/v1/dlq"} {
		rep := r.call(t, "GET", path, admin, "")
		fmt.Fprintf(&b, "%s=%d:%s ", path, rep.status, strip(rep.body))
	}
	keys, err := r.auth.ListAPIKeys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "keys %d", len(keys))
	return b.String()
}

// strip drops the times from an answer, which move on reads.
func strip(s string) string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if !strings.Contains(f, `_at"`) && !strings.Contains(f, "last_") {
			out = append(out, f)
		}
	}
	return strings.Join(out, ",")
}
