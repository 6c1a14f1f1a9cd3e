package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/auth"
)

// TestMaskingEverywhereRecordsAreShown sets a masking policy on a topic and
// reads its records, and its dead letters, through every route that shows
// them, as every kind of reader: those without records.unmask on the topic
// see the masked fields masked, the others see them whole; a search in
// the console cannot find what the reader cannot see.
func TestMaskingEverywhereRecordsAreShown(t *testing.T) {
	r := start(t, Config{AdminPassword: "a configured password"})
	ctx := context.Background()
	admin := r.key(t, permsAll("")...)
	const card, email = "4111111111114242", "ann@example.com"
	value := `{"email":"` + email + `","card":{"number":"` + card + `"},"amount":150000}`
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/topics", `{"name":"orders","partitions":1}`},
		{"PUT", "/api/v1/masking/orders", `{"fields":[{"path":"card.number","mode":"partial"},{"path":"email","mode":"hide"},{"path":"@header.phone","mode":"hide"},{"path":"@key","mode":"partial"}]}`},
		{"POST", "/api/v1/topics/orders/records", `{"records":[{"key":"customer-7788","value":` + strconv.Quote(value) + `,"headers":{"phone":"+62811000"}}]}`},
	} {
		if rep := r.call(t, c.method, c.path, admin, c.body); rep.status >= 300 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, rep.status, rep.body)
		}
	}
	recs, err := r.broker.Read(ctx, "orders", 0, 0, 1)
	if err != nil || len(recs) != 1 {
		t.Fatalf("read back: %v %d", err, len(recs))
	}
	if err := r.broker.Produce(ctx, consume.DeadLetterRecord(recs[0], "billing", errors.New("card declined"), time.Now())); err != nil {
		t.Fatal(err)
	}
	letters, err := r.dlq.Records(ctx, "orders.billing.dlq", dlq.Filter{})
	if err != nil || len(letters) != 1 {
		t.Fatalf("dead letters: %v %d", err, len(letters))
	}
	letterPath := "/api/v1/dlq/orders.billing.dlq/records/" + letters[0].Position.String()
	if string(recs[0].Value) != value {
		t.Fatalf("the stored record was changed: %s", recs[0].Value)
	}

	masked := func(body string) bool {
		return !strings.Contains(body, card) && !strings.Contains(body, email) && !strings.Contains(body, "+62811000") &&
			!strings.Contains(body, "customer-7788") && strings.Contains(body, "4242") && strings.Contains(body, "7788")
	}
	whole := func(body string) bool {
		return strings.Contains(body, card) && strings.Contains(body, email) && strings.Contains(body, "+62811000") && strings.Contains(body, "customer-7788")
	}
	readers := []struct {
		name   string
		scopes []string
		unmask bool
	}{
		{"reader", nil, false},
		{"unmask on another topic", []string{"records.unmask:payments"}, false},
		{"unmask on the topic", []string{"records.unmask:orders"}, true},
		{"unmask everywhere", []string{"records.unmask"}, true},
	}
	group := 0
	for _, rd := range readers {
		key := r.key(t, append([]string{"records.read", "dlq.read", "groups.reset"}, rd.scopes...)...)
		group++
		gname := "masking-" + string(rune('a'+group))
		for _, path := range []string{
			"/api/v1/topics/orders/partitions/0/records",
			"/api/v1/dlq/orders.billing.dlq/records",
			letterPath,
		} {
			rep := r.call(t, "GET", path, key, "")
			if rep.status != 200 {
				t.Fatalf("%s: GET %s: %d %s", rd.name, path, rep.status, rep.body)
			}
			if ok := map[bool]func(string) bool{true: whole, false: masked}[rd.unmask](rep.body); !ok {
				t.Errorf("%s: GET %s shows %s, want it %s", rd.name, path, rep.body, map[bool]string{true: "whole", false: "masked"}[rd.unmask])
			}
		}
		rep := r.call(t, "POST", "/api/v1/groups/"+gname+"/consume?topic=orders&max=1&idle=2s", key, "")
		if rep.status != 200 || !strings.Contains(rep.body, "4242") {
			t.Fatalf("%s: consume: %d %s", rd.name, rep.status, rep.body)
		}
		if ok := map[bool]func(string) bool{true: whole, false: masked}[rd.unmask](rep.body); !ok {
			t.Errorf("%s: consume shows %s", rd.name, rep.body)
		}
	}

	// The console, as a viewer and as an admin.
	for _, u := range []struct {
		role   auth.Role
		unmask bool
	}{{auth.RoleViewer, false}, {auth.RoleOperator, false}, {auth.RoleAdmin, true}} {
		user, err := r.auth.CreateUser(ctx, auth.NewUser{Username: "u-" + string(u.role), Password: "a long passphrase 1", Roles: []auth.Role{u.role}})
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := r.auth.CreateSession(ctx, user.ID, auth.SessionMeta{})
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) string {
			req, _ := http.NewRequest("GET", r.url+path, nil)
			req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: token})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: GET %s: %d", u.role, path, resp.StatusCode)
			}
			return string(b)
		}
		for _, path := range []string{"/topics/orders/messages?partition=0&offset=0&order=oldest", "/dlq/orders.billing.dlq"} {
			body := get(path)
			if shown := strings.Contains(body, "customer-7788"); shown != u.unmask {
				t.Errorf("%s: %s shows the key whole: %v, want %v", u.role, path, shown, u.unmask)
			}
			if strings.Contains(path, "/messages") && (strings.Contains(body, card) != u.unmask || !u.unmask && strings.Contains(body, email)) {
				t.Errorf("%s: %s shows the card %v, want %v", u.role, path, strings.Contains(body, card), u.unmask)
			}
		}
		search := get("/topics/orders/messages?partition=0&offset=0&order=oldest&q=" + url.QueryEscape("41111111"))
		if found := strings.Contains(search, "4242"); found != u.unmask {
			t.Errorf("%s: searching for the card's digits found the record: %v, want %v", u.role, found, u.unmask)
		}
	}
}

