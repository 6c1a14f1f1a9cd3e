package schemaapi_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/stream"
)

func TestClient(t *testing.T) {
	ctx := context.Background()
	c, err := schema.NewClient(server(t, sqliteRegistry(t, schema.Config{})), writeKey)
	if err != nil {
		t.Fatal(err)
	}
	one, created, err := c.Register(ctx, "orders-value", []byte(v1))
	if err != nil || !created || one.Version != 1 {
		t.Fatalf("register: got %+v %v %v", one, created, err)
	}
	if _, created, err := c.Register(ctx, "orders-value", []byte(v1)); err != nil || created {
		t.Fatalf("register again: got created %v, %v", created, err)
	}
	_, _, err = c.Register(ctx, "orders-value", []byte(v3))
	var ce *schema.ClientError
	if !errors.Is(err, schema.ErrIncompatible) || !errors.As(err, &ce) || len(ce.Reasons()) != 1 {
		t.Fatalf("incompatible: got %v, want ErrIncompatible with one reason", err)
	}
	if _, _, err := c.Register(ctx, "orders-value", []byte(`{"type":"nope"}`)); !errors.Is(err, schema.ErrInvalidSchema) {
		t.Errorf("invalid schema: got %v, want ErrInvalidSchema", err)
	}
	if _, _, err := c.Register(ctx, "bad subject", []byte(`{}`)); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("bad subject: got %v, want ErrInvalid", err)
	}
	check, err := c.Check(ctx, "orders-value", []byte(v3))
	if err != nil || check.Compatible || len(check.Problems) != 1 || check.Problems[0].Rule != "type" {
		t.Errorf("check: got %+v, %v", check, err)
	}
	if v, err := c.Version(ctx, "orders-value", schema.Latest); err != nil || v.ID != one.ID || string(v.Schema) != v1 {
		t.Errorf("latest: got %+v, %v", v, err)
	}
	if _, err := c.Version(ctx, "orders-value", 5); !errors.Is(err, schema.ErrNotFound) {
		t.Errorf("missing version: got %v, want ErrNotFound", err)
	}
	if v, err := c.ByID(ctx, one.ID); err != nil || v.Subject != "orders-value" {
		t.Errorf("by id: got %+v, %v", v, err)
	}
	if subjects, err := c.Subjects(ctx, false); err != nil || len(subjects) != 1 || subjects[0].Latest != 1 {
		t.Errorf("subjects: got %+v, %v", subjects, err)
	}
	if versions, err := c.Versions(ctx, "orders-value", false); err != nil || len(versions) != 1 {
		t.Errorf("versions: got %+v, %v", versions, err)
	}
	if err := c.SetMode(ctx, "orders-value", schema.ModeNone); err != nil {
		t.Fatal(err)
	}
	if m, set, err := c.Mode(ctx, "orders-value"); err != nil || m != schema.ModeNone || !set {
		t.Errorf("mode: got %s %v %v", m, set, err)
	}
	if err := c.SetMode(ctx, "orders-value", ""); err != nil {
		t.Fatal(err)
	}
	if m, set, err := c.Mode(ctx, "orders-value"); err != nil || m != schema.ModeBackward || set {
		t.Errorf("mode after clearing: got %s %v %v", m, set, err)
	}
	if err := c.SetDefaultMode(ctx, schema.ModeFull); err != nil {
		t.Fatal(err)
	}
	if m, err := c.DefaultMode(ctx); err != nil || m != schema.ModeFull {
		t.Errorf("default mode: got %s %v", m, err)
	}
	if v, err := c.DeleteVersion(ctx, "orders-value", schema.Latest); err != nil || !v.Deleted || v.Version != 1 {
		t.Errorf("delete version: got %+v, %v", v, err)
	}
	if _, _, err := c.Register(ctx, "orders-value", []byte(v2)); err != nil {
		t.Fatal(err)
	}
	if nums, err := c.DeleteSubject(ctx, "orders-value"); err != nil || !slices.Equal(nums, []int{2}) {
		t.Errorf("delete subject: got %v, %v", nums, err)
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	base := server(t, sqliteRegistry(t, schema.Config{}))
	if _, err := schema.NewClient("ftp://x", ""); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("bad URL: got %v, want ErrInvalid", err)
	}
	anon, _ := schema.NewClient(base, "")
	_, err := anon.Subjects(ctx, false)
	var ce *schema.ClientError
	if !errors.As(err, &ce) || ce.Status != 401 {
		t.Errorf("without a key: got %v, want a 401 ClientError", err)
	}
	down, _ := schema.NewClient("127.0.0.1:1", "")
	if _, err := down.Subjects(ctx, false); err == nil || errors.As(err, &ce) {
		t.Errorf("no server: got %v, want a transport error", err)
	}
}

// TestClientSource validates records against a server's registry.
func TestClientSource(t *testing.T) {
	ctx := context.Background()
	r := sqliteRegistry(t, schema.Config{})
	want := mustRegister(t, r, "orders-value", orderSchema)
	c, _ := schema.NewClient(server(t, r), readKey)
	v, err := schema.NewValidator(c, schema.ValidatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	next := &recorder{}
	p, _ := schema.NewProducer(next, v, schema.ProducerConfig{})
	if err := p.Produce(ctx, &stream.Record{Topic: "orders", Value: []byte(`{"id":"o1","total":3}`)}); err != nil {
		t.Fatal(err)
	}
	if h, _ := next.records[0].Header(schema.HeaderSchemaID); string(h) != "1" || want.ID != 1 {
		t.Errorf("header: got %q, want 1", h)
	}
	if err := p.Produce(ctx, &stream.Record{Topic: "orders", Value: []byte(`{"id":"o1"}`)}); !errors.Is(err, schema.ErrInvalidValue) {
		t.Errorf("invalid value: got %v, want ErrInvalidValue", err)
	}
	// A topic with no subject on the server passes unvalidated.
	if err := p.Produce(ctx, &stream.Record{Topic: "logs", Value: []byte(`x`)}); err != nil {
		t.Errorf("topic without schema: %v", err)
	}
}
