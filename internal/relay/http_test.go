package relay

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
)

func TestAdminAPI(t *testing.T) {
	e := newIngestEnv(t)
	_, reader, err := e.auth.CreateAPIKey(context.Background(), auth.NewAPIKey{Name: "viewer", Scopes: []string{"relay.read"}})
	if err != nil {
		t.Fatal(err)
	}
	const p = "/api/v1/relay"

	// Create what later cases use.
	a := e.do("POST", p+"/datasets", e.admin, `{"name": "trucks", "key_fields": ["vin"]}`)
	if a.status != 201 || a.body["topic"] != "relay.trucks" {
		t.Fatalf("create dataset: %d %s", a.status, a.raw)
	}
	a = e.do("POST", p+"/destinations", e.admin, `{"name": "pg", "kind": "postgres", "host": "db", "database": "shop", "user": "relay", "password": "hunter22"}`)
	if a.status != 201 || strings.Contains(a.raw, "hunter22") || strings.Contains(a.raw, "password") {
		t.Fatalf("create destination: %d %s", a.status, a.raw)
	}
	dest, _ := a.body["id"].(string)
	if a := e.do("GET", p+"/destinations", e.admin, ""); a.status != 200 || strings.Contains(a.raw, "hunter22") {
		t.Errorf("list destinations: %d %s", a.status, a.raw)
	}
	route := fmt.Sprintf(`{"name": "trucks-pg", "dataset": "trucks", "destination": %q, "table": "trucks", "key_columns": ["vin"],
		"mapping": [{"column": "vin", "field": "vin"}, {"column": "km", "field": "odometer.km"}, {"column": "src", "value": "relay"}],
		"filter": "odometer.km > 0"}`, dest)
	a = e.do("POST", p+"/routes", e.admin, route)
	if a.status != 201 {
		t.Fatalf("create route: %d %s", a.status, a.raw)
	}
	routeID, _ := a.body["id"].(string)
	a = e.do("POST", p+"/routes/"+routeID+"/preview", reader, `{"record": {"vin": "X1", "odometer": {"km": 12.5}}}`)
	if a.status != 200 || a.body["keep"] != true || fmt.Sprint(a.body["row"]) != "map[km:12.5 src:relay vin:X1]" {
		t.Errorf("preview: %d %s", a.status, a.raw)
	}
	a = e.do("POST", p+"/routes/preview", e.admin, `{"route": `+route+`, "record": {"vin": "X1", "odometer": {"km": 0}}}`)
	if a.status != 200 || a.body["keep"] != false {
		t.Errorf("preview of a new route: %d %s", a.status, a.raw)
	}
	a = e.do("POST", p+"/applications", e.admin, `{"name": "fleet", "datasets": ["trucks"], "rate_limit": 100}`)
	key, _ := a.body["api_key"].(string)
	appID, _ := a.body["id"].(string)
	if a.status != 201 || key == "" {
		t.Fatalf("create application: %d %s", a.status, a.raw)
	}
	if a := e.ingest("trucks", key, `{"vin": "X1"}`); a.status != 202 {
		t.Errorf("ingest with the new key: %d %s", a.status, a.raw)
	}
	a = e.do("PUT", p+"/applications/"+appID+"/limits", e.admin, `{"rate_limit": 1, "burst": 1}`)
	if a.status != 200 || a.body["burst"] != 1.0 {
		t.Errorf("limits: %d %s", a.status, a.raw)
	}
	if a := e.ingest("trucks", key, `[{"vin": "X2"}, {"vin": "X3"}]`); a.status != 429 {
		t.Errorf("over the new limit: %d %s", a.status, a.raw)
	}
	a = e.do("POST", p+"/applications/"+appID+"/rotate-key", e.admin, "")
	if k2, _ := a.body["api_key"].(string); a.status != 200 || k2 == "" || k2 == key {
		t.Errorf("rotate: %d %s", a.status, a.raw)
	}
	if a := e.ingest("trucks", key, `{"vin": "X1"}`); a.status != 401 {
		t.Errorf("ingest with the old key: %d", a.status)
	}

	// Connection tests answer a result; the catalogue comes from the
	// destination.
	a = e.do("POST", p+"/destinations/test", e.admin, `{"name": "new", "kind": "postgres", "host": "db", "database": "shop", "user": "u", "password": "pw"}`)
	if a.status != 200 || a.body["ok"] != true {
		t.Errorf("test a good destination: %d %s", a.status, a.raw)
	}
	a = e.do("POST", p+"/destinations/test", e.admin, `{"name": "new", "kind": "postgres", "host": "down.invalid", "database": "shop", "user": "u", "password": "pw"}`)
	if msg, _ := a.body["error"].(string); a.status != 200 || a.body["ok"] != false || !strings.Contains(msg, "could not connect") {
		t.Errorf("test an unreachable destination: %d %s", a.status, a.raw)
	}
	if a := e.do("POST", p+"/destinations/"+dest+"/test", e.admin, ""); a.status != 200 || a.body["ok"] != true {
		t.Errorf("test the saved destination: %d %s", a.status, a.raw)
	}
	// Changed settings: the stored password goes to the saved target only.
	a = e.do("POST", p+"/destinations/"+dest+"/test", e.admin, `{"name": "pg", "kind": "postgres", "host": "down.invalid", "database": "shop", "user": "relay"}`)
	if a.status != 422 || fmt.Sprint(errorFields(a)) != "[password]" {
		t.Errorf("test changed settings without the password: %d %s", a.status, a.raw)
	}
	a = e.do("POST", p+"/destinations/"+dest+"/test", e.admin, `{"name": "pg", "kind": "postgres", "host": "down.invalid", "database": "shop", "user": "relay", "password": "pw"}`)
	if a.status != 200 || a.body["ok"] != false {
		t.Errorf("test changed settings: %d %s", a.status, a.raw)
	}
	a = e.do("GET", p+"/destinations/"+dest+"/catalog", reader, "")
	if a.status != 200 || !strings.Contains(a.raw, `"name":"cars","key":["id"],"columns":[{"name":"id","type":"integer","nullable":false,"has_default":false,"generated":false}`) {
		t.Errorf("catalog: %d %s", a.status, a.raw)
	}
	if err := e.r.SetDestinationHealth(context.Background(), dest, false, "connection refused"); err != nil {
		t.Fatal(err)
	}
	a = e.do("GET", p+"/destinations/"+dest+"/events", reader, "")
	if a.status != 200 || !strings.Contains(a.raw, `"health":"down","error":"connection refused"`) {
		t.Errorf("events: %d %s", a.status, a.raw)
	}
	a = e.do("PUT", p+"/destinations/"+dest, e.admin, `{"name": "pg", "kind": "postgres", "host": "down.invalid", "database": "shop", "user": "relay", "password": "pw"}`)
	if a.status != 422 || fmt.Sprint(errorFields(a)) != "[(connection)]" {
		t.Errorf("update to an unreachable host: %d %s", a.status, a.raw)
	}

	cases := []struct {
		name, method, path, key, body string
		status                        int
		fields                        []string
	}{
		{"no key", "GET", p + "/datasets", "", "", 401, nil},
		{"ingest key", "GET", p + "/datasets", e.cars, "", 403, nil},
		{"read-only writes", "POST", p + "/datasets", reader, `{"name": "x", "key_fields": ["id"]}`, 403, nil},
		{"malformed", "POST", p + "/datasets", e.admin, `{"name": "x",`, 400, nil},
		{"too large", "POST", p + "/datasets", e.admin, `{"name": "` + strings.Repeat("x", 2<<20) + `"}`, 413, nil},
		{"unknown field", "POST", p + "/datasets", e.admin, `{"name": "x", "keys": ["id"]}`, 422, []string{"keys"}},
		{"bad dataset", "POST", p + "/datasets", e.admin, `{"name": "X Y", "key_fields": ["a[x]"], "schema": {"type": 1}}`, 422,
			[]string{"name", "key_fields[0]", "schema"}},
		{"duplicate dataset", "POST", p + "/datasets", e.admin, `{"name": "trucks", "key_fields": ["id"]}`, 409, nil},
		{"unknown dataset", "GET", p + "/datasets/nope", e.admin, "", 404, nil},
		{"dataset in use", "DELETE", p + "/datasets/trucks", e.admin, "", 409, nil},
		{"bad application", "POST", p + "/applications", e.admin, `{"name": "a", "datasets": ["trucks", "nope"], "rate_limit": -1}`, 422,
			[]string{"rate_limit"}},
		{"application of unknown dataset", "POST", p + "/applications", e.admin, `{"name": "a", "datasets": ["nope"]}`, 422, []string{"datasets[0]"}},
		{"duplicate application", "POST", p + "/applications", e.admin, `{"name": "fleet", "datasets": ["trucks"]}`, 409, nil},
		{"unknown application", "GET", p + "/applications/nope", e.admin, "", 404, nil},
		{"bad limits", "PUT", p + "/applications/" + appID + "/limits", e.admin, `{"rate_limit": 5, "burst": -1}`, 422, []string{"burst"}},
		{"limits of unknown", "PUT", p + "/applications/nope/limits", e.admin, `{"rate_limit": 5}`, 404, nil},
		{"rotate unknown", "POST", p + "/applications/nope/rotate-key", e.admin, "", 404, nil},
		{"destination without password", "POST", p + "/destinations", e.admin, `{"name": "my", "kind": "mysql", "host": "h", "database": "d", "user": "u"}`, 422,
			[]string{"password"}},
		{"destination with both", "POST", p + "/destinations", e.admin, `{"name": "my", "kind": "mysql", "dsn": "u@tcp(h)/d", "host": "h", "password": "x"}`, 422,
			[]string{"dsn"}},
		{"SQLite file outside its directory", "POST", p + "/destinations", e.admin, `{"name": "lite", "kind": "sqlite", "database": "../auth.db"}`, 422,
			[]string{"database"}},
		{"missing SQLite file", "POST", p + "/destinations", e.admin, `{"name": "lite", "kind": "sqlite", "database": "none.db"}`, 422, []string{"database"}},
		{"SQLite DSN", "POST", p + "/destinations", e.admin, `{"name": "lite", "kind": "sqlite", "dsn": "file:/etc/passwd?mode=ro"}`, 422, []string{"dsn", "database"}},
		{"option that reads files", "POST", p + "/destinations", e.admin, `{"name": "my", "kind": "mysql", "host": "h", "database": "d", "user": "u", "password": "x",
			"options": {"allowAllFiles": "true"}}`, 422, []string{"options.allowAllFiles"}},
		{"option in the DSN", "POST", p + "/destinations/test", e.admin, `{"name": "pg", "kind": "postgres", "dsn": "postgres://u@h/d?sslkey=/etc/arus/secret.key", "password": "x"}`, 422,
			[]string{"dsn"}},
		{"password in the DSN", "POST", p + "/destinations", e.admin, `{"name": "pg2", "kind": "postgres", "dsn": "postgres://u:pw@h/d", "password": "x"}`, 422, []string{"dsn"}},
		{"password in the options", "POST", p + "/destinations", e.admin, `{"name": "pg2", "kind": "postgres", "host": "h", "database": "d", "user": "u", "password": "x",
			"options": {"password": "pw"}}`, 422, []string{"options.password"}},
		{"metadata address", "POST", p + "/destinations/test", e.admin, `{"name": "pg2", "kind": "postgres", "host": "169.254.169.254", "database": "d", "user": "u", "password": "x"}`, 422,
			[]string{"host"}},
		{"new target without its password", "PUT", p + "/destinations/" + dest, e.admin, `{"name": "pg", "kind": "postgres", "host": "elsewhere", "database": "shop", "user": "relay"}`, 422,
			[]string{"password"}},
		{"new target without its password, tested", "POST", p + "/destinations/" + dest + "/test", e.admin, `{"name": "pg", "kind": "postgres", "host": "db", "port": 6543, "database": "shop", "user": "relay"}`, 422,
			[]string{"password"}},
		{"duplicate destination", "POST", p + "/destinations", e.admin, `{"name": "pg", "kind": "sqlite", "database": "x.db", "create": true}`, 409, nil},
		{"test without password", "POST", p + "/destinations/test", e.admin, `{"name": "my", "kind": "mysql", "host": "h", "database": "d", "user": "u"}`, 422,
			[]string{"password"}},
		{"test of a bad kind", "POST", p + "/destinations/test", e.admin, `{"name": "my", "kind": "oracle", "host": "h", "database": "d", "user": "u", "password": "x"}`, 422, []string{"kind"}},
		{"test malformed", "POST", p + "/destinations/" + dest + "/test", e.admin, `{"name":`, 400, nil},
		{"test unknown", "POST", p + "/destinations/nope/test", e.admin, "", 404, nil},
		{"test read-only", "POST", p + "/destinations/test", reader, `{}`, 403, nil},
		{"catalog of unknown", "GET", p + "/destinations/nope/catalog", e.admin, "", 404, nil},
		{"events of unknown", "GET", p + "/destinations/nope/events", e.admin, "", 404, nil},
		{"destination in use", "DELETE", p + "/destinations/" + dest, e.admin, "", 409, nil},
		{"unknown destination", "PUT", p + "/destinations/nope", e.admin, `{"name": "pg", "kind": "sqlite", "database": "x"}`, 404, nil},
		{"bad route", "POST", p + "/routes", e.admin, `{"name": "r", "dataset": "trucks", "destination": "` + dest + `", "table": "t", "mode": "merge",
			"key_columns": ["id"], "mapping": [{"column": "id", "field": "a..b"}, {"column": "x"}], "filter": "a = 1"}`, 422,
			[]string{"mode", "mapping[0].field", "mapping[1]", "filter"}},
		{"route to nothing", "POST", p + "/routes", e.admin, `{"name": "r", "dataset": "nope", "destination": "nope", "table": "t",
			"key_columns": ["id"], "mapping": [{"column": "id", "field": "id"}]}`, 422, []string{"dataset", "destination"}},
		{"duplicate route", "POST", p + "/routes", e.admin, route, 409, nil},
		{"unknown route", "GET", p + "/routes/nope", e.admin, "", 404, nil},
		{"preview without record", "POST", p + "/routes/" + routeID + "/preview", e.admin, `{}`, 422, []string{"record"}},
		{"preview of a bad route", "POST", p + "/routes/preview", e.admin, `{"route": {"name": "r"}, "record": {}}`, 422, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.do(c.method, c.path, c.key, c.body)
			if a.status != c.status {
				t.Fatalf("got %d %s, want %d", a.status, a.raw, c.status)
			}
			if c.fields != nil && fmt.Sprint(errorFields(a)) != fmt.Sprint(c.fields) {
				t.Errorf("fields %v, want %v (%s)", errorFields(a), c.fields, a.raw)
			}
		})
	}

	if a := e.do("DELETE", p+"/routes/"+routeID, e.admin, ""); a.status != 204 {
		t.Errorf("delete route: %d %s", a.status, a.raw)
	}
	if a := e.do("DELETE", p+"/destinations/"+dest, e.admin, ""); a.status != 204 {
		t.Errorf("delete destination: %d %s", a.status, a.raw)
	}
	if a := e.do("DELETE", p+"/applications/"+appID, e.admin, ""); a.status != 204 {
		t.Errorf("delete application: %d %s", a.status, a.raw)
	}
	if a := e.do("DELETE", p+"/datasets/trucks", e.admin, ""); a.status != http.StatusNoContent {
		t.Errorf("delete dataset: %d %s", a.status, a.raw)
	}
}
