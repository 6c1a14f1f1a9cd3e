package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
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
	benchPages(b, f.srv.Config.Handler, token, "/users", "/users?after="+url.QueryEscape(q.After), "/users?q=user0999")
}

// benchPages renders each page b.N times as the session token's user, in
// a sub-benchmark of its own, and counts the bytes served.
func benchPages(b *testing.B, h http.Handler, token string, paths ...string) {
	for _, path := range paths {
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

// BenchmarkMessagesFirstPage renders the first page of the message browser
// on a topic of one million records: the browser reads a bounded window,
// so the size of the topic must not matter.
func BenchmarkMessagesFirstPage(b *testing.B) {
	f, br := newStreamsFixtureTB(b)
	ctx := context.Background()
	if err := br.CreateTopic(ctx, stream.Topic{Name: "big", Partitions: 4}); err != nil {
		b.Fatal(err)
	}
	value := []byte(`{"id":12345,"car_name":"Avanza","stock":7,"price":235000000,"category":"mpv","type":"1.5 G"}`)
	for i := 0; i < 1000; i++ {
		recs := make([]*stream.Record, 1000)
		for j := range recs {
			recs[j] = &stream.Record{Topic: "big", Key: []byte(strconv.Itoa(i*1000 + j)), Value: value}
		}
		if err := br.Produce(ctx, recs...); err != nil {
			b.Fatal(err)
		}
	}
	admin, _ := f.auth.UserByUsername(ctx, "admin")
	_, token, err := f.auth.CreateSession(ctx, admin.ID, auth.SessionMeta{})
	if err != nil {
		b.Fatal(err)
	}
	benchPages(b, f.srv.Config.Handler, token, "/topics/big/messages", "/topics/big/messages?q=nothing-matches")
}
