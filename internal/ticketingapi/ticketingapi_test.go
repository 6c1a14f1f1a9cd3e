package ticketingapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/ticketingapi"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gatestub"
)

type fixture struct {
	url string
	svc *ticketing.Service
}

// newFixture serves the ticketing API without authentication over a
// service on SQLite and the embedded log, with the gate stub.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	b, err := backbone.Open(ctx, "embedded", filepath.Join(dir, "stream"), stream.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := ticketing.CreateTopics(ctx, b, 1); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, store.Config{Dir: dir, Component: "ticketing"})
	if err != nil {
		t.Fatal(err)
	}
	invDB, err := store.Open(ctx, store.Config{Dir: dir, Component: "ticketing_inventory"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := saga.New(ctx, saga.Config{Dir: dir, PollInterval: 50 * time.Millisecond, Logger: log}, b, ticketing.GoLive)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ticketing.Open(ctx, ticketing.Config{DB: db, InventoryDB: invDB, Broker: b, Sagas: o, Logger: log, SweepEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stub, err := gatestub.New(b, gatestub.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(b, api.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	ticketingapi.Register(a, mux, svc, nil)
	srv := httptest.NewServer(mux)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{svc.Run, o.Run, stub.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
		o.Close()
		b.Close()
		db.Close()
		invDB.Close()
	})
	return &fixture{url: srv.URL, svc: svc}
}

type reply struct {
	status int
	body   string
}

func (f *fixture) call(t *testing.T, method, path, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b)}
}

func (f *fixture) id(t *testing.T, method, path, body string, want int) string {
	t.Helper()
	rep := f.call(t, method, path, body)
	if rep.status != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, rep.status, rep.body, want)
	}
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(rep.body), &v)
	return v.ID
}

