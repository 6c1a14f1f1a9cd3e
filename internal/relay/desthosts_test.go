package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
)

// Link-local and cloud metadata addresses are refused by name and by
// address, in the fields and in a DSN, for every network dialect.
func TestDestinationsNeverReachMetadataAddresses(t *testing.T) {
	e := newDestEnv(t, nil)
	hosts := []string{"169.254.169.254", "169.254.0.1", "::ffff:169.254.169.254", "fe80::1", "fe80::1%eth0",
		"fd00:ec2::254", "100.100.100.200", "168.63.129.16", "0.0.0.0", "::",
		"metadata.google.internal", "METADATA.GOOGLE.INTERNAL.", "metadata", "metadata.azure.internal",
		"a,b", "db:5432", "db/x", `db\inst`, "db name"}
	for _, kind := range []string{KindPostgres, KindMySQL, KindSQLServer} {
		for _, h := range hosts {
			for _, path := range []string{"/api/v1/relay/destinations/test", "/api/v1/relay/destinations"} {
				a := e.do("POST", path, e.admin, fmt.Sprintf(`{"name": "x", "kind": %q, "host": %q, "database": "d", "user": "u", "password": "pw"}`, kind, h))
				if a.status != 422 || fmt.Sprint(errorFields(a)) != "[host]" {
					t.Errorf("%s %s host %q: got %d %s, want 422 naming host", kind, path, h, a.status, a.raw)
				}
			}
		}
	}
	for _, dsn := range []struct{ kind, dsn string }{
		{KindPostgres, "postgres://u@169.254.169.254/d"},
		{KindPostgres, "postgres://u@metadata.google.internal:5432/d"},
		{KindPostgres, "postgres://u@[fe80::1]:5432/d"},
		{KindPostgres, "postgres://u@db1,169.254.169.254/d"},
		{KindMySQL, "u@tcp(169.254.169.254:3306)/d"},
		{KindMySQL, "u@tcp([fd00:ec2::254]:3306)/d"},
		{KindMySQL, "u@unix(/var/run/mysqld/mysqld.sock)/d"},
		{KindSQLServer, "sqlserver://u@[fd00:ec2::254]:1433?database=d"},
		{KindSQLServer, "sqlserver://u@100.100.100.200?database=d"},
		{KindSQLServer, "sqlserver://u@db/instance?database=d"},
	} {
		a := e.do("POST", "/api/v1/relay/destinations/test", e.admin, fmt.Sprintf(`{"name": "x", "kind": %q, "dsn": %q, "password": "pw"}`, dsn.kind, dsn.dsn))
		if a.status != 422 || fmt.Sprint(errorFields(a)) != "[dsn]" {
			t.Errorf("%s: got %d %s, want 422 naming dsn", dsn.dsn, a.status, a.raw)
		}
	}
}

// The addresses a name resolves to are checked, not only the name, and
// with --relay-allow-hosts only what it lists is reached.
func TestAllowHostsChecksResolvedAddresses(t *testing.T) {
	port := closedPort(t)
	body := func(host string) string {
		return fmt.Sprintf(`{"name": "x", "kind": "postgres", "host": %q, "port": %d, "database": "d", "user": "u", "password": "pw"}`, host, port)
	}
	cases := []struct {
		allow       []string
		host        string
		status      int
		errContains string
	}{
		{[]string{"10.0.0.0/8"}, "localhost", 200, "resolves to an address destinations may not reach"},
		{[]string{"10.0.0.0/8"}, "127.0.0.1", 422, ""},
		{[]string{"127.0.0.0/8"}, "localhost", 200, "nothing at this address answered"},
		{[]string{"127.0.0.0/8"}, "127.0.0.1", 200, "nothing at this address answered"},
		{[]string{"db.example"}, "127.0.0.1", 422, ""},
		{[]string{"db.example"}, "localhost", 422, ""},
		{[]string{"localhost"}, "localhost", 200, "nothing at this address answered"},
		{[]string{"*.example"}, "localhost", 422, ""},
		{nil, "localhost", 200, "nothing at this address answered"},
		// Naming a refused range allows it, and only it.
		{[]string{"169.254.10.0/24"}, "169.254.10.1", 200, ""},
		{[]string{"169.254.10.0/24"}, "169.254.169.254", 422, ""},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v/%s", c.allow, c.host), func(t *testing.T) {
			e := newDestEnv(t, func(cfg *Config) { cfg.AllowHosts = c.allow; cfg.TestTimeout = 300 * time.Millisecond })
			a := e.do("POST", "/api/v1/relay/destinations/test", e.admin, body(c.host))
			if a.status != c.status {
				t.Fatalf("got %d %s, want %d", a.status, a.raw, c.status)
			}
			if c.status == 200 && (a.body["ok"] != false || !strings.Contains(fmt.Sprint(a.body["error"]), c.errContains)) {
				t.Errorf("got %s, want a failed test saying %q", a.raw, c.errContains)
			}
		})
	}
	// The dialer itself: a refused address is never dialled, nor a network
	// other than TCP.
	dial := HostPolicy{}.dialer("metadata")
	for _, addr := range []struct{ network, addr string }{{"tcp", "169.254.169.254:80"}, {"tcp6", "[fe80::1%lo]:80"},
		{"tcp", "[::ffff:169.254.169.254]:80"}, {"unix", "/tmp/x.sock"}, {"udp", "127.0.0.1:53"}} {
		if _, err := dial(context.Background(), addr.network, addr.addr); !errors.Is(err, errAddressRefused) {
			t.Errorf("dial %s %s: %v, want it refused", addr.network, addr.addr, err)
		}
	}
	if _, err := ParseHostPolicy([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad CIDR was taken")
	}
}

