package web

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/filter"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/delivery"
	"github.com/arus-platform/arus/internal/secret"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// relayFixture is a console with a relay whose destinations are tested and
// read by the real sinks, and an SQLite database with a cars table to be
// one of them.
type relayFixture struct {
	*fixture
	rl     *relay.Relay
	broker stream.Broker
	carsDB string // the SQLite file
}

func newRelayFixture(t *testing.T) *relayFixture {
	t.Helper()
	ctx := context.Background()
	_, b := newStreamsFixture(t)
	sqliteDir := t.TempDir()
	rf := &relayFixture{broker: b, carsDB: filepath.Join(sqliteDir, "shop.db")}
	rf.fixture = newFixtureWithConfig(t, func(c *Config) {
		db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "relay"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		box, _ := secret.New(make([]byte, secret.KeySize))
		if rf.rl, err = relay.New(ctx, relay.Config{DB: db, Auth: c.Auth, Secrets: box, Producer: b, Logger: c.Logger,
			SQLiteDir: sqliteDir}); err != nil {
			t.Fatal(err)
		}
		c.Relay, c.Broker = rf.rl, b
	})
	shop, err := sql.Open("sqlite", rf.carsDB)
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	if _, err := shop.Exec(`CREATE TABLE cars (id INTEGER PRIMARY KEY, car_name TEXT NOT NULL, price NUMERIC(10,2),
		stock INTEGER, source TEXT)`); err != nil {
		t.Fatal(err)
	}
	return rf
}

// form builds url.Values from pairs.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func wantBody(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s: page lacks %q", what, w)
		}
	}
}

var newKeyRe = regexp.MustCompile(`<code id="new-key">(arus_[^<]+)</code>`)

