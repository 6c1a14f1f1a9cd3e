package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// Every option a driver knows that is not on the dialect's allowlist is
// refused by name, in the options and in a DSN's query; every allowed one
// is taken.
func TestDriverOptionsAreAllowlisted(t *testing.T) {
	e := newDestEnv(t, nil)
	port := closedPort(t)
	// Options the four drivers read, dangerous ones first; every dialect
	// refuses all of them but its own allowed ones.
	known := []string{
		"allowAllFiles", "allowLocalInfile", "allowCleartextPasswords", "allowFallbackToPlaintext", "allowNativePasswords",
		"allowOldPasswords", "multiStatements", "serverPubKey", "interpolateParams", "clientFoundRows", "columnsWithAlias",
		"loc", "maxAllowedPacket", "rejectReadOnly", "parseTime", "sql_mode", "net", "unix_socket",
		"sslkey", "sslcert", "sslrootcert", "sslcrl", "sslpassword", "passfile", "service", "servicefile", "krbsrvname",
		"host", "hostaddr", "port", "dbname", "user", "password", "target_session_attrs", "sslsni", "options",
		"certificate", "ServerSPN", "protocol", "log", "user id", "Password", "pwd", "database", "server",
		"_pragma", "vfs", "mode", "cache", "immutable", "_txlock", "_time_format",
	}
	for _, o := range dialectOptions {
		for _, allowed := range o {
			known = append(known, allowed.name)
		}
	}
	fields := map[string]string{
		KindPostgres:  fmt.Sprintf(`"host": "127.0.0.1", "port": %d, "database": "d", "user": "u", "password": "pw"`, port),
		KindMySQL:     fmt.Sprintf(`"host": "127.0.0.1", "port": %d, "database": "d", "user": "u", "password": "pw"`, port),
		KindSQLServer: fmt.Sprintf(`"host": "127.0.0.1", "port": %d, "database": "d", "user": "u", "password": "pw"`, port),
		KindSQLite:    `"database": "opts.db", "create": true`,
	}
	dsn := map[string]func(q string) string{
		KindPostgres:  func(q string) string { return fmt.Sprintf("postgres://u@127.0.0.1:%d/d?%s", port, q) },
		KindMySQL:     func(q string) string { return fmt.Sprintf("u@tcp(127.0.0.1:%d)/d?%s", port, q) },
		KindSQLServer: func(q string) string { return fmt.Sprintf("sqlserver://u@127.0.0.1:%d?database=d&%s", port, q) },
	}
	tried := 0
	for _, kind := range kinds {
		for _, name := range known {
			allowed := -1
			for i, o := range dialectOptions[kind] {
				if o.name == name {
					allowed = i
				}
			}
			value := "true"
			if allowed >= 0 {
				value = validValue[kind+"/"+name]
			}
			t.Run(kind+"/options/"+name, func(t *testing.T) {
				tried++
				a := e.do("POST", "/api/v1/relay/destinations/test", e.admin,
					fmt.Sprintf(`{"name": "x", "kind": %q, %s, "options": {%q: %q}}`, kind, fields[kind], name, value))
				checkOptionAnswer(t, a, allowed >= 0, "options."+name, name)
			})
			if dsn[kind] == nil || strings.EqualFold(name, "database") && kind == KindSQLServer {
				continue
			}
			t.Run(kind+"/dsn/"+name, func(t *testing.T) {
				tried++
				q := url.Values{name: {value}}.Encode()
				a := e.do("POST", "/api/v1/relay/destinations/test", e.admin,
					fmt.Sprintf(`{"name": "x", "kind": %q, "dsn": %q, "password": "pw"}`, kind, dsn[kind](q)))
				checkOptionAnswer(t, a, allowed >= 0, "dsn", name)
			})
		}
	}
	t.Logf("%d option cases over %d dialects", tried, len(kinds))
}

// validValue is a value each allowed option takes.
var validValue = map[string]string{
	"postgres/sslmode": "disable", "postgres/connect_timeout": "2", "postgres/application_name": "arus relay",
	"postgres/search_path": "shop,public", "postgres/statement_timeout": "30s", "postgres/lock_timeout": "5000",
	"postgres/idle_in_transaction_session_timeout": "1min", "postgres/TimeZone": "Asia/Jakarta",
	"mysql/tls": "false", "mysql/timeout": "2s", "mysql/readTimeout": "30s", "mysql/writeTimeout": "30s",
	"mysql/charset": "utf8mb4", "mysql/collation": "utf8mb4_general_ci",
	"sqlserver/encrypt": "disable", "sqlserver/TrustServerCertificate": "false", "sqlserver/hostNameInCertificate": "db.example",
	"sqlserver/connection timeout": "2", "sqlserver/dial timeout": "2", "sqlserver/app name": "arus",
	"sqlite/journal_mode": "WAL", "sqlite/synchronous": "NORMAL", "sqlite/busy_timeout": "5000",
}

