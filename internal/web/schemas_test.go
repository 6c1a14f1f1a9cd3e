package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
)

func TestSchemaPages(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "schema"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg, err := schema.Open(ctx, db, schema.Config{})
	if err != nil {
		t.Fatal(err)
	}
	v1 := `{"type":"object","properties":{"id":{"type":"integer"},"total":{"type":"number"}},"required":["id"]}`
	if _, _, err := reg.Register(ctx, "orders-value", []byte(v1)); err != nil {
		t.Fatal(err)
	}
	f := newFixtureWithConfig(t, func(c *Config) { c.Schemas = reg })
	br := f.browser()
	csrf := br.login("admin", adminPassword)
	_, body := br.get("/schemas")
	if !strings.Contains(body, ">orders-value</a>") {
		t.Fatalf("schemas page lacks orders-value")
	}
	// A new required field without a default breaks BACKWARD.
	bad := `{"type":"object","properties":{"id":{"type":"integer"},"total":{"type":"number"},"currency":{"type":"string"}},"required":["id","currency"]}`
	resp, body := br.post("/schemas/orders-value", url.Values{"csrf_token": {csrf}, "schema": {bad}, "register": {"yes"}})
	wantStatus(t, "register an incompatible version", resp, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "Not compatible under BACKWARD") || !strings.Contains(body, "currency") {
		t.Errorf("incompatibility not explained:\n%s", body)
	}
	if vs, _ := reg.Versions(ctx, "orders-value", false); len(vs) != 1 {
		t.Errorf("an incompatible version was registered")
	}
	resp, _ = br.post("/schemas/orders-value", url.Values{"csrf_token": {csrf}, "schema": {`{"type": 12}`}})
	wantStatus(t, "an invalid schema", resp, http.StatusUnprocessableEntity)

	// Dropping a requirement is backward compatible.
	good := `{"type":"object","properties":{"id":{"type":"integer"},"total":{"type":"number"}}}`
	resp, _ = br.post("/schemas/orders-value", url.Values{"csrf_token": {csrf}, "schema": {good}, "register": {"yes"}})
	wantStatus(t, "register a compatible version", resp, http.StatusSeeOther)
	_, body = br.get("/schemas/orders-value?v=2&base=1")
	if !strings.Contains(body, `<span class="ddel">-   &#34;required&#34;: [</span>`) {
		t.Errorf("diff of versions 1 and 2 does not show the dropped requirement:\n%s", body)
	}
	resp, _ = br.get("/schemas/nope-value")
	wantStatus(t, "unknown subject", resp, http.StatusNotFound)
}
