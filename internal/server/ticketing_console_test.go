package server

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
)

// arus serve gives the console the ticketing, payment and gate services
// it runs: their pages answer; a service not run hides its page.
func TestConsoleTicketingPagesFollowTheComponents(t *testing.T) {
	for _, tc := range []struct {
		name       string
		components []string
		want       map[string]int
	}{
		{"all", nil, map[string]int{"/ticketing": 200, "/ticketing/events": 200, "/ticketing/counter": 200, "/ticketing/gates": 200}},
		{"without payment and gate", slices.DeleteFunc(slices.Clone(Components), func(c string) bool { return c == "payment" || c == "gate" }),
			map[string]int{"/ticketing": 200, "/ticketing/counter": 404, "/ticketing/gates": 404}},
		{"without ticketing", slices.DeleteFunc(slices.Clone(Components), func(c string) bool { return c == "ticketing" }),
			map[string]int{"/ticketing": 404, "/ticketing/events": 404}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := start(t, Config{AdminPassword: "a configured password", Components: tc.components})
			ctx := context.Background()
			admin, err := r.auth.UserByUsername(ctx, "admin")
			if err != nil {
				t.Fatal(err)
			}
			_, token, err := r.auth.CreateSession(ctx, admin.ID, auth.SessionMeta{})
			if err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.want {
				req, _ := http.NewRequest("GET", r.url+path, nil)
				req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: token})
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("GET %s: status %d, want %d", path, resp.StatusCode, want)
				}
			}
		})
	}
}
