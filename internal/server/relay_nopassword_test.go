package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
)

// Accounts without a password — PostgreSQL trust authentication, MariaDB's
// root with an empty password, as the test servers are — are saved with
// no_password and deliver; a password stays required otherwise.
func TestRelayDestinationsWithoutPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL and MariaDB")
	}
	pg := newPGTarget(t)
	my := newMyTarget(t)
	if my.pw != "" {
		t.Skipf("the MariaDB test account has a password; this test needs one without")
	}
	if _, err := pg.db.Exec(`CREATE TABLE ` + pg.schema + `.cars (seq BIGSERIAL PRIMARY KEY, car_name TEXT, stock INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := my.db.Exec(`CREATE TABLE ` + my.database + `.cars (seq BIGINT AUTO_INCREMENT PRIMARY KEY, car_name VARCHAR(100), stock INT)`); err != nil {
		t.Fatal(err)
	}
	f := newRelayFixture(t, t.TempDir())
	pgBody := func(name, extra string) string {
		return fmt.Sprintf(`{"name":%q,"kind":"postgres","host":%q,"port":%d,"database":%q,"user":%q%s,
			"options":{"search_path":%q,"sslmode":"disable"}}`, name, pg.host, pg.port, pg.database, pg.user, extra, pg.schema)
	}
	myBody := func(name, extra string) string {
		return fmt.Sprintf(`{"name":%q,"kind":"mysql","host":%q,"port":%d,"database":%q,"user":%q%s}`,
			name, my.host, my.port, my.database, my.user, extra)
	}
	for _, tc := range []struct {
		name, path, body, field, says string
	}{
		{"no password at all", "/api/v1/relay/destinations", pgBody("pg", ""), "password", "no_password"},
		{"both", "/api/v1/relay/destinations", pgBody("pg", `,"password":"x","no_password":true`), "no_password", "not both"},
		{"SQL Server", "/api/v1/relay/destinations", `{"name":"ms","kind":"sqlserver","host":"127.0.0.1","database":"d","user":"sa","no_password":true}`, "no_password", "needs a password"},
		{"test without a password", "/api/v1/relay/destinations/test", myBody("my", ""), "password", "no_password"},
	} {
		rep := f.call(t, "POST", tc.path, f.admin, tc.body)
		if rep.status != 422 || !strings.Contains(rep.body, `"field":"`+tc.field+`"`) || !strings.Contains(rep.body, tc.says) {
			t.Errorf("%s: %d %s, want 422 naming %s and saying %q", tc.name, rep.status, rep.body, tc.field, tc.says)
		}
	}
	if rep := f.call(t, "POST", "/api/v1/relay/destinations/test", f.admin, myBody("my", `,"no_password":true`)); rep.status != 200 || !strings.Contains(rep.body, `"ok":true`) {
		t.Errorf("testing MariaDB's root without a password: %d %s", rep.status, rep.body)
	}
	pgID := f.create(t, "/api/v1/relay/destinations", pgBody("pg", `,"no_password":true`))["id"].(string)
	myID := f.create(t, "/api/v1/relay/destinations", myBody("my", `,"no_password":true`))["id"].(string)

	// A changed target without a password asks for one again, unless the
	// account has none.
	if rep := f.call(t, "PUT", "/api/v1/relay/destinations/"+myID, f.admin, myBody("my", "")); rep.status != 200 {
		t.Errorf("the same target, no password given: %d %s", rep.status, rep.body)
	}
	moved := strings.Replace(myBody("my", ""), fmt.Sprintf(`"host":%q`, my.host), `"host":"localhost"`, 1)
	if rep := f.call(t, "PUT", "/api/v1/relay/destinations/"+myID, f.admin, moved); rep.status != 422 || !strings.Contains(rep.body, "no_password") {
		t.Errorf("another host, no password given: %d %s, want 422 asking for it", rep.status, rep.body)
	}
	if rep := f.call(t, "PUT", "/api/v1/relay/destinations/"+myID, f.admin, strings.Replace(moved, `}`, `,"no_password":true}`, 1)); rep.status != 200 {
		t.Errorf("another host, no_password: %d %s", rep.status, rep.body)
	}

	// The console's form saves one too.
	rep := f.consoleForm(t, "/relay/destinations", url.Values{"name": {"pg-console"}, "kind": {"postgres"}, "host": {pg.host},
		"port": {fmt.Sprint(pg.port)}, "database": {pg.database}, "user": {pg.user}, "no_password": {"1"}, "action": {"save"}})
	if rep.status != 303 {
		t.Errorf("the console's form with no password: %d %s", rep.status, rep.body)
	}

	f.create(t, "/api/v1/relay/datasets", `{"name":"cars"}`)
	key := f.create(t, "/api/v1/relay/applications", `{"name":"dealer-app","datasets":["cars"]}`)["api_key"].(string)
	for _, id := range []string{pgID, myID} {
		f.create(t, "/api/v1/relay/routes", fmt.Sprintf(`{"name":"cars-%s","dataset":"cars","destination":%q,"table":"cars","mode":"insert",
			"mapping":[{"column":"car_name","field":"car_name"},{"column":"stock","field":"stock"}]}`, strings.ToLower(id[len(id)-6:]), id))
	}
	if rep := f.call(t, "POST", "/api/v1/datasets/cars/records", key, `[{"stock":"4","car_name":"porche 911 15"},{"stock":"1","car_name":"jazz"}]`); rep.status != 202 {
		t.Fatalf("ingest: %d %s", rep.status, rep.body)
	}
	want := []string{"jazz 1", "porche 911 15 4"}
	waitRows(t, pg.db, `SELECT car_name, stock FROM `+pg.schema+`.cars ORDER BY car_name`, want)
	waitRows(t, my.db, `SELECT car_name, stock FROM `+my.database+`.cars ORDER BY car_name`, want)
}

// A failed connection test says what the database answered, once, in the
// API's answer and on the console's destination form.
func TestRelayConnectionTestWording(t *testing.T) {
	data := t.TempDir()
	f := newRelayFixture(t, data)
	if err := os.WriteFile(filepath.Join(data, "destinations", "bad.db"), []byte(strings.Repeat("not a database ", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := f.call(t, "POST", "/api/v1/relay/destinations/test", f.admin, `{"name":"bad","kind":"sqlite","database":"bad.db"}`)
	var res struct {
		OK    bool
		Error string
	}
	if err := json.Unmarshal([]byte(rep.body), &res); err != nil || res.OK {
		t.Fatalf("test of a file that is not a database: %d %s", rep.status, rep.body)
	}
	want := "the database answered: file is not a database (26)"
	if res.Error != want {
		t.Errorf("the test says %q, want %q", res.Error, want)
	}

	// The console shows the same, once.
	page := f.consoleForm(t, "/relay/destinations", url.Values{"name": {"bad"}, "kind": {"sqlite"}, "database": {"bad.db"}, "action": {"test"}})
	if n := strings.Count(page.body, "file is not a database"); n != 1 || strings.Contains(page.body, "sink:") {
		t.Errorf("the console's failed test shows the database's answer %d times (sink: prefix %t): %d %s", n, strings.Contains(page.body, "sink:"), page.status, page.header.Get("Location"))
	}
}

// consoleForm posts a console form as the signed-in admin.
func (f *relayFixture) consoleForm(t *testing.T, path string, form url.Values) reply {
	t.Helper()
	u, err := f.auth.UserByUsername(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	sess, token, err := f.auth.CreateSession(context.Background(), u.ID, auth.SessionMeta{})
	if err != nil {
		t.Fatal(err)
	}
	form.Set("csrf_token", sess.CSRFToken)
	req, err := http.NewRequest("POST", f.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", auth.SessionCookie+"="+token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}
