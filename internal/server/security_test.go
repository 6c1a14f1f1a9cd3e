package server

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
)

// console signs in as the admin and returns a function that sends a
// console form, with the session's CSRF token, and the answer.
func (r *running) console(t *testing.T) func(method, path string, form url.Values) (int, string) {
	t.Helper()
	ctx := context.Background()
	admin, err := r.auth.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	sess, token, err := r.auth.CreateSession(ctx, admin.ID, auth.SessionMeta{})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(method, path string, form url.Values) (int, string) {
		t.Helper()
		if form != nil {
			form.Set("csrf_token", sess.CSRFToken)
		}
		req, _ := http.NewRequest(method, r.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: token})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// A dataset's topic takes records only through the dataset's ingest
// endpoint: producing there through the API or the console is refused
// with the endpoint to use, so the dataset's scope, schema and rate limit
// cannot be skipped.
func TestDatasetTopicsTakeOnlyIngest(t *testing.T) {
	r := start(t, Config{AdminPassword: "a configured password"})
	ctx := context.Background()
	admin := r.key(t, permsAll("")...)
	for _, b := range []string{`{"name":"cars","key_fields":["id"]}`, `{"name":"shop","key_fields":["id"],"topic":"shop-orders"}`} {
		if rep := r.call(t, "POST", "/api/v1/relay/datasets", admin, b); rep.status != 201 {
			t.Fatalf("create dataset %s: %d %s", b, rep.status, rep.body)
		}
	}
	for _, topic := range []string{"relay.later", "plain"} {
		if rep := r.call(t, "POST", "/api/v1/topics", admin, `{"name":"`+topic+`","partitions":1}`); rep.status != 201 {
			t.Fatalf("create topic %s: %d %s", topic, rep.status, rep.body)
		}
	}
	send := r.console(t)
	tests := []struct {
		topic, dataset string
	}{
		{"relay.cars", "cars"},
		{"shop-orders", "shop"},
		{"relay.later", "later"},
		{"plain", ""},
	}
	for _, tt := range tests {
		rep := r.call(t, "POST", "/api/v1/topics/"+tt.topic+"/records", admin, `{"records":[{"key":"1","value":{"id":1}}]}`)
		status, page := send("POST", "/topics/"+tt.topic+"/messages", url.Values{"key": {"1"}, "value": {`{"id":1}`}, "confirmed": {"yes"}})
		endpoint := "/api/v1/datasets/" + tt.dataset + "/records"
		if tt.dataset == "" {
			if rep.status != 200 || status != http.StatusSeeOther {
				t.Errorf("produce to %s: API %d %s, console %d; want 200 and 303", tt.topic, rep.status, rep.body, status)
			}
			continue
		}
		if rep.status != 403 || !strings.Contains(rep.body, endpoint) {
			t.Errorf("API produce to %s: %d %s, want 403 naming %s", tt.topic, rep.status, rep.body, endpoint)
		}
		if status != http.StatusForbidden || !strings.Contains(page, endpoint) {
			t.Errorf("console produce to %s: %d, want 403 naming %s", tt.topic, status, endpoint)
		}
		if info, err := r.broker.DescribeTopic(ctx, tt.topic); err != nil || info.Records() != 0 {
			t.Errorf("%s holds %d records (%v), want none", tt.topic, info.Records(), err)
		}
	}
}

// Unknown methods share one metric series: 100 random methods add at
// most a few series (one per route and status they reach), all labelled
// "other".
func TestUnknownMethodsShareOneSeries(t *testing.T) {
	r := start(t, Config{})
	series := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for _, line := range strings.Split(r.call(t, "GET", "/metrics", "", "").body, "\n") {
			if strings.HasPrefix(line, "arus_http_requests_total{") {
				out[line[:strings.LastIndexByte(line, '}')+1]] = true
			}
		}
		return out
	}
	before := series()
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for i := range 100 {
		m := make([]byte, 3+rng.IntN(20))
		for j := range m {
			m[j] = letters[rng.IntN(len(letters))]
		}
		path := []string{"/api/v1/topics", "/", "/healthz", "/topics/x"}[i%4]
		r.call(t, string(m), path, "", "")
	}
	after := series()
	var added []string
	for s := range after {
		if !before[s] {
			added = append(added, s)
			if !strings.Contains(s, `method="other"`) && !strings.Contains(s, `method="GET"`) {
				t.Errorf("new series %s: want unknown methods labelled other", s)
			}
		}
	}
	t.Logf("100 random methods added %d series", len(added))
	if len(added) > 8 {
		t.Errorf("100 random methods added %d series, want at most 8:\n%s", len(added), strings.Join(added, "\n"))
	}
}

