package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

// The message browser filters on a JSON path of the value, within its
// bounded window, says how far it looked, and explains a bad expression
// next to the field instead of failing.
func TestMessagesJSONPathFilter(t *testing.T) {
	f, b := newStreamsFixture(t)
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var recs []*stream.Record
	for i := 0; i < 300; i++ {
		status := "open"
		if i%10 == 0 {
			status = "paid"
		}
		v := fmt.Sprintf(`{"order":{"status":%q},"amount":%d,"tags":["t%d"]}`, status, i, i%3)
		if i%50 == 0 {
			v = fmt.Sprintf(`{"order":{"status":%q},"amount":%d,"customer":{"email":"c%d@example.com"}}`, status, i, i)
		}
		recs = append(recs, &stream.Record{Topic: "orders", Value: []byte(v)})
	}
	recs = append(recs, &stream.Record{Topic: "orders", Value: []byte("not json")})
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	br := f.browser()
	br.login("admin", adminPassword)
	offsets := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<td class="num mono">([0-9,]+)</td>`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	cases := []struct {
		match      string
		first      string
		count      int
		wantInPage string
	}{
		{`$.order.status == "paid"`, "290", 30, "examined 301 records, offsets 0 to 300"},
		{`$.amount > 250 and $.amount <= 260`, "260", 10, ""},
		{`$.tags[0] == "t2"`, "299", 0, ""},
		{`$.customer.email`, "250", 6, ""},
		{`not $.tags and $.amount < 100`, "50", 2, ""},
		{`$.order.status in ["paid"] and $.amount >= 200`, "290", 10, ""},
	}
	for _, c := range cases {
		resp, body := br.get("/topics/orders/messages?match=" + url.QueryEscape(c.match))
		wantStatus(t, c.match, resp, http.StatusOK)
		got := offsets(body)
		if len(got) == 0 || got[0] != c.first || c.count > 0 && len(got) != c.count {
			t.Errorf("%s: offsets %v, want %d starting at %s", c.match, got, c.count, c.first)
		}
		if c.wantInPage != "" && !strings.Contains(body, c.wantInPage) {
			t.Errorf("%s: page does not say %q", c.match, c.wantInPage)
		}
	}
	// Paging keeps the filter.
	_, body := br.get("/topics/orders/messages?match=" + url.QueryEscape(`$.amount >= 0`))
	older := regexp.MustCompile(`href="(\?[^"]+)">Older records`).FindStringSubmatch(body)
	if older == nil || !strings.Contains(older[1], "match=") {
		t.Fatalf("no link to older records keeping the filter: %v", older)
	}
	_, body = br.get("/topics/orders/messages" + html(older[1]))
	if got := offsets(body); len(got) == 0 || got[0] != "249" {
		t.Errorf("second page of $.amount >= 0 starts at %v, want 249", got)
	}

	for _, bad := range []struct{ match, says string }{
		{`$.order.status = "paid"`, `use == or !=`},
		{`$.amount >`, `expected a field or a value at byte 10`},
		{`$`, `expected a field after $ at byte 0`},
		{`$.tags[x]`, `index &#34;x&#34; must be a whole number`},
		{`"paid"`, `expected a comparison`},
	} {
		resp, body := br.get("/topics/orders/messages?match=" + url.QueryEscape(bad.match))
		wantStatus(t, "bad filter "+bad.match, resp, http.StatusBadRequest)
		if !strings.Contains(body, `id="m-match-err"`) || !strings.Contains(body, bad.says) {
			t.Errorf("bad filter %s: page does not explain %q next to the field", bad.match, bad.says)
		}
		if len(offsets(body)) != 0 {
			t.Errorf("bad filter %s: records shown anyway", bad.match)
		}
	}
}