// TestMaskingPoliciesAreTheAdminsAndChecked: only masking.write changes a
// policy (an operator who may delete topics may not unmask by removing
// one); bad policies get 422 naming each field.
func TestMaskingPoliciesAreTheAdminsAndChecked(t *testing.T) {
	r := start(t, Config{})
	admin := r.key(t, permsAll("")...)
	body := `{"fields":[{"path":"email","mode":"hide"}]}`
	for _, c := range []struct {
		scopes []string
		status int
	}{
		{[]string{"topics.write", "topics.read", "records.read"}, 403},
		{[]string{"masking.write:payments"}, 403},
		{[]string{"masking.write:orders"}, 200},
	} {
		if rep := r.call(t, "PUT", "/api/v1/masking/orders", r.key(t, c.scopes...), body); rep.status != c.status {
			t.Errorf("PUT as %v: %d %s, want %d", c.scopes, rep.status, rep.body, c.status)
		}
	}
	rep := r.call(t, "PUT", "/api/v1/masking/orders", admin, `{"fields":[{"path":"","mode":"hide"},{"path":"a","mode":"blur"}]}`)
	if rep.status != 422 || !strings.Contains(rep.body, `"fields[0].path"`) || !strings.Contains(rep.body, `"fields[1].mode"`) {
		t.Errorf("bad policy: %d %s", rep.status, rep.body)
	}
	if rep := r.call(t, "GET", "/api/v1/masking/orders", admin, ""); rep.status != 200 || !strings.Contains(rep.body, `"email"`) {
		t.Errorf("GET policy: %d %s", rep.status, rep.body)
	}
	if rep := r.call(t, "DELETE", "/api/v1/masking/orders", r.key(t, "topics.write"), ""); rep.status != 403 {
		t.Errorf("DELETE by topics.write: %d", rep.status)
	}
	if rep := r.call(t, "DELETE", "/api/v1/masking/orders", admin, ""); rep.status != 204 {
		t.Errorf("DELETE: %d %s", rep.status, rep.body)
	}
	if rep := r.call(t, "GET", "/api/v1/masking/orders", admin, ""); rep.status != 404 {
		t.Errorf("GET after delete: %d", rep.status)
	}
}
