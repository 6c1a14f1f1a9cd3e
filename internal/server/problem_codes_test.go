package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
)

// apiRoutes are the patterns of the JSON API among patterns.
func apiRoutes(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		if strings.Contains(" "+p, " /api/") {
			out = append(out, p)
		}
	}
	return out
}

// problemCode returns the code of the problem rep answers, or says why rep
// is not a coded problem.
func problemCode(rep reply) (string, error) {
	if ct := rep.header.Get("Content-Type"); ct != "application/problem+json" {
		return "", fmt.Errorf("answered %d with Content-Type %q, not a problem: %.200s", rep.status, ct, rep.body)
	}
	var p api.Problem
	if err := json.Unmarshal([]byte(rep.body), &p); err != nil {
		return "", fmt.Errorf("answered %d with a problem that does not decode: %v", rep.status, err)
	}
	if p.Code == "" {
		return "", fmt.Errorf("answered %d with a problem without a code: %.300s", rep.status, rep.body)
	}
	return p.Code, nil
}

// Every route of the API answers the problems that any route can give
// with a code, so that a client branches on code alone: a request without
// credentials (401), a request with a key whose one scope does not reach
// it (403; one key per permission, narrowed to another resource), and a
// malformed body to every route that takes one.
func TestAPIProblemsCoded(t *testing.T) {
	r := start(t, Config{})
	routes := apiRoutes(muxPatterns(t, r.mux))
	keys := map[auth.Permission]string{}
	for _, p := range auth.Permissions() {
		keys[p] = r.key(t, string(p)+":orders")
	}

	guarded, refused := 0, 0
	for _, p := range routes {
		if slices.Contains(publicRoutes, p) {
			continue
		}
		guarded++
		method, path := fill(p, "victim")
		rep := r.call(t, method, path, "", body("victim"))
		if code, err := problemCode(rep); err != nil || rep.status != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %s %s %v (code %q); want 401 with a code", p, method, path, err, code)
		}
		for _, perm := range auth.Permissions() {
			rep := r.call(t, method, path, keys[perm], body("victim"))
			code, err := problemCode(rep)
			if err != nil || rep.status != http.StatusForbidden {
				t.Errorf("%s with scope %s:orders: %s %s %v (code %q); want 403 with a code", p, perm, method, path, err, code)
				continue
			}
			refused++
		}
	}

	// A body that is no JSON, to every route that may take one, named
	// victim in its path: a route that reads its body says so with a code
	// (json_malformed), one that takes none answers as it would without it,
	// and any problem either answers carries a code, a 404 for a path that
	// names nothing (no refund victim) too.
	admin := r.key(t, permsAll("")...)
	for _, s := range []struct{ method, path, body string }{
		{"POST", "/api/v1/topics", `{"name":"victim","partitions":1}`},
		{"POST", "/api/v1/relay/datasets", `{"name":"victim","key_fields":["id"]}`},
	} {
		if rep := r.call(t, s.method, s.path, admin, s.body); rep.status >= 300 {
			t.Fatalf("setup %s %s: %d %s", s.method, s.path, rep.status, rep.body)
		}
	}
	malformed := map[string]int{}
	withBody := 0
	for _, p := range routes {
		method, path := fill(p, "victim")
		if method != http.MethodPost && method != http.MethodPut && method != http.MethodPatch {
			continue
		}
		withBody++
		rep := r.call(t, method, path, admin, `{"name": "victim",`, "Content-Type", "application/json")
		if rep.status < 400 {
			continue
		}
		code, err := problemCode(rep)
		if err != nil {
			t.Errorf("%s with a malformed body: %s %s %v", p, method, path, err)
			continue
		}
		malformed[code]++
	}
	t.Logf("class tested: %d API routes; %d guarded ones without credentials and with %d narrowed keys each (%d refusals); %d that may take a body answering %v",
		len(routes), guarded, len(keys), refused, withBody, malformed)
	if guarded < 100 || refused != guarded*len(keys) || malformed["json_malformed"] < 40 {
		t.Errorf("%d guarded routes, %d refusals, %d json_malformed answers: the class is smaller than the server's API", guarded, refused, malformed["json_malformed"])
	}

	// Every route with an id in its path, asked by a caller allowed every
	// route about an id that names nothing (with an empty JSON object as
	// the body where it takes one): its problem, a 404 or whatever else
	// the route answers first, carries a code.
	withID, notFound, other := 0, map[string]int{}, map[string]int{}
	for _, p := range routes {
		if !strings.Contains(p, "{") {
			continue
		}
		withID++
		method, path := fill(p, "nosuch")
		rep := r.call(t, method, path, admin, "{}", "Content-Type", "application/json")
		if rep.status < 400 {
			continue
		}
		code, err := problemCode(rep)
		if err != nil {
			t.Errorf("%s naming nothing: %s %s %v", p, method, path, err)
			continue
		}
		if rep.status == http.StatusNotFound {
			notFound[code]++
		} else {
			other[code]++
		}
	}
	t.Logf("%d routes with an id in the path answer for an id naming nothing 404 with %v, else %v", withID, notFound, other)
	if withID < 80 || len(notFound) < 10 {
		t.Errorf("%d routes with an id, %d codes of 404: the class is smaller than the server's API", withID, len(notFound))
	}
}
