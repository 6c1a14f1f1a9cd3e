package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
)

// BenchmarkUsersPage renders the users page, and a search on it, with
// 10,000 users in the store: server time per page, without the network.
func BenchmarkUsersPage(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	for i := 0; i < 10000; i++ {
		if _, err := f.auth.CreateUser(ctx, auth.NewUser{Username: fmt.Sprintf("user%05d", i), Name: fmt.Sprintf("User %d", i),
			Email: fmt.Sprintf("user%05d@example.com", i), Roles: []auth.Role{auth.RoleViewer}}); err != nil {
			b.Fatal(err)
		}
	}
	admin, _ := f.auth.UserByUsername(ctx, "admin")
	_, token, err := f.auth.CreateSession(ctx, admin.ID, auth.SessionMeta{})
	if err != nil {
		b.Fatal(err)
	}
	// The cursor of a page half way through.
	var q auth.UserQuery
	for i := 0; i < 10; i++ {
		page, err := f.auth.ListUsers(ctx, auth.UserQuery{After: q.After, Limit: 500})
		if err != nil {
			b.Fatal(err)
		}
		q.After = page.Next
	}
	h := f.srv.Config.Handler
	for _, path := range []string{"/users", "/users?after=" + url.QueryEscape(q.After), "/users?q=user0999"} {
		b.Run(path, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", path, nil)
				req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: token})
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("GET %s: %d", path, rec.Code)
				}
				b.SetBytes(int64(rec.Body.Len()))
			}
		})
	}
}