func TestRelayApplicationAndDatasetForms(t *testing.T) {
	f := newRelayFixture(t)
	ctx := context.Background()
	b := f.browser()
	csrf := b.login("admin", adminPassword)

	// Datasets: a bad one is refused beside its fields, a good one saved.
	resp, body := b.post("/relay/datasets", form("csrf_token", csrf, "name", "Cars!", "key_fields", "a..b", "schema", `{"type": 5}`))
	wantStatus(t, "bad dataset", resp, http.StatusUnprocessableEntity)
	wantBody(t, "bad dataset", body, `id="ds-name-err"`, `id="ds-keys-err"`, `id="ds-schema-err"`)
	resp, _ = b.post("/relay/datasets", form("csrf_token", csrf, "name", "cars", "key_fields", "id",
		"schema", `{"type": "object", "properties": {"id": {"type": "integer"}, "car_name": {"type": "string"}, "price": {}}}`))
	wantStatus(t, "create dataset", resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/relay/datasets/cars?ok=relay-created" {
		t.Errorf("create dataset went to %q", loc)
	}
	resp, _ = b.post("/relay/datasets/cars", form("csrf_token", csrf, "key_fields", "id, region"))
	wantStatus(t, "update dataset", resp, http.StatusSeeOther)
	if ds, err := f.rl.Dataset(ctx, "cars"); err != nil || strings.Join(ds.KeyFields, ",") != "id,region" {
		t.Errorf("dataset after the update: %+v, %v", ds, err)
	}
	b.post("/relay/datasets/cars", form("csrf_token", csrf, "key_fields", "id", "schema", `{"type": "object", "properties": {"id": {}, "car_name": {}, "price": {}}}`))

	// Applications: the key is shown once and works; rotating asks first.
	resp, body = b.post("/relay/applications", form("csrf_token", csrf, "name", "shop"))
	wantStatus(t, "application without datasets", resp, http.StatusUnprocessableEntity)
	wantBody(t, "application without datasets", body, "at least one dataset is required")
	resp, body = b.post("/relay/applications", form("csrf_token", csrf, "name", "shop", "datasets", "cars", "rate_limit", "fast"))
	wantStatus(t, "application with a bad rate", resp, http.StatusUnprocessableEntity)
	wantBody(t, "application with a bad rate", body, `id="app-rate-err"`)
	resp, body = b.post("/relay/applications", form("csrf_token", csrf, "name", "shop", "datasets", "cars", "rate_limit", "50"))
	wantStatus(t, "create application", resp, http.StatusCreated)
	m := newKeyRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the new application's key is not shown:\n%s", body)
	}
	if _, err := f.auth.VerifyAPIKey(ctx, m[1]); err != nil {
		t.Errorf("the shown key does not verify: %v", err)
	}
	if _, body = b.get("/relay/applications"); strings.Contains(body, m[1]) {
		t.Error("the applications page shows the key again")
	}
	apps, _ := f.rl.Applications(ctx)
	if len(apps) != 1 || apps[0].RateLimit != 50 {
		t.Fatalf("applications: %+v", apps)
	}
	id := apps[0].ID
	resp, body = b.post("/relay/applications/"+id+"/rotate", form("csrf_token", csrf))
	wantStatus(t, "rotate, first step", resp, http.StatusOK)
	wantBody(t, "rotate review", body, "Rotate the key of shop?", `name="confirmed" value="yes"`)
	if _, err := f.auth.VerifyAPIKey(ctx, m[1]); err != nil {
		t.Errorf("the key stopped working before the rotation was confirmed: %v", err)
	}
	resp, body = b.post("/relay/applications/"+id+"/rotate", form("csrf_token", csrf, "confirmed", "yes"))
	wantStatus(t, "rotate", resp, http.StatusOK)
	m2 := newKeyRe.FindStringSubmatch(body)
	if m2 == nil || m2[1] == m[1] {
		t.Fatalf("rotation shows no new key")
	}
	if _, err := f.auth.VerifyAPIKey(ctx, m[1]); err == nil {
		t.Error("the old key still works after rotation")
	}
	resp, _ = b.post("/relay/applications/"+id+"/limits", form("csrf_token", csrf, "rate_limit", "5", "burst", "-1"))
	wantStatus(t, "bad limits", resp, http.StatusUnprocessableEntity)
	resp, _ = b.post("/relay/applications/"+id+"/limits", form("csrf_token", csrf, "rate_limit", "5", "burst", "10"))
	wantStatus(t, "limits", resp, http.StatusSeeOther)

	// The dataset is in use: deleting it is refused after the review.
	resp, body = b.post("/relay/datasets/cars/delete", form("csrf_token", csrf, "confirmed", "yes"))
	wantStatus(t, "delete a dataset in use", resp, http.StatusConflict)
	wantBody(t, "delete a dataset in use", body, `class="notice bad"`)
	resp, _ = b.post("/relay/applications/"+id+"/delete", form("csrf_token", csrf, "confirmed", "yes"))
	wantStatus(t, "delete application", resp, http.StatusSeeOther)
	if _, err := f.auth.VerifyAPIKey(ctx, m2[1]); err == nil {
		t.Error("a deleted application's key still works")
	}

	// Changing needs relay.write and the CSRF token.
	resp, _ = b.post("/relay/datasets", form("name", "bikes", "key_fields", "id"))
	wantStatus(t, "create without CSRF token", resp, http.StatusForbidden)
	if _, err := f.auth.CreateUser(ctx, auth.NewUser{Username: "vic", Password: "correct horse battery", Roles: []auth.Role{auth.RoleViewer}, Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	v := f.browser()
	vcsrf := v.login("vic", "correct horse battery")
	resp, _ = v.post("/relay/datasets", form("csrf_token", vcsrf, "name", "bikes", "key_fields", "id"))
	wantStatus(t, "viewer creates a dataset", resp, http.StatusForbidden)
	resp, body = v.get("/relay/datasets/cars")
	wantStatus(t, "viewer reads a dataset", resp, http.StatusOK)
	if strings.Contains(body, `action="/relay/datasets/cars"`) {
		t.Error("a viewer is offered the dataset's form")
	}
}

func TestRelayDestinationAndRouteEditors(t *testing.T) {
	f := newRelayFixture(t)
	ctx := context.Background()
	if _, err := f.rl.CreateDataset(ctx, relay.Dataset{Name: "cars", KeyFields: []string{"id"},
		Schema: []byte(`{"type": "object", "properties": {"id": {}, "car_name": {}, "price": {}, "stock": {}}}`)}); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	csrf := b.login("admin", adminPassword)

	// A test that fails, one that passes, and a save (which tests again).
	// Nothing listens on port 1 of the loopback address.
	down := []string{"csrf_token", csrf, "name", "shop", "kind", "postgres", "host", "127.0.0.1", "port", "1",
		"database", "shop", "user", "relay", "password", "pw"}
	resp, body := b.post("/relay/destinations", form(append(down, "action", "test")...))
	wantStatus(t, "test an unreachable destination", resp, http.StatusOK)
	wantBody(t, "failed test", body, "Connection test failed", "nothing at this address answered")
	resp, body = b.post("/relay/destinations", form(append(down, "action", "save")...))
	wantStatus(t, "save an unreachable destination", resp, http.StatusUnprocessableEntity)
	wantBody(t, "failed save", body, "Connection test failed")
	missing := filepath.Join("no", "such", "dir", "x.db")
	resp, body = b.post("/relay/destinations", form("csrf_token", csrf, "action", "test", "name", "shop", "kind", "sqlite", "database", missing))
	wantStatus(t, "test a file outside the SQLite directory", resp, http.StatusUnprocessableEntity)
	wantBody(t, "missing file", body, "inside the server&#39;s SQLite directory")
	if ds, _ := f.rl.Destinations(ctx); len(ds) != 0 {
		t.Fatalf("a destination that failed its test was saved: %+v", ds)
	}
	resp, body = b.post("/relay/destinations", form("csrf_token", csrf, "action", "test", "name", "shop", "kind", "postgres", "port", "x"))
	wantStatus(t, "test a bad form", resp, http.StatusUnprocessableEntity)
	wantBody(t, "bad form", body, `id="d-port-err"`)
	resp, body = b.post("/relay/destinations", form("csrf_token", csrf, "action", "test", "name", "shop", "kind", "sqlite", "database", f.carsDB))
	wantStatus(t, "test", resp, http.StatusOK)
	wantBody(t, "test", body, "Connection test passed")
	resp, _ = b.post("/relay/destinations", form("csrf_token", csrf, "action", "save", "name", "shop", "kind", "sqlite", "database", f.carsDB))
	wantStatus(t, "save", resp, http.StatusSeeOther)
	dests, _ := f.rl.Destinations(ctx)
	if len(dests) != 1 {
		t.Fatalf("destinations after save: %+v", dests)
	}
	dest := dests[0].ID
	if loc := resp.Header.Get("Location"); loc != "/relay/destinations/"+dest+"?ok=relay-saved" {
		t.Errorf("save went to %q", loc)
	}
	if err := f.rl.SetDestinationHealth(ctx, dest, false, "database is restarting"); err != nil {
		t.Fatal(err)
	}
	// The destinations page follows health live.
	live := b.events("/relay/destinations")
	waitFor(t, live, "the destination down", func(v map[string]string) bool {
		return v["health:"+dest] == "down" && v["pill:health:"+dest] == "bad" && v["error:"+dest] == "database is restarting"
	})
	if err := f.rl.SetDestinationHealth(ctx, dest, true, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, live, "the destination up again", func(v map[string]string) bool {
		return v["health:"+dest] == "up" && v["pill:health:"+dest] == "ok"
	})
	if err := f.rl.SetDestinationHealth(ctx, dest, false, "database is restarting"); err != nil {
		t.Fatal(err)
	}
	_, body = b.get("/relay/destinations/" + dest + "?tables=1")
	wantBody(t, "destination health", body, `<span class="pill bad">down</span></td><td class="mono">database is restarting</td>`)
	wantBody(t, "destination tables", body, ">main.cars</td>", "car_name")

	// The route editor: the catalogue offers the table; its columns become
	// rows, fed by the fields of the same name.
	resp, body = b.post("/relay/routes", form("csrf_token", csrf, "action", "load", "name", "cars-shop", "dataset", "cars", "destination", dest))
	wantStatus(t, "load the catalogue", resp, http.StatusOK)
	wantBody(t, "catalogue", body, `<option value="main.cars">main.cars</option>`)
	resp, body = b.post("/relay/routes", form("csrf_token", csrf, "action", "load", "name", "cars-shop", "dataset", "cars", "destination", dest,
		"table", "main.cars", "mode", "upsert", "enabled", "on"))
	wantStatus(t, "load the table", resp, http.StatusOK)
	wantBody(t, "mapping rows", body, `name="col.0" value="id"`, `name="expr.0" value="id"`, `name="col.4" value="source"`,
		`name="key_columns" value="id" checked`, `name="rows" value="5"`)

	// The editor as the operator leaves it: price from the record, a
	// constant source, stock not written.
	editor := func(action string, kv ...string) url.Values {
		v := form("csrf_token", csrf, "action", action, "name", "cars-shop", "dataset", "cars", "destination", dest, "table", "main.cars",
			"loaded_table", "main.cars", "mode", "upsert", "enabled", "on", "deletes", "on", "key_columns", "id", "rows", "5",
			"col.0", "id", "src.0", "field", "expr.0", "id",
			"col.1", "car_name", "src.1", "field", "expr.1", "car_name",
			"col.2", "price", "src.2", "field", "expr.2", "price",
			"col.3", "stock", "src.3", "", "expr.3", "",
			"col.4", "source", "src.4", "value", "expr.4", `"relay"`)
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	resp, body = b.post("/relay/routes", editor("preview", "sample", `{"id": 7, "car_name": "Avanza", "price": "cheap"}`))
	wantStatus(t, "preview a record that does not fit", resp, http.StatusOK)
	wantBody(t, "preview of a bad value", body, "price (numeric(10,2))", ">Avanza</td>")
	resp, body = b.post("/relay/routes", editor("preview", "sample", `{"id": 7, "car_name": "Avanza", "price": 199.5, "stock": 3}`, "expr.2", "price", "src.3", "field", "expr.3", "colour"))
	wantStatus(t, "preview", resp, http.StatusOK)
	wantBody(t, "preview", body, "This record becomes", ">199.5</td>", ">relay</td>", `<span class="pill info">NULL</span>`)
	resp, body = b.post("/relay/routes", editor("preview", "filter", "price >", "sample", `{"id": 7}`))
	wantStatus(t, "preview with a bad filter", resp, http.StatusOK)
	wantBody(t, "bad filter", body, `id="r-filter-err"`)
	resp, body = b.post("/relay/routes", editor("preview", "expr.4", `relay`, "sample", `{"id": 7}`))
	wantStatus(t, "preview with a constant that is not JSON", resp, http.StatusOK)
	wantBody(t, "a constant that is not JSON", body, `id="expr-4" name="expr.4" value="relay" class="mono" list="r-fields" aria-invalid="true"`)

	// Names outside the catalogue are refused, whatever they hold.
	resp, body = b.post("/relay/routes", editor("save", "table", `cars"; DROP TABLE cars; --`))
	wantStatus(t, "save a table outside the catalogue", resp, http.StatusUnprocessableEntity)
	wantBody(t, "table outside the catalogue", body, "choose one of the destination&#39;s tables")
	resp, body = b.post("/relay/routes", editor("save", "col.3", `stock" = 0; --`, "src.3", "field", "expr.3", "stock"))
	wantStatus(t, "save a column outside the catalogue", resp, http.StatusUnprocessableEntity)
	wantBody(t, "column outside the catalogue", body, "has no column")

	resp, _ = b.post("/relay/routes", editor("save"))
	wantStatus(t, "save the route", resp, http.StatusSeeOther)
	routes, _ := f.rl.Routes(ctx)
	if len(routes) != 1 {
		t.Fatalf("routes: %+v", routes)
	}
	rt := routes[0]
	if got := mappingString(rt); got != `id<-id car_name<-car_name price<-price source="relay"` || !rt.Deletes || rt.Table != "cars" {
		t.Errorf("saved route: %s %+v", got, rt)
	}

	// A record the destination refused waits on the route's page.
	letter := consume.DeadLetterRecord(&stream.Record{Topic: "relay.cars", Key: []byte("7"), Value: []byte(`{"id": 7}`),
		Headers: []stream.Header{{Key: stream.HeaderID, Value: []byte("rec-7")}}}, delivery.Group(rt.ID), errors.New("value too long"), time.Now())
	if err := f.broker.Produce(ctx, letter); err != nil {
		t.Fatal(err)
	}

	// Editing keeps what is saved and lays it over the catalogue.
	resp, body = b.get("/relay/routes/" + rt.ID)
	wantBody(t, "route page", body, "1 dead letter(s) to replay or discard", `href="/dlq/relay.cars.relay.route.`+rt.ID+`.dlq"`)
	wantStatus(t, "route page", resp, http.StatusOK)
	wantBody(t, "route page", body, `name="expr.2" value="price"`, `name="expr.4" value="&#34;relay&#34;"`, "/relay/deliveries?route="+rt.ID)
	resp, _ = b.post("/relay/routes/"+rt.ID, editor("save", "src.4", "", "mode", "insert"))
	wantStatus(t, "update the route", resp, http.StatusSeeOther)
	if rt, _ = f.rl.Route(ctx, rt.ID); mappingString(rt) != `id<-id car_name<-car_name price<-price` || rt.Mode != "insert" {
		t.Errorf("route after the update: %s %+v", mappingString(rt), rt)
	}

	resp, _ = b.post("/relay/destinations/"+dest+"/delete", form("csrf_token", csrf, "confirmed", "yes"))
	wantStatus(t, "delete a destination in use", resp, http.StatusConflict)
	resp, body = b.post("/relay/routes/"+rt.ID+"/delete", form("csrf_token", csrf))
	wantStatus(t, "delete route review", resp, http.StatusOK)
	wantBody(t, "delete route review", body, "Delete route cars-shop?")
	resp, _ = b.post("/relay/routes/"+rt.ID+"/delete", form("csrf_token", csrf, "confirmed", "yes"))
	wantStatus(t, "delete route", resp, http.StatusSeeOther)
	resp, _ = b.post("/relay/destinations/"+dest+"/delete", form("csrf_token", csrf, "confirmed", "yes"))
	wantStatus(t, "delete destination", resp, http.StatusSeeOther)
}

func mappingString(rt relay.Route) string {
	var parts []string
	for _, m := range rt.Mapping {
		if m.Field != "" {
			parts = append(parts, m.Column+"<-"+m.Field)
		} else {
			parts = append(parts, m.Column+"="+string(m.Value))
		}
	}
	return strings.Join(parts, " ")
}

// The route form's filter hint is one the filter language accepts.
func TestRouteFilterHintParses(t *testing.T) {
	b, err := os.ReadFile("templates/relay_route.html")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`e\.g\. ((?:[^"\\]|\\.)*)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the route form has no filter example")
	}
	example := strings.ReplaceAll(string(m[1]), `\"`, `"`)
	if _, err := filter.ParseFilter(example); err != nil {
		t.Errorf("the route form suggests %q, which the filter parser refuses: %v", example, err)
	}
}
