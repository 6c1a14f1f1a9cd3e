package relay

import (
	"context"
	"strings"
	"testing"

	"github.com/arus-platform/arus/store"
)

// A JSON column that is not what the relay wrote is an error where it is
// read, never an empty value: a route must not lose its mapping silently.
func TestCorruptStoredValuesAreErrors(t *testing.T) {
	ctx := context.Background()
	r, _ := newRelay(t, store.Config{Dir: t.TempDir()}, nopProducer{}, nil, func(c *Config) { c.SQLiteDir = t.TempDir() })
	if _, err := r.CreateDataset(ctx, Dataset{Name: "cars", KeyFields: []string{"id"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.CreateApplication(ctx, NewApplication{Name: "shop", Datasets: []string{"cars"}}); err != nil {
		t.Fatal(err)
	}
	d, err := r.CreateDestination(ctx, DestinationInput{Name: "lite", Kind: KindSQLite, Database: "lite.db", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := r.CreateRoute(ctx, RouteInput{Name: "cars-lite", Dataset: "cars", Destination: d.ID, Table: "cars",
		KeyColumns: []string{"id"}, Mapping: []ColumnMap{{Column: "id", Field: "id"}}})
	if err != nil {
		t.Fatal(err)
	}
	corrupt := []struct {
		name, update string
		read         func() error
	}{
		{"route mapping", `UPDATE relay_routes SET mapping = '[{"column": "id", "fie'`, func() error { _, err := r.Route(ctx, rt.ID); return err }},
		{"route mapping, listed", `UPDATE relay_routes SET mapping = 'not json'`, func() error { _, err := r.Routes(ctx); return err }},
		{"route key columns", `UPDATE relay_routes SET key_columns = '{', mapping = '[]'`, func() error { _, err := r.Route(ctx, rt.ID); return err }},
		{"dataset key fields", `UPDATE relay_datasets SET key_fields = '["id"'`, func() error { _, err := r.Dataset(ctx, "cars"); return err }},
		{"application datasets", `UPDATE relay_applications SET datasets = 'cars'`, func() error { _, err := r.Applications(ctx); return err }},
		{"destination options", `UPDATE relay_destinations SET options = '{"a":'`, func() error { _, err := r.Destination(ctx, d.ID); return err }},
	}
	for _, c := range corrupt {
		t.Run(c.name, func(t *testing.T) {
			if _, err := r.db.ExecContext(ctx, c.update); err != nil {
				t.Fatal(err)
			}
			if err := c.read(); err == nil || !strings.Contains(err.Error(), "is corrupt") {
				t.Errorf("read of a corrupt %s: %v, want an error saying so", c.name, err)
			}
		})
	}
}

// When an application cannot be stored, the API key made for it is
// revoked; when that fails too, the caller is told, not left with a key
// nobody knows of.
func TestFailedCompensatingRevokeIsReported(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, as := newRelay(t, store.Config{Dir: dir}, nopProducer{}, nil)
	if _, err := r.CreateDataset(ctx, Dataset{Name: "cars", KeyFields: []string{"id"}}); err != nil {
		t.Fatal(err)
	}
	_, err := r.db.ExecContext(ctx, `CREATE TRIGGER refuse_apps BEFORE INSERT ON relay_applications
		BEGIN SELECT RAISE(ABORT, 'applications refused'); END`)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.CreateApplication(ctx, NewApplication{Name: "shop", Datasets: []string{"cars"}})
	if err == nil || strings.Contains(err.Error(), "revoke") {
		t.Fatalf("a refused application with a working revoke: %v", err)
	}
	keys, _ := as.ListAPIKeys(ctx, "")
	for _, k := range keys {
		if !k.RevokedAt.IsZero() || k.Name != "relay application shop" {
			continue
		}
		t.Errorf("key %s of the refused application is still valid", k.ID)
	}
	authDB, err := store.Open(ctx, store.Config{Dir: dir, Component: "auth"})
	if err != nil {
		t.Fatal(err)
	}
	defer authDB.Close()
	if _, err := authDB.ExecContext(ctx, `CREATE TRIGGER refuse_revoke BEFORE UPDATE ON auth_api_keys
		BEGIN SELECT RAISE(ABORT, 'revoke refused'); END`); err != nil {
		t.Fatal(err)
	}
	_, _, err = r.CreateApplication(ctx, NewApplication{Name: "shop2", Datasets: []string{"cars"}})
	if err == nil || !strings.Contains(err.Error(), "revoke key") || !strings.Contains(err.Error(), "revoke refused") {
		t.Errorf("a refused application whose key cannot be revoked: %v, want both failures", err)
	}
}
