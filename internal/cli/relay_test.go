package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/arus-platform/arus/internal/cli"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/server"
	"github.com/arus-platform/arus/internal/testenv"
)

// relayServer runs arus serve with the backbone and the relay on a fresh
// data directory until the test ends, and returns the environment that
// points arus relay at it with a key holding relay.read and relay.write.
func relayServer(t *testing.T) map[string]string {
	t.Helper()
	data := t.TempDir()
	key := strings.TrimSpace(must(t, map[string]string{"ARUS_DATA": data}, "", "keys", "create", "--name", "ops",
		"--scope", "relay.read", "--scope", "relay.write").stdout)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Config{Data: data, Listen: "127.0.0.1:0", Broker: "embedded",
		Components: []string{"backbone", "relay"}, AdminPassword: "not used by these tests",
		Logger: slog.New(slog.DiscardHandler), Banner: io.Discard})
	if err != nil {
		cancel()
		t.Fatalf("server.Start: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	// ARUS_DATA tells the tests where the server keeps SQLite destinations
	// (<data>/destinations); the relay commands themselves ignore it.
	return map[string]string{"ARUS_SERVER": "http://" + s.Addr().String(), "ARUS_API_KEY": key, "ARUS_DATA": data}
}

// writeFile writes content to a new file and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// wants fails the test for each substring out lacks.
func wants(t *testing.T, what, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("%s: output lacks %q:\n%s", what, s, out)
		}
	}
}

