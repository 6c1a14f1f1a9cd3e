package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

func newStreamsFixture(t *testing.T) (*fixture, stream.Broker) {
	return newStreamsFixtureTB(t)
}

func newStreamsFixtureTB(t testing.TB) (*fixture, stream.Broker) {
	t.Helper()
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), RetentionInterval: -1,
		Options: stream.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return newFixtureWith(t, b), b
}

func TestTopicsPages(t *testing.T) {
	f, b := newStreamsFixture(t)
	ctx := context.Background()
	br := f.browser()
	csrf := br.login("admin", adminPassword)

	resp, body := br.post("/topics", url.Values{"csrf_token": {csrf}, "name": {"bad name"}, "partitions": {"3"}})
	wantStatus(t, "create a topic with a bad name", resp, http.StatusUnprocessableEntity)
	if !strings.Contains(body, `id="topic-name-err"`) || !strings.Contains(body, "position 4") {
		t.Errorf("bad topic name not explained next to its field")
	}
	resp, _ = br.post("/topics", url.Values{"csrf_token": {csrf}, "name": {"orders"}, "partitions": {"0"}})
	wantStatus(t, "create a topic with 0 partitions", resp, http.StatusUnprocessableEntity)
	resp, _ = br.post("/topics", url.Values{"csrf_token": {csrf}, "name": {"orders"}, "partitions": {"3"}, "retention": {"168h"}})
	wantStatus(t, "create a topic", resp, http.StatusSeeOther)
	info, err := b.DescribeTopic(ctx, "orders")
	if err != nil || info.Partitions != 3 || info.RetentionTime.Hours() != 168 {
		t.Fatalf("stored topic %+v, %v", info, err)
	}
	resp, _ = br.post("/topics", url.Values{"csrf_token": {csrf}, "name": {"orders"}, "partitions": {"3"}})
	wantStatus(t, "create a topic twice", resp, http.StatusUnprocessableEntity)

	var recs []*stream.Record
	for i := 0; i < 1234; i++ {
		recs = append(recs, &stream.Record{Topic: "orders", Value: []byte("x")})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	_, body = br.get("/topics")
	if !strings.Contains(body, ">orders</a>") || !strings.Contains(body, "1,234") {
		t.Errorf("topics page lacks orders with 1,234 records")
	}
	if !regexp.MustCompile(`<td class="num">[0-9.]+ KiB</td>`).MatchString(body) {
		t.Errorf("topics page lacks the size of orders (1,234 records take kibibytes)")
	}
	resp, body = br.get("/topics/orders")
	wantStatus(t, "topic page", resp, http.StatusOK)
	if strings.Count(body, `<td class="num mono">`) < 3 {
		t.Errorf("topic page lacks its partitions")
	}
	resp, _ = br.get("/topics/nope")
	wantStatus(t, "unknown topic", resp, http.StatusNotFound)

	resp, _ = br.post("/topics/orders/delete", url.Values{"csrf_token": {csrf}, "confirm": {"order"}})
	wantStatus(t, "delete with a wrong confirmation", resp, http.StatusUnprocessableEntity)
	if _, err := b.DescribeTopic(ctx, "orders"); err != nil {
		t.Fatalf("topic gone after a wrong confirmation: %v", err)
	}
	resp, _ = br.post("/topics/orders/delete", url.Values{"csrf_token": {csrf}, "confirm": {"orders"}})
	wantStatus(t, "delete", resp, http.StatusSeeOther)
}

func TestGroupResetNeedsConfirmation(t *testing.T) {
	f, b := newStreamsFixture(t)
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	var recs []*stream.Record
	for i := 0; i < 100; i++ {
		recs = append(recs, &stream.Record{Topic: "orders", Key: []byte{byte(i)}, Value: []byte("x")})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	// The group consumes everything, then stops.
	cctx, cancel := context.WithCancel(ctx)
	seen := 0
	err := b.Consume(cctx, stream.ConsumerConfig{Group: "billing", Topics: []string{"orders"}}, func(_ context.Context, batch []*stream.Record) error {
		seen += len(batch)
		if seen >= 100 {
			defer cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	br := f.browser()
	csrf := br.login("admin", adminPassword)
	_, body := br.get("/groups")
	if !strings.Contains(body, ">billing</a>") {
		t.Fatalf("groups page lacks billing")
	}
	form := url.Values{"csrf_token": {csrf}, "topic": {"orders"}, "to": {"earliest"}}
	resp, body := br.post("/groups/billing/reset", form)
	wantStatus(t, "reset without confirmation", resp, http.StatusOK)
	if !strings.Contains(body, "100 records will be delivered again") {
		t.Errorf("confirmation does not say how many records replay:\n%s", body)
	}
	g, _ := b.DescribeGroup(ctx, "billing")
	if g.Lag() != 0 {
		t.Fatalf("the review step reset the group (lag %d)", g.Lag())
	}
	form.Set("confirmed", "yes")
	resp, _ = br.post("/groups/billing/reset", form)
	wantStatus(t, "confirmed reset", resp, http.StatusSeeOther)
	if g, _ := b.DescribeGroup(ctx, "billing"); g.Lag() != 100 {
		t.Errorf("after the reset the lag is %d, want 100", g.Lag())
	}
	for _, bad := range []url.Values{
		{"csrf_token": {csrf}, "topic": {"orders"}, "to": {"offset"}, "offset": {"-3"}},
		{"csrf_token": {csrf}, "topic": {"orders"}, "to": {"time"}, "time": {"yesterday"}},
		{"csrf_token": {csrf}, "topic": {"orders"}, "to": {"earliest"}, "partitions": {"0,x"}},
		{"csrf_token": {csrf}, "topic": {"orders"}, "to": {"sideways"}},
	} {
		if resp, _ := br.post("/groups/billing/reset", bad); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("reset %v: status %d, want 422", bad, resp.StatusCode)
		}
	}

	// A viewer sees the group but cannot reset it.
	if _, err := f.auth.CreateUser(ctx, auth.NewUser{Username: "vic", Password: "a viewer password", Roles: []auth.Role{auth.RoleViewer}}); err != nil {
		t.Fatal(err)
	}
	v := f.browser()
	vcsrf := v.login("vic", "a viewer password")
	resp, body = v.get("/groups/billing")
	wantStatus(t, "viewer GET group", resp, http.StatusOK)
	if strings.Contains(body, "Review the reset") {
		t.Errorf("a viewer is shown the reset form")
	}
	form.Set("csrf_token", vcsrf)
	resp, _ = v.post("/groups/billing/reset", form)
	wantStatus(t, "viewer reset", resp, http.StatusForbidden)
}

func TestMessageBrowser(t *testing.T) {
	f, b := newStreamsFixture(t)
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "events", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var recs []*stream.Record
	for i := 0; i < 1000; i++ {
		key := "even"
		if i%2 == 1 {
			key = "odd"
		}
		recs = append(recs, &stream.Record{Topic: "events", Key: []byte(key), Value: []byte(fmt.Sprintf(`{"n":%d,"tag":"t%d"}`, i, i%7))})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	br := f.browser()
	csrf := br.login("admin", adminPassword)
	first := func(body string) string {
		m := regexp.MustCompile(`<td class="num mono">([0-9,]+)</td>`).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return m[1]
	}
	resp, body := br.get("/topics/events/messages")
	wantStatus(t, "messages", resp, http.StatusOK)
	if got := first(body); got != "999" {
		t.Errorf("newest first starts at %s, want 999", got)
	}
	if !strings.Contains(body, "&#34;n&#34;: 999") && !strings.Contains(body, `"n": 999`) {
		t.Errorf("JSON value not pretty-printed")
	}
	older := regexp.MustCompile(`href="(\?[^"]+)">Older records`).FindStringSubmatch(body)
	if older == nil {
		t.Fatal("no link to older records")
	}
	_, body = br.get("/topics/events/messages" + strings.ReplaceAll(older[1], "&amp;", "&"))
	if got := first(body); got != "949" {
		t.Errorf("second page starts at %s, want 949", got)
	}
	_, body = br.get("/topics/events/messages?order=oldest")
	if got := first(body); got != "0" {
		t.Errorf("oldest first starts at %s, want 0", got)
	}
	_, body = br.get("/topics/events/messages?key=odd")
	if got := first(body); got != "999" || strings.Contains(body, ">998<") {
		t.Errorf("key filter: first %s; even records shown", got)
	}
	_, body = br.get("/topics/events/messages?q=" + url.QueryEscape(`"tag":"t3"`))
	if got := first(body); got != "997" {
		t.Errorf("value filter: first %s, want 997 (the newest with tag t3)", got)
	}
	for _, bad := range []string{"?partition=5", "?partition=x", "?offset=-1"} {
		if resp, _ := br.get("/topics/events/messages" + bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("messages%s: status %d, want 400", bad, resp.StatusCode)
		}
	}

	form := url.Values{"csrf_token": {csrf}, "key": {"k"}, "value": {`{"hello":1}`}, "headers": {"source=console"}}
	resp, body = br.post("/topics/events/messages", form)
	wantStatus(t, "produce without confirmation", resp, http.StatusOK)
	if !strings.Contains(body, "Produce now") {
		t.Errorf("produce without confirmation shows no review")
	}
	form.Set("confirmed", "yes")
	resp, _ = br.post("/topics/events/messages", form)
	wantStatus(t, "produce from the console", resp, http.StatusSeeOther)
	got, err := b.Read(ctx, "events", 0, 1000, 1)
	if err != nil || len(got) != 1 || string(got[0].Value) != `{"hello":1}` {
		t.Fatalf("produced record not stored: %v %v", got, err)
	}
	if v, _ := got[0].Header("source"); string(v) != "console" {
		t.Errorf("header source = %q, want console", v)
	}
	resp, _ = br.post("/topics/events/messages", url.Values{"csrf_token": {csrf}, "value": {"x"}, "headers": {"no equals sign"}})
	wantStatus(t, "produce with a bad header line", resp, http.StatusUnprocessableEntity)
}