func checkOptionAnswer(t *testing.T, a answer, allowed bool, field, name string) {
	t.Helper()
	if allowed {
		if a.status != 200 {
			t.Errorf("allowed option %s: got %d %s, want 200", name, a.status, a.raw)
		}
		return
	}
	if a.status != 422 || fmt.Sprint(errorFields(a)) != "["+field+"]" {
		t.Fatalf("option %s: got %d %s, want 422 naming %s", name, a.status, a.raw, field)
	}
	msg := errorMessage(a)
	if field == "dsn" && !strings.Contains(msg, fmt.Sprintf("%q", name)) {
		t.Errorf("option %s: %q does not name it", name, msg)
	}
	if refusedOptions[strings.ToLower(name)] == passwordHelp {
		if !strings.Contains(msg, "password field") {
			t.Errorf("option %s: %q does not point to the password field", name, msg)
		}
	}
}

// Bad values of allowed options are refused too, and the option is named.
func TestAllowedOptionsCheckTheirValues(t *testing.T) {
	e := newDestEnv(t, nil)
	for kind, opts := range dialectOptions {
		for _, o := range opts {
			for _, bad := range []string{"", "x;y", "' OR 1=1", "/etc/passwd", strings.Repeat("9", 80)} {
				if o.check(bad) == nil {
					continue
				}
				body := fmt.Sprintf(`{"name": "x", "kind": %q, "host": "h", "database": "opts.db", "user": "u", "password": "pw", "create": true, "options": {%q: %q}}`, kind, o.name, bad)
				if kind == KindSQLite {
					body = fmt.Sprintf(`{"name": "x", "kind": "sqlite", "database": "opts.db", "create": true, "options": {%q: %q}}`, o.name, bad)
				}
				a := e.do("POST", "/api/v1/relay/destinations/test", e.admin, body)
				if a.status != 422 || !strings.Contains(fmt.Sprint(errorFields(a)), "options."+o.name) {
					t.Errorf("%s %s=%q: got %d %s, want 422 naming options.%s", kind, o.name, bad, a.status, a.raw, o.name)
				}
			}
		}
	}
}