// post sends body to the server as the application with key.
func post(t *testing.T, env map[string]string, path, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", env["ARUS_SERVER"]+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The whole life of a relay set up from the command line: a dataset, a
// SQLite destination, an application whose key is printed once, a route
// mapped from a JSON file; a record posted with the application's key
// reaches the table, and status and the delivery log say so.
func TestRelayCommands(t *testing.T) {
	env := relayServer(t)
	ctx := context.Background()
	dbPath := filepath.Join(env["ARUS_DATA"], "destinations", "dealer.db")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE cars (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price NUMERIC, src TEXT)`); err != nil {
		t.Fatal(err)
	}

	r := must(t, env, "", "relay", "datasets", "create", "cars", "--key-field", "id")
	wants(t, "datasets create", r.stdout, "Created dataset cars (topic relay.cars, key id).")
	schema := writeFile(t, "car.schema.json", `{"type":"object","properties":{"price":{"type":"number","minimum":0}}}`)
	must(t, env, "", "relay", "datasets", "update", "cars", "--schema-file", schema)
	r = must(t, env, "", "relay", "datasets", "show", "cars")
	wants(t, "datasets show", r.stdout, "Topic:", "relay.cars", `"minimum":0`)

	r = must(t, env, "", "relay", "destinations", "create", "dealer", "--kind", "sqlite", "--database", dbPath)
	wants(t, "destinations create", r.stdout, "Created destination dealer", "the connection test passed")
	r = must(t, env, "", "relay", "destinations", "show", "dealer")
	wants(t, "destinations show", r.stdout, "Kind:", "sqlite", "Health:")
	r = must(t, env, "", "relay", "destinations", "test", "dealer")
	wants(t, "destinations test", r.stdout, "Connection OK: destination dealer answered")
	r = must(t, env, "", "relay", "destinations", "catalog", "dealer", "--table", "cars")
	if !regexp.MustCompile(`(?m)^(main\.)?cars\s+id\s+integer\s+yes\s+`).MatchString(r.stdout) || !strings.Contains(r.stdout, "price") {
		t.Errorf("destinations catalog:\n%s", r.stdout)
	}

	r = must(t, env, "", "relay", "applications", "create", "dealer-app", "--dataset", "cars", "--rate-limit", "1000")
	m := regexp.MustCompile(`(?m)^API key: (arus_\S+)$`).FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stdout, "will not be shown again") {
		t.Fatalf("applications create printed no key, or no warning:\n%s", r.stdout)
	}
	appKey := m[1]
	r = must(t, env, "", "relay", "applications", "show", "dealer-app")
	wants(t, "applications show", r.stdout, "dealer-app", "1000/s, burst 1000")
	if strings.Contains(r.stdout, appKey) {
		t.Errorf("applications show prints the key again")
	}
	r = must(t, env, "", "relay", "applications", "limits", "dealer-app", "--burst", "50")
	wants(t, "applications limits", r.stdout, "rate limit 1000/s, burst 50")

	route := writeFile(t, "route.json", `{
  "name": "dealer-cars", "dataset": "cars", "destination": "dealer", "table": "cars",
  "mode": "upsert", "key_columns": ["id"], "deletes": true,
  "mapping": [
    {"column": "id", "field": "id"},
    {"column": "name", "field": "car_name"},
    {"column": "price", "field": "price"},
    {"column": "src", "value": "relay"}
  ],
  "filter": "price > 0"
}`)
	r = must(t, env, "", "relay", "routes", "preview", "--file", route, "--record", `{"id":7,"car_name":"Jazz","price":3}`)
	if !regexp.MustCompile(`^Row \(upsert\):\n\s+id\s+7\n\s+name\s+"Jazz"\n\s+price\s+3\n\s+src\s+"relay"\n$`).MatchString(r.stdout) {
		t.Errorf("preview of an unsaved route:\n%s", r.stdout)
	}
	r = must(t, env, "", "relay", "routes", "create", "--file", route)
	wants(t, "routes create", r.stdout, "Created route dealer-cars", "cars into cars, delivering.")
	r = must(t, env, "", "relay", "routes", "preview", "dealer-cars", "--record", `{"id":1,"car_name":"Avanza","price":0}`)
	wants(t, "preview of a filtered record", r.stdout, "Dropped:")
	r = must(t, env, "", "relay", "routes", "preview", "dealer-cars", "--op", "delete", "--format", "json", "--record", `{"id":1,"price":5}`)
	var p relay.Preview
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || !p.Keep || p.Op != "delete" || p.Row["id"] != 1.0 {
		t.Errorf("preview of a delete as JSON: %+v (%v):\n%s", p, err, r.stdout)
	}
	r = must(t, env, "", "relay", "routes", "show", "dealer-cars")
	wants(t, "routes show", r.stdout, "Destination:", "dealer", "Filter:", "price > 0", "src", `value "relay"`)

	// Listings: a table by default, JSON for scripts.
	r = must(t, env, "", "relay", "routes", "list")
	if !regexp.MustCompile(`(?m)^NAME\s+ID\s+DATASET\s+DESTINATION.*\n^dealer-cars\s+\S+\s+cars\s+dealer\s+cars\s+upsert\s+id\s+true\s+true\s*$`).MatchString(r.stdout) {
		t.Errorf("routes list:\n%s", r.stdout)
	}
	for _, noun := range []string{"applications", "datasets", "destinations", "routes"} {
		r = must(t, env, "", "relay", noun, "list", "--format", "json")
		var items []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) != 1 {
			t.Errorf("%s list --format json: %v, %d items:\n%s", noun, err, len(items), r.stdout)
		}
		if strings.Contains(r.stdout, "password") || strings.Contains(r.stdout, appKey) {
			t.Errorf("%s list shows a secret:\n%s", noun, r.stdout)
		}
	}
	r = must(t, env, "", "relay", "destinations", "list")
	if !regexp.MustCompile(`(?m)^dealer\s+\S+\s+sqlite\s+` + regexp.QuoteMeta(dbPath)).MatchString(r.stdout) {
		t.Errorf("destinations list:\n%s", r.stdout)
	}

	// The old key stops working when the key is rotated.
	r = must(t, env, "", "relay", "applications", "rotate-key", "dealer-app", "--format", "json")
	var rotated relay.ApplicationWithKey
	if err := json.Unmarshal([]byte(r.stdout), &rotated); err != nil || rotated.APIKey == "" || rotated.APIKey == appKey {
		t.Fatalf("rotate-key --format json: %v:\n%s", err, r.stdout)
	}
	wants(t, "rotate-key's note", r.stderr, "will not be shown again")
	if status, body := post(t, env, "/api/v1/datasets/cars/records", appKey, `{"id":1,"car_name":"Avanza","price":1}`); status != 401 {
		t.Errorf("posting with the old key: %d %s, want 401", status, body)
	}
	if status, body := post(t, env, "/api/v1/datasets/cars/records", rotated.APIKey, `{"id":1,"car_name":"Avanza","price":250}`); status != 202 {
		t.Fatalf("posting with the new key: %d %s", status, body)
	}

	// The record reaches the table; status and the delivery log say so.
	var name string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if db.QueryRowContext(ctx, `SELECT name FROM cars WHERE id = 1 AND src = 'relay'`).Scan(&name) == nil {
			break
		}
	}
	if name != "Avanza" {
		t.Fatalf("the record did not reach the table (name %q)", name)
	}
	// The lag is polled every few seconds: unknown until the first poll.
	r = must(t, env, "", "relay", "status")
	if !regexp.MustCompile(`(?m)^dealer-cars\s+exactly-once\s+running\s+(0|unknown)\s+`).MatchString(r.stdout) {
		t.Errorf("status:\n%s", r.stdout)
	}
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out = must(t, env, "", "relay", "deliveries", "--dataset", "cars", "--route", "dealer-cars", "--destination", "dealer",
			"--application", "dealer-app", "--status", "delivered", "--since", "2020-01-01", "--until", time.Now().Add(time.Hour).Format(time.RFC3339),
			"--limit", "10").stdout
		if strings.Contains(out, "delivered") {
			break
		}
	}
	if !regexp.MustCompile(`(?m)^\S+\s+delivered\s+cars\s+dealer-cars\s+dealer\s+\S+\s+1\s+-\s*$`).MatchString(out) {
		t.Errorf("deliveries:\n%s", out)
	}
	r = must(t, env, "", "relay", "deliveries", "--format", "json", "--status", "failed")
	if !strings.Contains(r.stdout, `"entries": []`) {
		t.Errorf("deliveries with no match as JSON:\n%s", r.stdout)
	}

	// Conflicts and deletes.
	r = arus(t, env, "", "relay", "datasets", "delete", "cars")
	if !errors.Is(r.err, relay.ErrInUse) || cli.ExitCode(r.err) != 1 || !strings.Contains(r.err.Error(), "delete them first") {
		t.Errorf("deleting a dataset in use: %v (exit %d), want ErrInUse naming what uses it", r.err, cli.ExitCode(r.err))
	}
	r = arus(t, env, "", "relay", "datasets", "create", "cars", "--key-field", "id")
	if !errors.Is(r.err, relay.ErrNameTaken) || cli.ExitCode(r.err) != 1 || !strings.Contains(r.err.Error(), `dataset "cars" exists`) {
		t.Errorf("creating a dataset twice: %v (exit %d), want ErrNameTaken", r.err, cli.ExitCode(r.err))
	}
	must(t, env, "", "relay", "routes", "delete", "dealer-cars")
	must(t, env, "", "relay", "applications", "delete", "dealer-app")
	must(t, env, "", "relay", "destinations", "delete", "dealer")
	r = must(t, env, "", "relay", "datasets", "delete", "cars")
	wants(t, "datasets delete", r.stdout, "Deleted dataset cars")
	r = must(t, env, "", "relay", "routes", "list", "--format", "json")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("routes list after deleting them all: %q, want []", r.stdout)
	}
}

// A PostgreSQL destination: its password comes from a file or from the
// environment, never from a flag, and is never printed; update keeps the
// stored one.
func TestRelayPostgresDestination(t *testing.T) {
	dsn := testenv.Postgres(t)
	env := relayServer(t)
	pg, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("relaycli%06d", rand.IntN(1_000_000))
	if _, err := pg.Exec(`CREATE SCHEMA ` + schema + `; CREATE TABLE ` + schema + `.trucks (vin TEXT PRIMARY KEY, km BIGINT)`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pg.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		pg.Close()
	})

	const secret = "pw-that-must-not-show"
	pwFile := writeFile(t, "pw", secret+"\n")
	args := []string{"relay", "destinations", "create", "fleet-db", "--kind", "postgres", "--host", "127.0.0.1", "--port", "5432",
		"--database", "test", "--user", "postgres", "--option", "sslmode=disable", "--option", "search_path=" + schema}
	r := arus(t, env, "", args...)
	if !strings.Contains(r.stderr, "no password given") || cli.ExitCode(r.err) != 2 {
		t.Errorf("create without a password: %v (exit %d), want a usage error asking for one:\n%s", r.err, cli.ExitCode(r.err), r.stderr)
	}
	r = must(t, env, "", append(args, "--password-file", pwFile)...)
	wants(t, "create", r.stdout, "Created destination fleet-db")
	r = must(t, env, "", "relay", "destinations", "show", "fleet-db")
	wants(t, "show", r.stdout, "postgres@127.0.0.1:5432/test", "search_path="+schema)
	r = must(t, env, "", "relay", "destinations", "catalog", "fleet-db", "--table", schema+".trucks", "--format", "json")
	var cat relay.Catalog
	if err := json.Unmarshal([]byte(r.stdout), &cat); err != nil || len(cat.Tables) != 1 || cat.Tables[0].Name != "trucks" ||
		fmt.Sprint(cat.Tables[0].Key) != "[vin]" || len(cat.Tables[0].Columns) != 2 {
		t.Errorf("catalog as JSON: %v:\n%s", err, r.stdout)
	}
	// A route from flags alone, then changed from flags.
	must(t, env, "", "relay", "datasets", "create", "trucks", "--key-field", "vin")
	r = must(t, env, "", "relay", "routes", "create", "fleet-trucks", "--dataset", "trucks", "--destination", "fleet-db",
		"--table-schema", schema, "--table", "trucks", "--key-column", "vin", "--map", "vin=vin", "--map", "km=odometer.km")
	wants(t, "routes create from flags", r.stdout, "Created route fleet-trucks", "trucks into "+schema+".trucks, delivering.")
	r = must(t, env, "", "relay", "routes", "update", "fleet-trucks", "--filter", "odometer.km > 0", "--enabled=false")
	wants(t, "routes update", r.stdout, "Updated route fleet-trucks", "paused")
	r = must(t, env, "", "relay", "routes", "show", "fleet-trucks", "--format", "json")
	var rt relay.Route
	if err := json.Unmarshal([]byte(r.stdout), &rt); err != nil || rt.Enabled || rt.Filter != "odometer.km > 0" || len(rt.Mapping) != 2 || rt.Mapping[1].Field != "odometer.km" {
		t.Errorf("the updated route: %+v (%v)", rt, err)
	}
	r = must(t, env, `{"vin":"X1","odometer":{"km":12}}`, "relay", "routes", "preview", "fleet-trucks", "--record-file", "-", "--format", "json")
	var p relay.Preview
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || !p.Keep || fmt.Sprint(p.Row) != "map[km:12 vin:X1]" {
		t.Errorf("preview of a record from standard input: %+v (%v)", p, err)
	}

	// The password from the environment; an update that gives none keeps
	// the stored one while the target stays the same.
	withPW := map[string]string{"ARUS_DESTINATION_PASSWORD": secret}
	for k, v := range env {
		withPW[k] = v
	}
	r = must(t, withPW, "", "relay", "destinations", "test", "--kind", "postgres", "--host", "127.0.0.1", "--database", "test",
		"--user", "postgres", "--option", "sslmode=disable")
	wants(t, "test of unsaved settings", r.stdout, "Connection OK: the connection answered")
	r = must(t, env, "", "relay", "destinations", "update", "fleet-db", "--port", "5432")
	wants(t, "update", r.stdout, "Updated destination fleet-db")
	r = must(t, env, "", "relay", "destinations", "test", "fleet-db", "--format", "json")
	var res relay.TestResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.OK {
		t.Errorf("test as JSON: %v:\n%s", err, r.stdout)
	}
	// Another port is another target: the stored password is not sent
	// there, the password is asked for again.
	r = arus(t, env, "", "relay", "destinations", "test", "fleet-db", "--port", "1")
	if cli.ExitCode(r.err) != 1 || !strings.Contains(fmt.Sprint(r.err), "password: is required again") {
		t.Errorf("test of another port without the password: %v (exit %d)", r.err, cli.ExitCode(r.err))
	}
	// A port nothing listens on fails the test: exit status 1, the error shown.
	r = arus(t, withPW, "", "relay", "destinations", "test", "fleet-db", "--port", "1")
	if cli.ExitCode(r.err) != 1 || !strings.Contains(r.stdout, "Connection failed: could not connect") {
		t.Errorf("test of a closed port: %v (exit %d):\n%s", r.err, cli.ExitCode(r.err), r.stdout)
	}
	r = arus(t, withPW, "", "relay", "destinations", "update", "fleet-db", "--port", "1")
	// The detail holds the one field error, (connection); it is not said twice.
	if msg := fmt.Sprint(r.err); !errors.Is(r.err, relay.ErrInvalid) || !strings.HasPrefix(msg, "update destination fleet-db: the connection test failed: ") ||
		strings.Contains(msg, "\n  (connection)") {
		t.Errorf("update to a closed port: %v, want a 422 that says the connection test failed, once", r.err)
	}
	for _, out := range []string{r.stdout, r.stderr, fmt.Sprint(r.err)} {
		if strings.Contains(out, secret) {
			t.Errorf("the password is printed: %s", out)
		}
	}
}

// Bad command lines are usage errors (exit status 2) that name the flag or
// argument and what was wrong; problems the server answers keep its detail
// and field errors (exit status 1).
func TestRelayUsage(t *testing.T) {
	env := relayServer(t)
	must(t, env, "", "relay", "datasets", "create", "cars", "--key-field", "id")
	badJSON := writeFile(t, "bad.json", "{\n  \"name\": \"r\",\n  \"table\" \"cars\"\n}")
	unknown := writeFile(t, "unknown.json", `{"name": "r", "tabel": "cars"}`)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string // in the error
	}{
		{"no noun", []string{"relay"}, "", "no action given"},
		{"unknown noun", []string{"relay", "pipes"}, "", `unknown action "pipes"`},
		{"no verb", []string{"relay", "routes"}, "", "no action given; use list, create, show, update, preview or delete"},
		{"unknown verb", []string{"relay", "datasets", "rename"}, "", `unknown action "rename"`},
		{"missing name", []string{"relay", "routes", "show"}, "", "no route given"},
		{"two names", []string{"relay", "applications", "delete", "a", "b"}, "", "one application at a time"},
		{"unknown flag", []string{"relay", "datasets", "list", "--colour"}, "", "flag provided but not defined: -colour"},
		{"bad format", []string{"relay", "routes", "list", "--format", "yaml"}, "", `--format "yaml": use table or json`},
		{"extra argument", []string{"relay", "status", "now"}, "", `unexpected argument "now"`},
		{"create without datasets", []string{"relay", "applications", "create", "app"}, "", "no dataset given"},
		{"limits without limits", []string{"relay", "applications", "limits", "app"}, "", "no limit given"},
		{"key and no key", []string{"relay", "datasets", "update", "bikes", "--key-field", "id", "--no-key"}, "", "give --key-field or --no-key, not both"},
		{"destination without kind", []string{"relay", "destinations", "create", "d"}, "", "no kind given"},
		{"bad option", []string{"relay", "destinations", "create", "d", "--kind", "sqlite", "--option", "sslmode"}, "", `--option "sslmode": use name=value`},
		{"empty password file", []string{"relay", "destinations", "create", "d", "--kind", "mysql", "--password-file", "-"}, "\n", "--password-file - is empty"},
		{"two readers of stdin", []string{"relay", "destinations", "create", "d", "--file", "-", "--password-file", "-"}, "", "both read standard input"},
		{"missing file", []string{"relay", "routes", "create", "--file", "/nonexistent/route.json"}, "", "--file: open /nonexistent/route.json"},
		{"bad JSON file", []string{"relay", "routes", "create", "--file", badJSON}, "", "not valid JSON at line 3, column 11"},
		{"unknown field in file", []string{"relay", "routes", "create", "--file", unknown}, "", `unknown field "tabel"`},
		{"bad JSON on stdin", []string{"relay", "datasets", "create", "--file", "-"}, `{"name": `, "--file (standard input): not valid JSON"},
		{"bad map", []string{"relay", "routes", "create", "r", "--map", "id"}, "", `--map "id": use column=field`},
		{"bad value", []string{"relay", "routes", "create", "r", "--value", "src=relay"}, "", `--value "src=relay": use column=json`},
		{"preview without record", []string{"relay", "routes", "preview", "r"}, "", "no sample record given"},
		{"preview with bad record", []string{"relay", "routes", "preview", "r", "--record", "{id:1}"}, "", "not valid JSON"},
		{"preview bad op", []string{"relay", "routes", "preview", "r", "--record", "{}", "--op", "merge"}, "", `--op "merge": use upsert or delete`},
		{"saved preview with settings", []string{"relay", "routes", "preview", "r", "--record", "{}", "--table", "t"}, "", "a saved route is tried as it is"},
		{"bad status", []string{"relay", "deliveries", "--status", "lost"}, "", `--status "lost": use delivered, skipped, failed or dead_lettered`},
		{"bad limit", []string{"relay", "deliveries", "--limit", "0"}, "", "--limit 0 is out of range; use 1 to 1000"},
		{"bad since", []string{"relay", "deliveries", "--since", "yesterday"}, "", `--since: "yesterday" is not a time`},
		{"bad server", []string{"relay", "status", "--server", "ftp://host"}, "", `--server "ftp://host" is not a server URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := arus(t, env, tc.stdin, tc.args...)
			var ue *cli.UsageError
			if !errors.As(r.err, &ue) || cli.ExitCode(r.err) != 2 {
				t.Fatalf("got %v (exit %d), want a usage error", r.err, cli.ExitCode(r.err))
			}
			if !strings.Contains(r.err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", r.err, tc.want)
			}
			if !strings.Contains(r.stderr, "Usage") {
				t.Errorf("stderr shows no usage:\n%s", r.stderr)
			}
		})
	}

	for _, tc := range []struct {
		name     string
		args     []string
		sentinel error
		want     []string // in the error
	}{
		{"422 with field errors", []string{"relay", "routes", "create", "Bad Route", "--dataset", "cars", "--mode", "merge"}, relay.ErrInvalid,
			[]string{"create route Bad Route: invalid request\n  name: use 1 to 63", "\n  mode: must be insert or upsert",
				"\n  destination: is required", "\n  table: is required"}},
		{"422 of one field", []string{"relay", "applications", "create", "app", "--dataset", "cars", "--rate-limit", "-1"}, relay.ErrInvalid,
			[]string{"create application app: rate_limit: must be from 0"}},
		{"404 by name", []string{"relay", "routes", "show", "nope"}, relay.ErrNotFound, []string{`no route has the name or id "nope"`}},
		{"404 of a dataset", []string{"relay", "datasets", "show", "nope"}, relay.ErrNotFound, []string{`dataset "nope"`}},
		{"409 name taken", []string{"relay", "datasets", "create", "cars", "--key-field", "id"}, relay.ErrNameTaken, []string{`dataset "cars" exists`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := arus(t, env, "", tc.args...)
			if !errors.Is(r.err, tc.sentinel) || cli.ExitCode(r.err) != 1 {
				t.Fatalf("got %v (exit %d), want %v, exit 1", r.err, cli.ExitCode(r.err), tc.sentinel)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error %q does not say %q", r.err, w)
				}
			}
		})
	}

	r := arus(t, map[string]string{"ARUS_SERVER": env["ARUS_SERVER"]}, "", "relay", "datasets", "list")
	if cli.ExitCode(r.err) != 1 || !strings.Contains(r.err.Error(), "list datasets") {
		t.Errorf("without an API key: %v, want the server's 401", r.err)
	}
	r = must(t, env, "", "relay", "routes", "--help")
	wants(t, "routes --help", r.stdout, "arus relay routes list|create|show|update|preview|delete", "route.json")
}