// serve answers every connection on a loopback port with answer.
func serve(t *testing.T, answer func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				answer(c)
				select {
				case <-done:
				case <-time.After(5 * time.Second):
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// A target that does not answer as a database reads the same however it
// fails: refused, silent, closed at once, or speaking another protocol;
// and a failed test says nothing of how long it took.
func TestUnreachableTargetsAreWordedAlike(t *testing.T) {
	e := newDestEnv(t, func(c *Config) { c.TestTimeout = 500 * time.Millisecond })
	targets := map[string]int{
		"refused":        closedPort(t),
		"silent":         serve(t, func(net.Conn) {}),
		"closed at once": serve(t, func(c net.Conn) { c.Close() }),
		"http":           serve(t, func(c net.Conn) { fmt.Fprint(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n") }),
		"garbage":        serve(t, func(c net.Conn) { c.Write([]byte{0xff, 0x00, 0x13, 0x37, 'E', 'x', 0, 0, 0, 0}); c.Close() }),
	}
	for _, kind := range []string{KindPostgres, KindMySQL, KindSQLServer} {
		var first string
		for what, port := range targets {
			a := e.do("POST", "/api/v1/relay/destinations/test", e.admin,
				fmt.Sprintf(`{"name": "x", "kind": %q, "host": "127.0.0.1", "port": %d, "database": "d", "user": "u", "password": "pw"}`, kind, port))
			msg, _ := a.body["error"].(string)
			if a.status != 200 || a.body["ok"] != false || msg == "" {
				t.Fatalf("%s %s: got %d %s, want a failed test", kind, what, a.status, a.raw)
			}
			if _, has := a.body["elapsed_ms"]; has {
				t.Errorf("%s %s: a failed test tells its time: %s", kind, what, a.raw)
			}
			if first == "" {
				first = msg
			}
			if msg != first {
				t.Errorf("%s %s: %q, want the same answer as the others: %q", kind, what, msg, first)
			}
		}
	}
}

// Connection tests need relay.write and are limited per principal; a
// create or an update, which test too, count against the same allowance.
func TestConnectionTestsAreRateLimited(t *testing.T) {
	e := newDestEnv(t, func(c *Config) { c.TestBurst, c.TestInterval = 3, time.Hour })
	ctx := context.Background()
	_, reader, err := e.auth.CreateAPIKey(ctx, auth.NewAPIKey{Name: "viewer", Scopes: []string{"relay.read"}})
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := e.auth.CreateAPIKey(ctx, auth.NewAPIKey{Name: "other admin", Scopes: []string{"relay.write"}})
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"name": "x", "kind": "postgres", "host": "127.0.0.1", "port": %d, "database": "d", "user": "u", "password": "pw"}`, closedPort(t))
	if a := e.do("POST", "/api/v1/relay/destinations/test", reader, body); a.status != 403 {
		t.Errorf("a test with relay.read: %d, want 403", a.status)
	}
	for i := range 3 {
		if a := e.do("POST", "/api/v1/relay/destinations/test", e.admin, body); a.status != 200 {
			t.Fatalf("test %d: %d %s", i+1, a.status, a.raw)
		}
	}
	for _, path := range []string{"/api/v1/relay/destinations/test", "/api/v1/relay/destinations"} {
		a := e.do("POST", path, e.admin, body)
		if a.status != 429 || a.header.Get("Retry-After") == "" {
			t.Errorf("POST %s over the limit: %d %s (Retry-After %q), want 429 with Retry-After", path, a.status, a.raw, a.header.Get("Retry-After"))
		}
	}
	if a := e.do("POST", "/api/v1/relay/destinations/test", other, body); a.status != 200 {
		t.Errorf("another principal: %d %s, want 200", a.status, a.raw)
	}
}