// A password goes in the password field only: in a DSN, its query or the
// options it is refused and pointed to that field, and no read of a
// destination ever shows one.
func TestPasswordsOnlyInThePasswordField(t *testing.T) {
	e := newDestEnv(t, nil)
	cases := []struct{ kind, body string }{
		{KindPostgres, `"dsn": "postgres://u:hunter22@h:5432/d"`},
		{KindPostgres, `"dsn": "postgresql://u@h/d?password=hunter22"`},
		{KindPostgres, `"dsn": "postgres://u@h/d?sslpassword=hunter22"`},
		{KindMySQL, `"dsn": "u:hunter22@tcp(h:3306)/d"`},
		{KindMySQL, `"dsn": "u@tcp(h:3306)/d?password=hunter22"`},
		{KindSQLServer, `"dsn": "sqlserver://u:hunter22@h:1433?database=d"`},
		{KindSQLServer, `"dsn": "sqlserver://u@h:1433?database=d&password=hunter22"`},
		{KindSQLServer, `"dsn": "sqlserver://u@h:1433?database=d&Password=hunter22"`},
	}
	for _, kind := range []string{KindPostgres, KindMySQL, KindSQLServer} {
		for _, name := range []string{"password", "Password", "PASSWORD", "pwd", "passwd", "sslpassword"} {
			cases = append(cases, struct{ kind, body string }{kind,
				fmt.Sprintf(`"host": "h", "database": "d", "user": "u", "options": {%q: "hunter22"}`, name)})
		}
	}
	for _, c := range cases {
		for _, path := range []string{"/api/v1/relay/destinations", "/api/v1/relay/destinations/test"} {
			a := e.do("POST", path, e.admin, fmt.Sprintf(`{"name": "x", "kind": %q, %s, "password": "pw"}`, c.kind, c.body))
			if a.status != 422 || !strings.Contains(errorMessage(a), "password field") {
				t.Errorf("%s %s: got %d %s, want 422 pointing to the password field", path, c.body, a.status, a.raw)
			}
		}
	}
	// A destination saved before these rules with a password in its DSN
	// and options: reads show neither, and it is not reached.
	ctx := context.Background()
	_, err := e.r.db.ExecContext(ctx, e.r.db.Rebind(`INSERT INTO relay_destinations (`+destCols+`, password) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		"old", "old", KindPostgres, "", 0, "", "", `{}`, "postgres://u:hunter22@h/d?password=hunter22", HealthUnknown, "", 0, 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.r.db.ExecContext(ctx, e.r.db.Rebind(`INSERT INTO relay_destinations (`+destCols+`, password) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		"old2", "old2", KindMySQL, "h", 3306, "d", "u", `{"password":"hunter22","charset":"utf8mb4"}`, "", HealthUnknown, "", 0, 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/relay/destinations", "/api/v1/relay/destinations/old", "/api/v1/relay/destinations/old2"} {
		if a := e.do("GET", path, e.admin, ""); a.status != 200 || strings.Contains(a.raw, "hunter22") {
			t.Errorf("GET %s: %d %s", path, a.status, a.raw)
		}
	}
	old, _ := e.r.Destination(ctx, "old")
	if _, err := e.r.OpenDestination(ctx, old, ""); err == nil || !strings.Contains(err.Error(), "password field") {
		t.Errorf("opening a destination with a password in its DSN: %v, want it refused", err)
	}
}

// countingListener accepts connections and counts them, answering
// nothing.
func countingListener(t *testing.T) (port int, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, accepted
}

// A stored password is only sent to the target it was saved for: a test
// or an update that changes any of kind, host, port, database or user
// without a password is refused before anything is reached.
func TestStoredPasswordStaysWithItsTarget(t *testing.T) {
	e := newDestEnv(t, nil)
	newPort, accepted := countingListener(t)
	saved := map[string]any{"name": "pg", "kind": "postgres", "host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres"}
	body := func(change map[string]any) string {
		m := map[string]any{}
		for k, v := range saved {
			m[k] = v
		}
		for k, v := range change {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return mustMarshal(t, m)
	}
	// Saved without reaching the database: the test env's relay would
	// reach it, so the row goes in through the store.
	e.r.cfg.Tester = testerFunc(func(context.Context, Destination, string) error { return nil })
	a := e.do("POST", "/api/v1/relay/destinations", e.admin, body(map[string]any{"password": "hunter22"}))
	e.r.cfg.Tester = tester{e.r}
	if a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	changes := []struct {
		name   string
		change map[string]any
	}{
		{"host", map[string]any{"host": "localhost"}},
		{"host by address", map[string]any{"host": "127.0.0.2"}},
		{"port", map[string]any{"port": newPort}},
		{"database", map[string]any{"database": "other"}},
		{"user", map[string]any{"user": "admin"}},
		{"kind", map[string]any{"kind": "mysql", "port": newPort}},
		{"kind sqlserver", map[string]any{"kind": "sqlserver", "port": newPort}},
		{"dsn to another port", map[string]any{"host": nil, "port": nil, "database": nil, "user": nil,
			"dsn": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test", newPort)}},
		{"dsn to another host", map[string]any{"host": nil, "port": nil, "database": nil, "user": nil,
			"dsn": "postgres://postgres@localhost:5432/test"}},
	}
	for _, c := range changes {
		for _, rt := range []struct{ method, path string }{
			{"POST", "/api/v1/relay/destinations/" + id + "/test"},
			{"PUT", "/api/v1/relay/destinations/" + id},
		} {
			t.Run(c.name+"/"+rt.method, func(t *testing.T) {
				a := e.do(rt.method, rt.path, e.admin, body(c.change))
				if a.status != 422 || fmt.Sprint(errorFields(a)) != "[password]" {
					t.Errorf("got %d %s, want 422 asking for the password", a.status, a.raw)
				}
			})
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the new target got %d connections", n)
	}
	// With a password, a changed target is tried; with the same target,
	// the stored password is kept.
	a = e.do("POST", "/api/v1/relay/destinations/"+id+"/test", e.admin, body(map[string]any{"port": newPort, "password": "new"}))
	if a.status != 200 || a.body["ok"] != false || accepted.Load() == 0 {
		t.Errorf("test of a new target with its password: %d %s (%d connections)", a.status, a.raw, accepted.Load())
	}
	a = e.do("POST", "/api/v1/relay/destinations/"+id+"/test", e.admin, body(map[string]any{"options": map[string]string{"application_name": "x"}}))
	if a.status != 200 {
		t.Errorf("test of the same target with another option: %d %s", a.status, a.raw)
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