// A SQLite destination is a file inside the server's SQLite directory,
// made only with --create; a name leading out is refused, naming the field.
func TestRelayDestinationFiles(t *testing.T) {
	env := relayServer(t)
	for _, name := range []string{"../far.db", "/etc/passwd", filepath.Join(env["ARUS_DATA"], "auth.db")} {
		r := arus(t, env, "", "relay", "destinations", "create", "far", "--kind", "sqlite", "--database", name, "--create")
		if cli.ExitCode(r.err) != 1 || r.err == nil || !strings.Contains(r.err.Error(), "database: must name a file inside the server's SQLite directory") {
			t.Errorf("destination on %s: exit %d, %v", name, cli.ExitCode(r.err), r.err)
		}
	}
	r := arus(t, env, "", "relay", "destinations", "create", "fresh", "--kind", "sqlite", "--database", "fresh.db")
	if cli.ExitCode(r.err) != 1 || r.err == nil || !strings.Contains(r.err.Error(), "set create") {
		t.Errorf("a missing file without --create: exit %d, %v", cli.ExitCode(r.err), r.err)
	}
	must(t, env, "", "relay", "destinations", "create", "fresh", "--kind", "sqlite", "--database", "fresh.db", "--create")
	if _, err := os.Stat(filepath.Join(env["ARUS_DATA"], "destinations", "fresh.db")); err != nil {
		t.Errorf("the new file: %v", err)
	}
}