// Only authenticated changes are audited, each with a path of bounded
// size; requests without credentials are counted in a metric instead, so
// no one can fill the log. Entries older than the retention are pruned.
func TestAuditKeepsAuthenticatedChangesOnly(t *testing.T) {
	data := t.TempDir()
	r := start(t, Config{Data: data, AuditRetention: time.Hour})
	ctx := context.Background()
	writer := r.key(t, "topics.write")
	long := "/api/v1/topics/" + strings.Repeat("a", 60<<10)
	anonymous := []struct{ method, path, key string }{
		{"POST", "/api/v1/topics", ""},
		{"DELETE", "/api/v1/topics/orders", ""},
		{"PUT", long, ""},
		{"DELETE", long, ""},
		{"PROPFIND", "/" + strings.Repeat("b", 60<<10), ""},
		{"POST", "/users", ""},
		{"POST", "/api/v1/relay/datasets", "arus_bogus000_notakey"},
		{"DELETE", "/api/v1/groups/g", "arus_aaaaaaaa_" + strings.Repeat("a", 52)},
	}
	for _, a := range anonymous {
		r.call(t, a.method, a.path, a.key, `{"name":"x"}`)
	}
	if rep := r.call(t, "DELETE", long, writer, ""); rep.status != 422 {
		t.Fatalf("DELETE of a 60 KiB topic name: %d, want 422", rep.status)
	}
	page, err := r.auditLog.List(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 {
		t.Fatalf("audit log holds %d entries, want only the authenticated change: %+v", len(page.Entries), page.Entries)
	}
	if e := page.Entries[0]; !strings.HasPrefix(e.Actor, "key:") || e.Status != 422 || len(e.Path) > audit.MaxPathBytes || !strings.HasPrefix(long, strings.TrimSuffix(e.Path, "…")) {
		t.Errorf("audited %s %s… (%d bytes) %d by %s; want the key's DELETE, 422, its path cut to %d bytes", e.Method, e.Path[:min(40, len(e.Path))], len(e.Path), e.Status, e.Actor, audit.MaxPathBytes)
	}
	metrics := r.call(t, "GET", "/metrics", "", "").body
	var counted float64
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "arus_http_anonymous_changes_total{") {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			counted += v
		}
	}
	if counted != float64(len(anonymous)) {
		t.Errorf("arus_http_anonymous_changes_total sums to %v, want %d:\n%s", counted, len(anonymous), metrics)
	}
	r.stop()

	// A restart within the retention keeps the entry; one past it prunes it.
	r = start(t, Config{Data: data, AuditRetention: time.Hour})
	if page, err := r.auditLog.List(ctx, audit.Query{}); err != nil || len(page.Entries) != 1 {
		t.Errorf("restart with an hour's retention: %d entries (%v), want 1", len(page.Entries), err)
	}
	r.stop()
	r = start(t, Config{Data: data, AuditRetention: time.Nanosecond})
	if page, err := r.auditLog.List(ctx, audit.Query{}); err != nil || len(page.Entries) != 0 {
		t.Errorf("restart with a retention the entry is past: %d entries (%v), want none", len(page.Entries), err)
	}
}

// The reported cases, one by one, with the answer each gets: a narrowed
// scope is checked on what the route acts on, and the 403 says which.
func TestNarrowedScopeAnswers(t *testing.T) {
	r := start(t, Config{})
	ctx := context.Background()
	admin := r.key(t, permsAll("")...)
	for _, b := range []string{`{"name":"orders"}`, `{"name":"victim"}`} {
		r.call(t, "POST", "/api/v1/topics", admin, b)
	}
	r.call(t, "POST", "/api/v1/relay/datasets", admin, `{"name":"x","key_fields":["id"]}`)
	topicsWrite := r.key(t, "topics.write:orders")
	relayWrite := r.key(t, "relay.write:x")
	tests := []struct {
		key, method, path, body string
		status                  int
		detail                  string
	}{
		{topicsWrite, "POST", "/api/v1/topics?topic=orders", `{"name":"other"}`, 403, "does not allow topics.write on topic other"},
		{topicsWrite, "POST", "/api/v1/topics", `{"name":`, 403, "on every topic (a scope limited to one resource does not grant this route)"},
		{topicsWrite, "DELETE", "/api/v1/topics/victim?topic=orders", "", 403, "on topic victim"},
		{topicsWrite, "POST", "/api/v1/topics", `{"name":"orders"}`, 409, "already exists"},
		{relayWrite, "POST", "/api/v1/relay/datasets?topic=x", `{"name":"y","key_fields":["id"]}`, 403, "relay.write on every resource"},
		{relayWrite, "DELETE", "/api/v1/relay/datasets/victim?topic=x&name=x", "", 403, "relay.write on name victim"},
		{relayWrite, "PUT", "/api/v1/relay/datasets/x", `{"key_fields":["id","k"]}`, 200, ""},
		{r.key(t, "topics.read"), "POST", "/api/v1/topics", `{"name":"z"}`, 403, "does not allow topics.write on topic z\""},
	}
	for _, tt := range tests {
		rep := r.call(t, tt.method, tt.path, tt.key, tt.body)
		if rep.status != tt.status || !strings.Contains(rep.body, tt.detail) {
			t.Errorf("%s %s %s: %d %s, want %d with %q", tt.method, tt.path, tt.body, rep.status, rep.body, tt.status, tt.detail)
		}
	}
	if _, err := r.broker.DescribeTopic(ctx, "other"); err == nil {
		t.Errorf("topic other was created by a key for orders")
	}
	if _, err := r.broker.DescribeTopic(ctx, "victim"); err != nil {
		t.Errorf("topic victim: %v, want it still there", err)
	}
}

// The audit log records the client's address as --trusted-proxies resolves
// it: the forwarded address behind a trusted proxy, the peer otherwise.
func TestAuditRecordsTheResolvedClientAddress(t *testing.T) {
	for _, tc := range []struct{ name, trusted, want string }{
		{"no proxy trusted", "", "127.0.0.1"},
		{"loopback trusted", "127.0.0.1, ::1", "198.51.100.20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := start(t, Config{TrustedProxies: tc.trusted})
			key := r.key(t, "topics.write")
			if rep := r.call(t, "POST", "/api/v1/topics", key, `{"name":"audited"}`, "X-Forwarded-For", "198.51.100.20"); rep.status != http.StatusCreated {
				t.Fatalf("create topic: %d %s", rep.status, rep.body)
			}
			page, err := r.auditLog.List(context.Background(), audit.Query{})
			if err != nil || len(page.Entries) != 1 {
				t.Fatalf("audit log: %d entries (%v), want 1", len(page.Entries), err)
			}
			if got := page.Entries[0].IP; got != tc.want {
				t.Errorf("audited address %q, want %q", got, tc.want)
			}
		})
	}
}
