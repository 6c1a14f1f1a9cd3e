package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/internal/secret"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// openStores opens the relay's and auth's stores from base.
func openStores(t testing.TB, base store.Config) (*store.DB, *auth.Store) {
	t.Helper()
	ctx := context.Background()
	open := func(component string) *store.DB {
		cfg := base
		cfg.Component = component
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("store.Open(%s): %v", component, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	as, err := auth.Open(ctx, open("auth"), auth.Config{Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatalf("auth.Open: %v", err)
	}
	return open("relay"), as
}

type testerFunc func(ctx context.Context, d Destination, password string) error

func (f testerFunc) Catalog(ctx context.Context, d Destination, password string) ([]sink.TableInfo, error) {
	if err := f(ctx, d, password); err != nil {
		return nil, err
	}
	return []sink.TableInfo{{Table: sink.Table{Name: "cars"}, Key: []string{"id"},
		Columns: []sink.Column{{Name: "id", Type: "integer"}, {Name: "car_name", Type: "text", Nullable: true, HasDefault: true}}}}, nil
}

func (f testerFunc) Test(ctx context.Context, d Destination, password string) error {
	return f(ctx, d, password)
}

func newRelay(t testing.TB, base store.Config, p stream.Producer, tester Tester, opts ...func(*Config)) (*Relay, *auth.Store) {
	t.Helper()
	db, as := openStores(t, base)
	box, err := secret.New(make([]byte, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{DB: db, Auth: as, Secrets: box, Producer: p, Tester: tester, Logger: discardLogger()}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, as
}

type nopProducer struct{}

func (nopProducer) Produce(ctx context.Context, records ...*stream.Record) error { return nil }

func fieldsOf(err error) []string {
	var ve *invalid.Fields
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, e := range ve.List {
		out = append(out, e.Name)
	}
	return out
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		var tested string
		r, as := newRelay(t, base, nopProducer{}, testerFunc(func(ctx context.Context, d Destination, pw string) error {
			tested = pw
			if d.Host == "down.example" {
				return errors.New("connection refused")
			}
			return nil
		}))

		// Datasets.
		ds, err := r.CreateDataset(ctx, Dataset{Name: "cars", KeyFields: []string{"id"},
			Schema: json.RawMessage(`{"type":"object","properties":{"price":{"type":"number"}}}`)})
		if err != nil {
			t.Fatalf("CreateDataset: %v", err)
		}
		if ds.Topic != "relay.cars" {
			t.Errorf("topic %q, want relay.cars", ds.Topic)
		}
		if _, err := r.CreateDataset(ctx, Dataset{Name: "cars", KeyFields: []string{"id"}}); !errors.Is(err, ErrNameTaken) {
			t.Errorf("duplicate dataset: got %v", err)
		}
		_, err = r.CreateDataset(ctx, Dataset{Name: "Bad Name", KeyFields: []string{"a..b"}, Schema: json.RawMessage(`{"type":7}`)})
		if got := fieldsOf(err); len(got) != 3 || got[0] != "name" || got[1] != "key_fields[0]" || got[2] != "schema" {
			t.Errorf("bad dataset: fields %v (%v)", got, err)
		}
		got, err := r.Dataset(ctx, "cars")
		if err != nil || string(got.Schema) != string(ds.Schema) || got.KeyFields[0] != "id" {
			t.Errorf("Dataset: %+v, %v", got, err)
		}
		if _, err := r.UpdateDataset(ctx, "cars", Dataset{KeyFields: []string{"id", "type"}}); err != nil {
			t.Errorf("UpdateDataset: %v", err)
		}
		if _, err := r.Dataset(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing dataset: %v", err)
		}

		// Applications.
		app, key, err := r.CreateApplication(ctx, NewApplication{Name: "shop", Datasets: []string{"cars"}, RateLimit: 100})
		if err != nil {
			t.Fatalf("CreateApplication: %v", err)
		}
		if app.Burst != 100 {
			t.Errorf("burst %d, want 100 by default", app.Burst)
		}
		k, err := as.VerifyAPIKey(ctx, key)
		if err != nil || !k.Allows(auth.PermRelayIngest, "cars") || k.Allows(auth.PermRelayIngest, "bikes") {
			t.Errorf("app key: %+v, %v", k, err)
		}
		if _, _, err := r.CreateApplication(ctx, NewApplication{Name: "shop", Datasets: []string{"cars"}}); !errors.Is(err, ErrNameTaken) {
			t.Errorf("duplicate application: %v", err)
		}
		_, _, err = r.CreateApplication(ctx, NewApplication{Name: "x", Datasets: []string{"bikes"}})
		if f := fieldsOf(err); len(f) != 1 || f[0] != "datasets[0]" {
			t.Errorf("unknown dataset: %v", err)
		}
		_, key2, err := r.RotateApplicationKey(ctx, app.ID)
		if err != nil || key2 == key {
			t.Fatalf("rotate: %v", err)
		}
		if _, err := as.VerifyAPIKey(ctx, key); err == nil {
			t.Error("old key still works after rotation")
		}
		if apps, err := r.Applications(ctx); err != nil || len(apps) != 1 || apps[0].Name != "shop" {
			t.Errorf("Applications: %v, %v", apps, err)
		}
		if err := r.DeleteDataset(ctx, "cars"); !errors.Is(err, ErrInUse) {
			t.Errorf("delete used dataset: %v", err)
		}

		// Destinations.
		in := DestinationInput{Name: "warehouse", Kind: KindPostgres, Host: "db.example", Database: "shop", User: "relay", Password: "s3cret"}
		dest, err := r.CreateDestination(ctx, in)
		if err != nil || tested != "s3cret" {
			t.Fatalf("CreateDestination: %v (tested with %q)", err, tested)
		}
		if pw, err := r.DestinationPassword(ctx, dest.ID); err != nil || pw != "s3cret" {
			t.Errorf("password: %q, %v", pw, err)
		}
		var raw string
		_ = r.db.QueryRowContext(ctx, r.db.Rebind(`SELECT password FROM relay_destinations WHERE id = ?`), dest.ID).Scan(&raw)
		if raw == "s3cret" || raw == "" {
			t.Errorf("password stored as %q, want it sealed", raw)
		}
		in.Password = ""
		in.Options = map[string]string{"application_name": "relay"}
		if d, err := r.UpdateDestination(ctx, dest.ID, in); err != nil || d.Options["application_name"] != "relay" || tested != "s3cret" {
			t.Errorf("UpdateDestination keeping the password: %+v, %v, tested %q", d, err, tested)
		}
		in.Port = 5433
		if _, err := r.UpdateDestination(ctx, dest.ID, in); fmt.Sprint(fieldsOf(err)) != "[password]" {
			t.Errorf("UpdateDestination to another port without the password: %v, want the password asked for", err)
		}
		bad := in
		bad.Name, bad.Host, bad.Password = "other", "down.example", "x"
		var te *TestError
		if _, err := r.CreateDestination(ctx, bad); !errors.As(err, &te) {
			t.Errorf("failing test: %v", err)
		}
		_, err = r.CreateDestination(ctx, DestinationInput{Name: "x", Kind: "oracle", DSN: "postgres://u:pw@h/db", Host: "h"})
		if f := fieldsOf(err); fmt.Sprint(f) != "[kind dsn password]" {
			t.Errorf("bad destination: %v", f)
		}
		if err := r.SetDestinationHealth(ctx, dest.ID, false, "connection refused"); err != nil {
			t.Fatal(err)
		}
		if d, _ := r.Destination(ctx, dest.ID); d.Health != HealthDown || d.LastError != "connection refused" {
			t.Errorf("health: %+v", d)
		}
		// Only changes of state are events; a new error while down is not.
		for _, h := range []struct {
			up  bool
			err string
		}{{false, "timeout"}, {true, ""}, {true, ""}} {
			if err := r.SetDestinationHealth(ctx, dest.ID, h.up, h.err); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := r.DestinationEvents(ctx, dest.ID, 10)
		if err != nil || len(evs) != 2 {
			t.Fatalf("events: %+v, %v; want down and up", evs, err)
		}
		if states := evs[0].Health + evs[1].Health; states != "updown" && states != "downup" {
			t.Errorf("events: %+v", evs)
		}
		for _, e := range evs {
			if e.Health == HealthDown && e.Error != "connection refused" {
				t.Errorf("the down event holds %q, want the error that took it down", e.Error)
			}
		}

		// Routes.
		rin := RouteInput{Name: "cars-pg", Dataset: "cars", Destination: dest.ID, Table: "cars", KeyColumns: []string{"id"},
			Mapping: []ColumnMap{{Column: "id", Field: "id"}, {Column: "name", Field: "car_name"}}, Filter: `stock > 0`}
		rt, err := r.CreateRoute(ctx, rin)
		if err != nil || !rt.Enabled || rt.Mode != ModeUpsert {
			t.Fatalf("CreateRoute: %+v, %v", rt, err)
		}
		if _, err := r.CreateRoute(ctx, rin); !errors.Is(err, ErrNameTaken) {
			t.Errorf("duplicate route: %v", err)
		}
		bad2 := rin
		bad2.Name, bad2.Dataset, bad2.Destination = "r2", "bikes", "nope"
		if f := fieldsOf(func() error { _, err := r.CreateRoute(ctx, bad2); return err }()); len(f) != 2 {
			t.Errorf("route refs: %v", f)
		}
		off := false
		rin.Enabled, rin.Filter = &off, ""
		if got, err := r.UpdateRoute(ctx, rt.ID, rin); err != nil || got.Enabled || got.Filter != "" {
			t.Errorf("UpdateRoute: %+v, %v", got, err)
		}
		if got, err := r.Route(ctx, rt.ID); err != nil || got.Mapping[1].Field != "car_name" || got.Enabled {
			t.Errorf("Route: %+v, %v", got, err)
		}
		if err := r.DeleteDestination(ctx, dest.ID); !errors.Is(err, ErrInUse) {
			t.Errorf("delete used destination: %v", err)
		}
		if err := r.DeleteRoute(ctx, rt.ID); err != nil {
			t.Fatal(err)
		}
		if err := r.DeleteRoute(ctx, rt.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete twice: %v", err)
		}
		if err := r.DeleteDestination(ctx, dest.ID); err != nil {
			t.Error(err)
		}
		if err := r.DeleteApplication(ctx, app.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := as.VerifyAPIKey(ctx, key2); err == nil {
			t.Error("key works after the application was deleted")
		}
		if err := r.DeleteDataset(ctx, "cars"); err != nil {
			t.Error(err)
		}
	})
}

func TestDatasetTopicCreated(t *testing.T) {
	ctx := context.Background()
	b, err := embedded.New(ctx, embedded.Config{Dir: t.TempDir(), RetentionInterval: -1,
		Options: stream.Options{Strict: true, Logger: discardLogger()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	r, _ := newRelay(t, store.Config{Dir: t.TempDir()}, b, nil, func(c *Config) { c.Partitions = 3 })
	if _, err := r.CreateDataset(ctx, Dataset{Name: "cars", KeyFields: []string{"id"}}); err != nil {
		t.Fatal(err)
	}
	info, err := b.DescribeTopic(ctx, "relay.cars")
	if err != nil || info.Partitions != 3 {
		t.Fatalf("topic: %+v, %v", info, err)
	}
	// An existing topic is fine.
	if _, err := r.UpdateDataset(ctx, "cars", Dataset{KeyFields: []string{"id"}, Topic: "relay.cars"}); err != nil {
		t.Fatal(err)
	}
}

func TestIdempotencyStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		r, _ := newRelay(t, base, nopProducer{}, nil)
		if _, _, _, found, err := r.idempotent(ctx, "app:1", "k"); found || err != nil {
			t.Fatalf("empty store: found %v, %v", found, err)
		}
		r.remember(ctx, "app:1", "k", "h1", 202, `{"ids":["a"]}`)
		r.remember(ctx, "app:1", "k", "h2", 202, `{"ids":["b"]}`) // replaces
		status, resp, hash, found, err := r.idempotent(ctx, "app:1", "k")
		if err != nil || !found || status != 202 || resp != `{"ids":["b"]}` || hash != "h2" {
			t.Errorf("got %d %q %q %v %v", status, resp, hash, found, err)
		}
		if _, _, _, found, _ := r.idempotent(ctx, "app:2", "k"); found {
			t.Error("another caller sees the key")
		}
		r.cfg.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
		if _, _, _, found, _ := r.idempotent(ctx, "app:1", "k"); found {
			t.Error("expired key found")
		}
		if err := r.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		var n int
		_ = r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM relay_idempotency`).Scan(&n)
		if n != 0 {
			t.Errorf("%d rows after cleanup", n)
		}
	})
}
