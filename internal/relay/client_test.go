package relay

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/arus-platform/arus/internal/api"
)

// The client speaks the admin API: its answers are the relay's types, and
// problems keep their field errors and match the relay's sentinels.
func TestClient(t *testing.T) {
	e := newIngestEnv(t)
	ctx := context.Background()
	c, err := NewClient(e.url, e.admin)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.CreateDataset(ctx, DatasetInput{Name: "trucks", KeyFields: []string{"vin"}})
	if err != nil || ds.Topic != "relay.trucks" {
		t.Fatalf("CreateDataset: %+v, %v", ds, err)
	}
	app, err := c.CreateApplication(ctx, NewApplication{Name: "fleet", Datasets: []string{"trucks"}})
	if err != nil || app.APIKey == "" || app.ID == "" {
		t.Fatalf("CreateApplication: %+v, %v", app, err)
	}
	rotated, err := c.RotateApplicationKey(ctx, app.ID)
	if err != nil || rotated.APIKey == "" || rotated.APIKey == app.APIKey {
		t.Errorf("RotateApplicationKey: %+v, %v; want a new key", rotated, err)
	}
	dest, err := c.CreateDestination(ctx, DestinationInput{Name: "pg", Kind: KindPostgres, Host: "db", Database: "shop", User: "relay", Password: "secret"})
	if err != nil {
		t.Fatalf("CreateDestination: %v", err)
	}
	if res, err := c.TestDestination(ctx, DestinationInput{Name: "new", Kind: KindPostgres, Host: "down.invalid", Database: "d", User: "u", Password: "pw"}); err != nil || res.OK || res.Error == "" {
		t.Errorf("TestDestination of an unreachable host: %+v, %v; want a failed result", res, err)
	}
	if res, err := c.TestSavedDestination(ctx, dest.ID, nil); err != nil || !res.OK {
		t.Errorf("TestSavedDestination: %+v, %v", res, err)
	}
	changed := DestinationInput{Name: "pg", Kind: KindPostgres, Host: "down.invalid", Database: "shop", User: "relay"}
	if _, err := c.TestSavedDestination(ctx, dest.ID, &changed); !errors.Is(err, ErrInvalid) {
		t.Errorf("TestSavedDestination with another host and no password: %v, want ErrInvalid", err)
	}
	changed.Password = "pw"
	if res, err := c.TestSavedDestination(ctx, dest.ID, &changed); err != nil || res.OK {
		t.Errorf("TestSavedDestination with changed settings: %+v, %v; want a failed result", res, err)
	}
	if _, err := c.DestinationEvents(ctx, dest.ID); err != nil {
		t.Errorf("DestinationEvents: %v", err)
	}
	if _, err := c.DestinationEvents(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DestinationEvents of an unknown destination: got %v, want ErrNotFound", err)
	}
	if tables, err := c.Catalog(ctx, dest.ID); err != nil || len(tables) == 0 {
		t.Errorf("Catalog: %+v, %v", tables, err)
	}
	in := RouteInput{Name: "trucks-pg", Dataset: "trucks", Destination: dest.ID, Table: "trucks", KeyColumns: []string{"vin"},
		Mapping: []ColumnMap{{Column: "vin", Field: "vin"}}}
	rt, err := c.CreateRoute(ctx, in)
	if err != nil || rt.Mode != ModeUpsert || !rt.Enabled {
		t.Fatalf("CreateRoute: %+v, %v", rt, err)
	}
	p, err := c.PreviewSavedRoute(ctx, rt.ID, "", json.RawMessage(`{"vin":"X1","km":3}`))
	if err != nil || !p.Keep || p.Row["vin"] != "X1" || len(p.Row) != 1 {
		t.Errorf("PreviewSavedRoute: %+v, %v", p, err)
	}
	if p, err := c.PreviewRoute(ctx, in, "delete", json.RawMessage(`{"vin":"X1"}`)); err != nil || p.Keep {
		t.Errorf("PreviewRoute of a delete on a route without deletes: %+v, %v; want it dropped", p, err)
	}
	if rs, err := c.Routes(ctx); err != nil || len(rs) != 1 || rs[0].ID != rt.ID {
		t.Errorf("Routes: %+v, %v", rs, err)
	}

	_, err = c.CreateDestination(ctx, DestinationInput{Name: "Bad Name", Kind: "oracle"})
	var re *api.ResponseError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &re) || len(re.Problem.Errors) < 2 {
		t.Errorf("invalid destination: got %v, want ErrInvalid with field errors", err)
	}
	if _, err := c.Dataset(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown dataset: got %v, want ErrNotFound", err)
	}
	if _, err := c.Route(ctx, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty route id: got %v, want ErrNotFound", err)
	}
	if _, err := c.CreateDataset(ctx, DatasetInput{Name: "trucks", KeyFields: []string{"vin"}}); !errors.Is(err, ErrNameTaken) {
		t.Errorf("dataset name taken: got %v, want ErrNameTaken", err)
	}
	if err := c.DeleteDataset(ctx, "trucks"); !errors.Is(err, ErrInUse) {
		t.Errorf("deleting a dataset in use: got %v, want ErrInUse", err)
	}
	if err := c.DeleteRoute(ctx, rt.ID); err != nil {
		t.Errorf("DeleteRoute: %v", err)
	}
}
