package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/audit"
)

// TestEveryAuditedRouteIsWorded words every route that the audit log may
// record (any method but GET, HEAD and OPTIONS) from its pattern, as the
// server does when a handler does not describe its change itself: the
// words name a verb, the resource, and the path's values, and never show
// the pattern's syntax.
func TestEveryAuditedRouteIsWorded(t *testing.T) {
	r := start(t, Config{})
	n := 0
	for _, pattern := range muxPatterns(t, r.mux) {
		method, _, ok := strings.Cut(pattern, " ")
		if !ok || method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions || notAudited[pattern] {
			continue
		}
		n++
		_, path := fill(pattern, "orders")
		var words string
		one := http.NewServeMux()
		one.HandleFunc(pattern, func(_ http.ResponseWriter, req *http.Request) { words = audit.Summarize(req.Pattern, req) })
		one.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
		switch {
		case words == "":
			t.Errorf("%s: not worded (path %s)", pattern, path)
		case strings.ContainsAny(words, "{}/"):
			t.Errorf("%s: worded %q, which shows the pattern", pattern, words)
		case strings.Contains(pattern, "{") && !strings.Contains(words, "orders"):
			t.Errorf("%s: worded %q, which does not name the resource orders (path %s)", pattern, words, path)
		}
		t.Logf("%-60s %s", pattern, words)
	}
	if n < 50 {
		t.Fatalf("only %d audited routes found", n)
	}
}

// TestAuditSaysWhatHappened resets a group through the API and records
// what the log says: the handler's own words, with the target, by the key
// that did it; a change whose handler says nothing is worded from its
// route.
func TestAuditSaysWhatHappened(t *testing.T) {
	r := start(t, Config{})
	ctx := context.Background()
	admin := r.key(t, permsAll("")...)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/topics", `{"name":"orders","partitions":2}`},
		{"POST", "/api/v1/groups/billing/reset", `{"topic":"orders","to":"earliest"}`},
		{"POST", "/api/v1/groups/billing/reset", `{"topic":"orders","to":"offset","offset":0,"partitions":[1]}`},
		{"DELETE", "/api/v1/topics/orders", ""},
	} {
		if rep := r.call(t, c.method, c.path, admin, c.body); rep.status >= 300 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, rep.status, rep.body)
		}
	}
	page, err := r.auditLog.List(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Entries {
		got = append(got, e.Summary)
		if !strings.HasPrefix(e.Actor, "key:") {
			t.Errorf("entry %q: actor %q, want the key", e.Summary, e.Actor)
		}
	}
	want := []string{"delete topic orders", "reset group billing on orders to offset 0 on partitions 1",
		"reset group billing on orders to earliest", "create topic orders with 2 partitions"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit log says\n%q\nwant\n%q", got, want)
	}
}
