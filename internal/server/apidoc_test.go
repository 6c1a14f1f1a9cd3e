package server

import (
	"bufio"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

// docs/api.md lists every route the server registers with all its
// components running, and no route it does not register.
func TestAPIDocListsEveryRoute(t *testing.T) {
	r := start(t, Config{})
	registered := muxPatterns(t, r.mux)
	documented := documentedRoutes(t, "../../docs/api.md")
	for _, p := range registered {
		if !slices.Contains(documented, p) {
			t.Errorf("route %q is registered but docs/api.md does not list it", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(registered, p) {
			t.Errorf("docs/api.md lists %q, which the server does not register", p)
		}
	}
}

// documentedRoutes reads the rows of the document's tables whose first cell
// is a method (or "any", for a pattern without one) and whose second holds
// the path in backquotes, and returns them as mux patterns.
func documentedRoutes(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 4 || strings.TrimSpace(cells[0]) != "" {
			continue
		}
		method := strings.TrimSpace(cells[1])
		if method != "any" && !slices.Contains([]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}, method) {
			continue
		}
		_, rest, ok := strings.Cut(cells[2], "`")
		p, _, ok2 := strings.Cut(rest, "`")
		if !ok || !ok2 {
			t.Errorf("docs/api.md: route row without a path in backquotes: %s", sc.Text())
			continue
		}
		if method != "any" {
			p = method + " " + p
		}
		if slices.Contains(out, p) {
			t.Errorf("docs/api.md lists %q twice", p)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("docs/api.md lists no routes")
	}
	return out
}
