package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

// A record produced from the console passes the same four gates as every
// change: the role, the form's CSRF token, a confirmation step, and the
// audit log. The overview reads handler figures from the process's
// registry.
func TestConsoleProduceIsConfirmedAndAudited(t *testing.T) {
	r := start(t, Config{AdminPassword: "a configured password"})
	ctx := context.Background()
	if err := r.broker.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	admin, err := r.auth.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	sess, token, err := r.auth.CreateSession(ctx, admin.ID, auth.SessionMeta{})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, r.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: token})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	form := url.Values{"csrf_token": {sess.CSRFToken}, "key": {"k"}, "value": {"v"}}
	if status, body := send("POST", "/topics/orders/messages", form); status != http.StatusOK || !strings.Contains(body, "Produce now") {
		t.Errorf("unconfirmed produce: status %d, want 200 with a review", status)
	}
	form.Set("confirmed", "yes")
	form.Set("csrf_token", "forged")
	if status, _ := send("POST", "/topics/orders/messages", form); status != http.StatusForbidden {
		t.Errorf("produce with a forged CSRF token: status %d, want 403", status)
	}
	form.Set("csrf_token", sess.CSRFToken)
	if status, _ := send("POST", "/topics/orders/messages", form); status != http.StatusSeeOther {
		t.Errorf("confirmed produce: status %d, want 303", status)
	}
	if info, _ := r.broker.DescribeTopic(ctx, "orders"); info.Records() != 1 {
		t.Errorf("orders holds %d records, want 1", info.Records())
	}
	page, err := r.auditLog.List(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Entries {
		got = append(got, fmt.Sprintf("%s %s %d %s", e.Method, e.Path, e.Status, e.Actor))
	}
	for _, want := range []string{"POST /topics/orders/messages 303 admin", "POST /topics/orders/messages 403 admin"} {
		if !strings.Contains(strings.Join(got, "|"), want) {
			t.Errorf("audit log %q lacks %q", got, want)
		}
	}

	if status, body := send("GET", "/overview", nil); status != http.StatusOK || !strings.Contains(body, "Handler latency p99") || strings.Contains(body, "not available") {
		t.Errorf("overview: status %d; want the handler charts read from the registry", status)
	}
}