// Producing from the console first shows what will be produced (topic,
// the key's partition, size), and produces only once confirmed.
func TestProduceNeedsConfirmation(t *testing.T) {
	f, b := newStreamsFixture(t)
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	br := f.browser()
	csrf := br.login("admin", adminPassword)
	form := url.Values{"csrf_token": {csrf}, "key": {"order-7"}, "value": {`{"total":12}`}, "headers": {"source=console\nreason=test"}}
	resp, body := br.post("/topics/orders/messages", form)
	wantStatus(t, "review", resp, http.StatusOK)
	want := fmt.Sprintf("so partition %d", stream.Partition([]byte("order-7"), 4))
	for _, s := range []string{"produce one record to", ">orders<", ">order-7<", want, "value 12 bytes, 2 header(s), 42 bytes in all"} {
		if !strings.Contains(body, s) {
			t.Errorf("review lacks %q", s)
		}
	}
	if info, _ := b.DescribeTopic(ctx, "orders"); info.Records() != 0 {
		t.Fatalf("a record was produced before confirmation")
	}
	form.Set("csrf_token", "wrong")
	form.Set("confirmed", "yes")
	resp, _ = br.post("/topics/orders/messages", form)
	wantStatus(t, "confirmed without the CSRF token", resp, http.StatusForbidden)
	form.Set("csrf_token", csrf)
	resp, _ = br.post("/topics/orders/messages", form)
	wantStatus(t, "confirmed", resp, http.StatusSeeOther)
	if info, _ := b.DescribeTopic(ctx, "orders"); info.Records() != 1 {
		t.Errorf("topic holds %d records after the confirmed produce, want 1", info.Records())
	}

	// A viewer may not produce, with or without confirmation.
	if _, err := f.auth.CreateUser(ctx, auth.NewUser{Username: "vera", Password: "viewer-password-1", Roles: []auth.Role{"viewer"}}); err != nil {
		t.Fatal(err)
	}
	viewer := f.browser()
	vcsrf := viewer.login("vera", "viewer-password-1")
	for _, confirmed := range []string{"", "yes"} {
		resp, _ := viewer.post("/topics/orders/messages", url.Values{"csrf_token": {vcsrf}, "value": {"x"}, "confirmed": {confirmed}})
		wantStatus(t, "produce as a viewer", resp, http.StatusForbidden)
	}
}

// A filter that matches little stops at the scan limit, says so, and
// links on from where it stopped.
func TestMessagesFilterStopsAtTheScanLimit(t *testing.T) {
	f, b := newStreamsFixture(t)
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "clicks", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	recs := make([]*stream.Record, browseMaxScan+500)
	for i := range recs {
		recs[i] = &stream.Record{Topic: "clicks", Value: []byte(`{"page":"home"}`)}
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	br := f.browser()
	br.login("admin", adminPassword)
	resp, body := br.get("/topics/clicks/messages?match=" + url.QueryEscape(`$.page == "cart"`))
	wantStatus(t, "filter with no match", resp, http.StatusOK)
	for _, want := range []string{"examined 10,000 records, offsets 500 to 10,499; stopped at the limit of 10,000 per page", "No record here matches the filter.", "cursor=0%3A500"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// Browsing from a time starts at the first record at or after it; a header
// filter keeps the records carrying the header (with the value, if given).
func TestMessagesByTimeAndHeader(t *testing.T) {
	f, b := newStreamsFixture(t)
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "events", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var recs []*stream.Record
	for i := 0; i < 120; i++ {
		rec := &stream.Record{Topic: "events", Value: []byte(fmt.Sprint(i)), Timestamp: t0.Add(time.Duration(i) * time.Minute)}
		if i%4 == 0 {
			rec.Headers = []stream.Header{{Key: "source", Value: []byte(fmt.Sprintf("gate-%d", i%8))}}
		}
		recs = append(recs, rec)
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	br := f.browser()
	br.login("admin", adminPassword)
	offsets := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<td class="num mono">([0-9,]+)</td>`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	// 13:00 is record 60: oldest first starts there, newest first ends
	// just before it.
	_, body := br.get("/topics/events/messages?order=oldest&time=2026-03-01T13:00")
	if got := offsets(body); len(got) == 0 || got[0] != "60" {
		t.Errorf("oldest first from 13:00: offsets %v, want from 60", got)
	}
	_, body = br.get("/topics/events/messages?order=newest&time=2026-03-01T13:00")
	if got := offsets(body); len(got) == 0 || got[0] != "59" {
		t.Errorf("newest first from 13:00: offsets %v, want from 59 down", got)
	}
	resp, body := br.get("/topics/events/messages?time=yesterday")
	wantStatus(t, "a time that is not one", resp, http.StatusBadRequest)
	wantBody(t, "a time that is not one", body, `id="m-time-err"`)

	_, body = br.get("/topics/events/messages?header=source")
	if got := offsets(body); len(got) != 30 || got[0] != "116" {
		t.Errorf("records with a source header: %d from %v, want 30 from 116", len(got), got)
	}
	_, body = br.get("/topics/events/messages?header=" + url.QueryEscape("source=gate-4"))
	if got := offsets(body); len(got) != 15 || got[0] != "116" {
		t.Errorf("records from gate-4: %d from %v, want 15 from 116", len(got), got)
	}
}
