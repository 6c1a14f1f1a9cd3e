package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/relay"
)

func TestRelayPages(t *testing.T) {
	ctx := context.Background()
	f := newRelayFixture(t)
	if _, err := f.rl.CreateDataset(ctx, relay.Dataset{Name: "cars", KeyFields: []string{"id"}}); err != nil {
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
