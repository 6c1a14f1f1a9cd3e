package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/store"
)

func TestAuditPage(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "audit"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log, err := audit.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Record(ctx, audit.Entry{Actor: "olga", Method: "POST", Path: "/groups/billing/reset", Route: "POST /groups/{group}/reset", Status: 303, IP: "10.1.2.3", RequestID: "req-1", Summary: "reset group billing on orders to earliest"}); err != nil {
		t.Fatal(err)
	}
	f := newFixtureWithConfig(t, func(c *Config) { c.Audit = log })
	br := f.browser()
	br.login("admin", adminPassword)
	resp, body := br.get("/audit")
	wantStatus(t, "audit page", resp, http.StatusOK)
	if !strings.Contains(body, "POST /groups/billing/reset") || !strings.Contains(body, ">olga</a>") || !strings.Contains(body, "reset group billing on orders to earliest") {
		t.Errorf("audit page lacks the recorded change")
	}
	resp, _ = br.get("/audit?before=x")
	wantStatus(t, "bad cursor", resp, http.StatusBadRequest)
}
