package relay

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/store"
)

// destEnv is the relay's admin API over HTTP with the relay's own
// connection tests (real drivers, real files), a data directory holding
// the relay's and auth's stores and a key file, and the SQLite directory
// <data>/destinations, as arus serve lays them out.
type destEnv struct {
	*ingestEnv
	data, sqlite string
}

func newDestEnv(t *testing.T, mod func(*Config)) *destEnv {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "secret.key"), []byte("key material"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := brokertest.Embedded.Open(t)
	r, as := newRelay(t, store.Config{Dir: data}, b, nil, func(c *Config) {
		c.SQLiteDir = filepath.Join(data, "destinations")
		c.Reserved = []string{data}
		c.TestBurst = 10000
		if mod != nil {
			mod(c)
		}
	})
	a, err := api.New(b, api.Config{Auth: as, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	Register(a, mux, r)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &destEnv{ingestEnv: &ingestEnv{t: t, url: srv.URL, r: r, auth: as, broker: b}, data: data, sqlite: filepath.Join(data, "destinations")}
	if _, e.admin, err = as.CreateAPIKey(ctx, auth.NewAPIKey{Name: "relay admin", Scopes: []string{"relay.read", "relay.write"}}); err != nil {
		t.Fatal(err)
	}
	return e
}

func jsonString(s string) string { return fmt.Sprintf("%q", s) }

// errorMessage joins the messages of a problem's field errors.
func errorMessage(a answer) string {
	var out []string
	list, _ := a.body["errors"].([]any)
	for _, v := range list {
		m, _ := v.(map[string]any)
		msg, _ := m["message"].(string)
		out = append(out, msg)
	}
	return strings.Join(out, "; ")
}

// A SQLite destination names a file inside the SQLite directory and
// nothing else: every hostile name is refused by every route that takes
// one, with one answer whatever lies where it leads, and nothing is
// created outside.
func TestSQLiteDestinationsStayInTheirDirectory(t *testing.T) {
	e := newDestEnv(t, nil)
	elsewhere := t.TempDir()
	mustWrite := func(p string) {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(filepath.Join(elsewhere, "existing.db"))
	mustLink := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(e.sqlite, name)); err != nil {
			t.Fatal(err)
		}
	}
	mustLink(elsewhere, "out")                                   // a directory link leading out
	mustLink(filepath.Join(elsewhere, "existing.db"), "file.db") // a file link leading out
	mustLink(filepath.Join(elsewhere, "none.db"), "dangling.db")
	mustLink(filepath.Join(e.data, "secret.key"), "key.db")
	mustLink(filepath.Join(e.data, "auth.db"), "auth-link.db")
	if err := os.Link(filepath.Join(e.data, "auth.db"), filepath.Join(e.sqlite, "hard.db")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(e.sqlite, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	mustWrite(filepath.Join(e.sqlite, "ok.db"))

	hostile := []struct{ name, path, want string }{
		{"absolute, elsewhere, existing", filepath.Join(elsewhere, "existing.db"), outside},
		{"absolute, elsewhere, missing", filepath.Join(elsewhere, "missing.db"), outside},
		{"/etc/passwd", "/etc/passwd", outside},
		{"/etc/missing", "/etc/no-such-file", outside},
		{"/proc", "/proc/self/environ", outside},
		{"/dev", "/dev/null", outside},
		{"dot-dot", "../auth.db", outside},
		{"dot-dot, missing", "../no-such.db", outside},
		{"dot-dot inside", "sub/../ok.db", outside},
		{"dot-dot deep", "sub/../../../../etc/passwd", outside},
		{"the data directory's store", filepath.Join(e.data, "auth.db"), outside},
		{"the data directory's relay store", filepath.Join(e.data, "relay.db"), outside},
		{"the key file", filepath.Join(e.data, "secret.key"), outside},
		{"link to the key file", "key.db", outside},
		{"link to the auth store", "auth-link.db", outside},
		{"directory link out, existing", "out/existing.db", outside},
		{"directory link out, missing", "out/new.db", outside},
		{"file link out", "file.db", outside},
		{"dangling link", "dangling.db", outside},
		{"missing directory", "no/such/dir/x.db", outside},
		{"the directory itself", ".", outside},
		{"the directory, absolute", e.sqlite, outside},
		{"hard link to the auth store", "hard.db", "is a file Arus itself uses"},
		{"a directory", "sub", "must name a regular file"},
	}
	if err := e.r.cfg.DB.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	saved := e.do("POST", "/api/v1/relay/destinations", e.admin, `{"name": "ok", "kind": "sqlite", "database": "ok.db"}`)
	if saved.status != 201 {
		t.Fatalf("create a destination inside: %d %s", saved.status, saved.raw)
	}
	id := saved.body["id"].(string)
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/relay/destinations/test"},
		{"POST", "/api/v1/relay/destinations"},
		{"POST", "/api/v1/relay/destinations/" + id + "/test"},
		{"PUT", "/api/v1/relay/destinations/" + id},
	}
	before, _ := os.ReadDir(elsewhere)
	for _, h := range hostile {
		for _, create := range []bool{false, true} {
			for _, rt := range routes {
				t.Run(fmt.Sprintf("%s/create=%v/%s %s", h.name, create, rt.method, rt.path[len("/api/v1/relay"):]), func(t *testing.T) {
					body := fmt.Sprintf(`{"name": "ok", "kind": "sqlite", "database": %s, "create": %v}`, jsonString(h.path), create)
					a := e.do(rt.method, rt.path, e.admin, body)
					if a.status != 422 || fmt.Sprint(errorFields(a)) != "[database]" {
						t.Fatalf("got %d %s, want 422 naming database", a.status, a.raw)
					}
					if msg := errorMessage(a); !strings.Contains(msg, h.want) {
						t.Errorf("got %q, want it to say %q", msg, h.want)
					}
					if strings.Contains(a.raw, elsewhere) || strings.Contains(a.raw, e.data) {
						t.Errorf("the answer names a path: %s", a.raw)
					}
				})
			}
		}
	}
	after, _ := os.ReadDir(elsewhere)
	if len(after) != len(before) {
		t.Errorf("files elsewhere the directory: %d before, %d after", len(before), len(after))
	}
	if fi, err := os.Stat(filepath.Join(e.data, "auth.db")); err != nil || fi.Size() == 0 {
		t.Errorf("the auth store was touched: %v, %v", fi, err)
	}

	// A missing file inside is created only when asked for, 0600.
	a := e.do("POST", "/api/v1/relay/destinations", e.admin, `{"name": "new", "kind": "sqlite", "database": "sub/new.db"}`)
	if a.status != 422 || !strings.Contains(a.raw, "set create") {
		t.Errorf("a missing file without create: %d %s", a.status, a.raw)
	}
	if _, err := os.Stat(filepath.Join(e.sqlite, "sub", "new.db")); err == nil {
		t.Error("the file was created without create")
	}
	a = e.do("POST", "/api/v1/relay/destinations", e.admin, `{"name": "new", "kind": "sqlite", "database": "sub/new.db", "create": true}`)
	if a.status != 201 {
		t.Fatalf("a missing file with create: %d %s", a.status, a.raw)
	}
	if fi, err := os.Stat(filepath.Join(e.sqlite, "sub", "new.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("created file: %v, %v; want mode 0600", fi, err)
	}
	if a := e.do("GET", "/api/v1/relay/destinations/"+a.body["id"].(string)+"/catalog", e.admin, ""); a.status != 200 {
		t.Errorf("catalog of the new file: %d %s", a.status, a.raw)
	}
}

// The SQLite directory may not hold a file Arus uses.
func TestSQLiteDirectoryMayNotHoldReservedPaths(t *testing.T) {
	data := t.TempDir()
	for _, dir := range []string{data, filepath.Dir(data), "/"} {
		_, err := newSQLiteDir(dir, []string{data})
		if err == nil || !strings.Contains(err.Error(), "which Arus itself uses") {
			t.Errorf("SQLite directory %s holding the data directory: %v", dir, err)
		}
	}
	tls := filepath.Join(t.TempDir(), "server.key")
	if err := os.WriteFile(tls, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newSQLiteDir(filepath.Dir(tls), []string{data, tls}); err == nil {
		t.Error("a SQLite directory holding the TLS key was taken")
	}
	if _, err := newSQLiteDir(filepath.Join(data, "destinations"), []string{data}); err != nil {
		t.Errorf("the default <data>/destinations: %v", err)
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}
