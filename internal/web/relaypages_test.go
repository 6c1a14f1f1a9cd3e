package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/secret"
	"github.com/arus-platform/arus/internal/store"
)

func TestRelayPages(t *testing.T) {
	ctx := context.Background()
	_, b := newStreamsFixture(t)
	var rl *relay.Relay
	f := newFixtureWithConfig(t, func(c *Config) {
		db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "relay"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		box, _ := secret.New(make([]byte, secret.KeySize))
		if rl, err = relay.New(ctx, relay.Config{DB: db, Auth: c.Auth, Secrets: box, Producer: b, Logger: c.Logger}); err != nil {
			t.Fatal(err)
		}
		c.Relay = rl
	})
	if _, err := rl.CreateDataset(ctx, relay.Dataset{Name: "cars", KeyFields: []string{"id"}}); err != nil {
		t.Fatal(err)
	}
	br := f.browser()
	br.login("admin", adminPassword)
	for path, want := range map[string]string{
		"/relay/datasets":     ">relay.cars</a>",
		"/relay/applications": "No applications yet",
		"/relay/destinations": "No destinations yet",
		"/relay/routes":       "No routes yet",
	} {
		resp, body := br.get(path)
		wantStatus(t, path, resp, http.StatusOK)
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %q", path, want)
		}
	}
}
