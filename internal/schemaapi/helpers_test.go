package schemaapi_test

import (
	"context"
	"testing"

	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// sqliteRegistry opens a registry on SQLite in a temporary directory.
func sqliteRegistry(t *testing.T, cfg schema.Config) *schema.Registry {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "schema"})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	r, err := schema.Open(ctx, db, cfg)
	if err != nil {
		t.Fatalf("schema.Open: %v", err)
	}
	return r
}

func mustRegister(t *testing.T, r *schema.Registry, subject, doc string) schema.Version {
	t.Helper()
	v, _, err := r.Register(context.Background(), subject, []byte(doc))
	if err != nil {
		t.Fatalf("Register(%s, %s): %v", subject, doc, err)
	}
	return v
}

const (
	v1 = `{"type":"object","properties":{"id":{"type":"string"},"total":{"type":"number"}},"required":["id"]}`
	// v2 drops a required property: backward compatible.
	v2 = `{"type":"object","properties":{"id":{"type":"string"},"total":{"type":"number"}}}`
	// v3 changes total's type: incompatible both ways.
	v3 = `{"type":"object","properties":{"id":{"type":"string"},"total":{"type":"string"}}}`

	orderSchema = `{"type":"object","properties":{"id":{"type":"string","minLength":1},"total":{"type":"number"}},"required":["id","total"]}`
)

// recorder is a stream.Producer that keeps what it is given.
type recorder struct{ records []*stream.Record }

func (p *recorder) Produce(_ context.Context, records ...*stream.Record) error {
	p.records = append(p.records, records...)
	return nil
}