// Every route answers bad input with a problem naming what is wrong:
// malformed JSON 400, unknown or invalid fields and query parameters 422
// (with the field), unknown ids 404, a request the state forbids 409.
func TestBadInputMatrix(t *testing.T) {
	f := newFixture(t)
	merchant := f.id(t, "POST", "/api/v1/ticketing/merchants", `{"name":"Merchant","type":"organizer"}`, 201)
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	eventBody := fmt.Sprintf(`{"merchant_id":%q,"name":"Konser","venue":"GBK","address":"Senayan","starts":%q,"ends":%q,"sale_starts":%q,"sale_ends":%q}`,
		merchant, ts(72*time.Hour), ts(80*time.Hour), ts(-time.Hour), ts(48*time.Hour))
	draft := f.id(t, "POST", "/api/v1/ticketing/events", eventBody, 201)
	area := f.id(t, "POST", "/api/v1/ticketing/events/"+draft+"/areas", `{"name":"A","capacity":5,"price":1000}`, 201)
	staff := f.id(t, "POST", "/api/v1/ticketing/events/"+draft+"/staff", fmt.Sprintf(`{"name":"Sari","email":"sari@example.com","work_starts":%q,"work_ends":%q}`, ts(70*time.Hour), ts(81*time.Hour)), 201)
	f.id(t, "POST", "/api/v1/ticketing/events/"+draft+"/schedules", fmt.Sprintf(`{"name":"Setup","starts":%q,"ends":%q,"approver":"Nazar"}`, ts(70*time.Hour), ts(71*time.Hour)), 201)
	ev := "/api/v1/ticketing/events/" + draft

	cases := []struct {
		name         string
		method, path string
		body         string
		status       int
		field        string // a field the problem must name
	}{
		{"merchants: unknown query", "GET", "/api/v1/ticketing/merchants?x=1", "", 422, "x"},
		{"merchant: malformed", "POST", "/api/v1/ticketing/merchants", `{"name":`, 400, ""},
		{"merchant: unknown field", "POST", "/api/v1/ticketing/merchants", `{"name":"X","type":"venue","owner":"me"}`, 422, "owner"},
		{"merchant: empty name, bad type", "POST", "/api/v1/ticketing/merchants", `{"name":" ","type":"bank"}`, 422, "type"},
		{"merchant: name taken", "POST", "/api/v1/ticketing/merchants", `{"name":"Merchant","type":"venue"}`, 422, "name"},
		{"merchant: unknown", "GET", "/api/v1/ticketing/merchants/mer_nope", "", 404, ""},
		{"merchant: bad id", "GET", "/api/v1/ticketing/merchants/%20", "", 404, ""},
		{"merchant update: bad type", "PUT", "/api/v1/ticketing/merchants/" + merchant, `{"name":"M","type":""}`, 422, "type"},
		{"merchant delete: has events", "DELETE", "/api/v1/ticketing/merchants/" + merchant, "", 409, ""},
		{"members: unknown merchant", "GET", "/api/v1/ticketing/merchants/mer_nope/members", "", 404, ""},
		{"members: missing list", "PUT", "/api/v1/ticketing/merchants/" + merchant + "/members", `{}`, 422, "usernames"},
		{"members: empty name", "PUT", "/api/v1/ticketing/merchants/" + merchant + "/members", `{"usernames":[""]}`, 422, "usernames[0]"},
		{"events: bad status", "GET", "/api/v1/ticketing/events?status=open", "", 422, "status"},
		{"event: wrong types", "POST", "/api/v1/ticketing/events", `{"name":1}`, 422, "name"},
		{"event: bad window", "POST", "/api/v1/ticketing/events", fmt.Sprintf(`{"merchant_id":%q,"name":"N","venue":"V","address":"A","starts":%q,"ends":%q,"sale_starts":%q,"sale_ends":%q}`,
			merchant, ts(5*time.Hour), ts(time.Hour), ts(0), ts(time.Hour)), 422, "ends"},
		{"event: bad time zone", "POST", "/api/v1/ticketing/events", strings.Replace(eventBody, `"name"`, `"time_zone":"Mars/Base","name"`, 1), 422, "time_zone"},
		{"event: unknown merchant", "POST", "/api/v1/ticketing/events", strings.Replace(eventBody, merchant, "mer_nope", 1), 422, "merchant_id"},
		{"event: unknown", "GET", "/api/v1/ticketing/events/evt_nope", "", 404, ""},
		{"event: query on get", "GET", ev + "?full=1", "", 422, "full"},
		{"event update: no name", "PUT", ev, strings.Replace(eventBody, `"Konser"`, `""`, 1), 422, "name"},
		{"event delete: unknown", "DELETE", "/api/v1/ticketing/events/evt_nope", "", 404, ""},
		{"submit: unknown", "POST", "/api/v1/ticketing/events/evt_nope/submit", "", 404, ""},
		{"approve: a draft", "POST", ev + "/approve", "", 409, ""},
		{"reject: no reason", "POST", ev + "/reject", `{}`, 422, "reason"},
		{"go-live: a draft", "POST", ev + "/go-live", "", 409, ""},
		{"cancel: malformed", "POST", ev + "/cancel", `{`, 400, ""},
		{"cancel: no reason", "POST", ev + "/cancel", `{"reason":""}`, 422, "reason"},
		{"audit: unknown event", "GET", "/api/v1/ticketing/events/evt_nope/audit", "", 404, ""},
		{"area: zero capacity, negative price", "POST", ev + "/areas", `{"name":"B","capacity":0,"price":-1}`, 422, "capacity"},
		{"area: name taken", "POST", ev + "/areas", `{"name":"A","capacity":1,"price":1}`, 422, "name"},
		{"area update: unknown", "PUT", ev + "/areas/area_nope", `{"name":"B","capacity":1,"price":1}`, 404, ""},
		{"area delete: unknown", "DELETE", ev + "/areas/area_nope", "", 404, ""},
		{"staff: unknown event", "GET", "/api/v1/ticketing/events/evt_nope/staff", "", 404, ""},
		{"staff: bad e-mail and status", "POST", ev + "/staff", fmt.Sprintf(`{"name":"S","email":"not-mail","work_starts":%q,"work_ends":%q,"status":"asleep"}`, ts(0), ts(time.Hour)), 422, "email"},
		{"staff update: no window", "PUT", ev + "/staff/" + staff, `{"name":"S","email":"s@example.com"}`, 422, "work_starts"},
		{"staff delete: unknown", "DELETE", ev + "/staff/stf_nope", "", 404, ""},
		{"schedules: unknown query", "GET", ev + "/schedules?all=1", "", 422, "all"},
		{"schedule: bad status", "POST", ev + "/schedules", fmt.Sprintf(`{"name":"S","starts":%q,"ends":%q,"status":"later"}`, ts(0), ts(time.Hour)), 422, "status"},
		{"schedule update: unknown", "PUT", ev + "/schedules/sch_nope", fmt.Sprintf(`{"name":"S","starts":%q,"ends":%q}`, ts(0), ts(time.Hour)), 404, ""},
		{"schedule delete: unknown", "DELETE", ev + "/schedules/sch_nope", "", 404, ""},
		{"orders: bad limit", "GET", "/api/v1/ticketing/orders?limit=0", "", 422, "limit"},
		{"orders: bad status", "GET", "/api/v1/ticketing/orders?status=lost", "", 422, "status"},
		{"order: no lines, bad buyer", "POST", "/api/v1/ticketing/orders", fmt.Sprintf(`{"event_id":%q,"lines":[],"buyer":{"name":"","email":"x"},"method":"CASH"}`, draft), 422, "buyer.email"},
		{"order: zero quantity", "POST", "/api/v1/ticketing/orders", fmt.Sprintf(`{"event_id":%q,"lines":[{"area_id":%q,"quantity":0}],"buyer":{"name":"B","email":"b@example.com"},"method":"CASH"}`, draft, area), 422, "lines[0].quantity"},
		{"order: unknown method", "POST", "/api/v1/ticketing/orders", fmt.Sprintf(`{"event_id":%q,"lines":[{"area_id":%q,"quantity":1}],"buyer":{"name":"B","email":"b@example.com"},"method":"GOLD"}`, draft, area), 422, "method"},
		{"order: event not on sale", "POST", "/api/v1/ticketing/orders", fmt.Sprintf(`{"event_id":%q,"lines":[{"area_id":%q,"quantity":1}],"buyer":{"name":"B","email":"b@example.com"},"method":"CASH"}`, draft, area), 409, ""},
		{"order: unknown", "GET", "/api/v1/ticketing/orders/ord_nope", "", 404, ""},
		{"order cancel: unknown", "POST", "/api/v1/ticketing/orders/ord_nope/cancel", `{"reason":"r"}`, 404, ""},
		{"refund request: bad kind", "POST", "/api/v1/ticketing/orders/ord_nope/refunds", `{"kind":"some","reason":"r"}`, 422, "kind"},
		{"refund request: unknown order", "POST", "/api/v1/ticketing/orders/ord_nope/refunds", `{"kind":"full","reason":"r"}`, 404, ""},
		{"my orders: bad status", "GET", "/api/v1/ticketing/my/orders?status=lost", "", 422, "status"},
		{"my order: unknown", "GET", "/api/v1/ticketing/my/orders/ord_nope", "", 404, ""},
		{"my order: query", "GET", "/api/v1/ticketing/my/orders/ord_nope?full=1", "", 422, "full"},
		{"refunds: bad status", "GET", "/api/v1/ticketing/refunds?status=paid", "", 422, "status"},
		{"refund: unknown", "GET", "/api/v1/ticketing/refunds/ref_nope", "", 404, ""},
		{"refund approve: unknown", "POST", "/api/v1/ticketing/refunds/ref_nope/approve", "", 404, ""},
		{"refund reject: no reason", "POST", "/api/v1/ticketing/refunds/ref_nope/reject", `{"reason":""}`, 422, "reason"},
		{"payment methods: query", "GET", "/api/v1/ticketing/payment-methods?x=1", "", 422, "x"},
		{"payment method: lower case", "POST", "/api/v1/ticketing/payment-methods", `{"name":"qris"}`, 422, "name"},
		{"payment method: exists", "POST", "/api/v1/ticketing/payment-methods", `{"name":"CASH"}`, 409, ""},
		{"payment method delete: unknown", "DELETE", "/api/v1/ticketing/payment-methods/pm_nope", "", 404, ""},
		{"dashboard: bad dates", "GET", "/api/v1/ticketing/dashboard?from=yesterday&to=2026-01-01", "", 422, "from"},
		{"dashboard: reversed", "GET", "/api/v1/ticketing/dashboard?from=2026-02-01&to=2026-01-01", "", 422, "to"},
		{"waiting room: unknown query", "GET", ev + "/waiting-room?x=1", "", 422, "x"},
		{"waiting room: bad rate and validity", "PUT", ev + "/waiting-room", `{"enabled":true,"rate":-1,"token_ttl_seconds":5}`, 422, "token_ttl_seconds"},
		{"waiting room join: room off", "POST", ev + "/waiting-room/join", "", 409, ""},
		{"waiting room status: no ticket", "POST", ev + "/waiting-room/status", `{}`, 422, "ticket"},
		{"waiting room status: a stranger's ticket", "POST", ev + "/waiting-room/status", `{"ticket":"wrq_00.secret"}`, 422, "ticket"},
		{"wrong method", "PATCH", ev, "", 405, ""},
	}
	// The API's own errors carry a code, and its values, as refusals do.
	codes := map[string][]string{
		"merchants: unknown query":       {"query_unknown", "x"},
		"merchant: bad id":               {"id_unknown", " "},
		"members: missing list":          {"members_required"},
		"events: bad status":             {"query_not_one_of", "status", "open", strings.Join(ticketing.EventStatuses, ", ")},
		"orders: bad limit":              {"query_not_in_range", "limit", "0", "1", "1000"},
		"dashboard: bad dates":           {"query_not_date", "from", "yesterday"},
		"dashboard: reversed":            {"period_reversed"},
		"waiting room status: no ticket": {"waitroom_ticket_required"},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := f.call(t, c.method, c.path, c.body)
			if rep.status != c.status {
				t.Fatalf("%s %s: got %d %s, want %d", c.method, c.path, rep.status, rep.body, c.status)
			}
			var p struct {
				Type   string `json:"type"`
				Detail string `json:"detail"`
				Errors []struct {
					Field string `json:"field"`
				} `json:"errors"`
				Code string   `json:"code"`
				Args []string `json:"args"`
			}
			if err := json.Unmarshal([]byte(rep.body), &p); err != nil || p.Type == "" || p.Detail == "" {
				t.Fatalf("answer is not a problem with a type and a detail: %s", rep.body)
			}
			// A refusal says which rule, for a client to word it.
			if c.status == http.StatusConflict && p.Code == "" {
				t.Errorf("a refusal without a code: %s", rep.body)
			}
			if c.name == "merchant delete: has events" && (p.Code != "merchant_has_events" || !slices.Equal(p.Args, []string{merchant, "1"})) {
				t.Errorf("code %q, args %q; want merchant_has_events [%s 1]", p.Code, p.Args, merchant)
			}
			if want, ok := codes[c.name]; ok && (p.Code != want[0] || !slices.Equal(p.Args, want[1:]) && len(p.Args)+len(want[1:]) > 0) {
				t.Errorf("code %q, args %q; want %q", p.Code, p.Args, want)
			}
			if c.field != "" && !slices.ContainsFunc(p.Errors, func(e struct {
				Field string `json:"field"`
			}) bool {
				return e.Field == c.field
			}) {
				t.Errorf("problem names fields %+v, want %q among them", p.Errors, c.field)
			}
		})
		covered[c.method+" "+pattern(c.path)] = true
	}
	for _, r := range ticketingapi.Routes() {
		f := strings.Fields(r)
		if !covered[f[0]+" "+f[1]] {
			t.Errorf("route %s %s has no bad-input case", f[0], f[1])
		}
	}
}

// pattern turns a concrete path into its route pattern.
func pattern(path string) string {
	path, _, _ = strings.Cut(path, "?")
	parts := strings.Split(path, "/")
	names := map[string]string{"merchants": "{id}", "events": "{id}", "areas": "{area}", "staff": "{staff}", "schedules": "{schedule}",
		"orders": "{id}", "refunds": "{id}", "payment-methods": "{id}"}
	for i := 1; i < len(parts); i++ {
		if n, ok := names[parts[i-1]]; ok && i >= 5 && !(parts[i-1] == "refunds" && i == len(parts)-1 && parts[i-2] != "ticketing") {
			parts[i] = n
		}
	}
	return strings.Join(parts, "/")
}

// docs/api.md lists every ticketing route with its permission, and no
// route that is not served.
func TestRoutesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| (GET|POST|PUT|DELETE) \\| `(/api/v1/ticketing[^`]*)` \\| (?:`([a-z.]+)`|(none)[^|]*) \\|")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1]+" "+m[2]+" "+m[3]+m[4])
	}
	served := ticketingapi.Routes()
	slices.Sort(documented)
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is served but not in docs/api.md", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("docs/api.md lists %q, which is not served", r)
		}
	}
}
