package server

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

// startGate runs a server with the gate component, prepares event ev1 of
// a new merchant through the saga's acl.server.create topic, and issues
// two tickets.
func startGate(t *testing.T) (*running, map[string]string) {
	t.Helper()
	r := start(t, Config{})
	ctx := context.Background()
	if err := r.broker.CreateTopic(ctx, stream.Topic{Name: "gate.e2e.replies", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	m, err := r.ticketing.CreateMerchant(ctx, ticketing.MerchantInput{Name: "Merchant of ev1", Type: "organizer"})
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal(messages.CreateACLServer{Type: messages.TypeCreateACLServer, EventID: "ev1", MerchantID: m.ID,
		Areas: []messages.Area{{AreaID: "ga"}, {AreaID: "vip"}}, Starts: time.Now().Add(-time.Hour), Ends: time.Now().Add(time.Hour)})
	rec := &stream.Record{Topic: messages.TopicACLCreate, Key: []byte("ev1"), Value: cmd}
	rec.SetHeader(saga.HeaderSagaID, []byte("s1"))
	rec.SetHeader(saga.HeaderReplyTo, []byte("gate.e2e.replies"))
	if err := r.broker.Produce(ctx, rec); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := r.gate.Server(ctx, "ev1")
		if err == nil {
			break
		}
		if !errors.Is(err, gate.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("the gate did not prepare the event's server: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a, err := r.gate.IssueTickets(ctx, messages.TicketsIssued{OrderID: "o1", Number: "ARU-0001", EventID: "ev1", Buyer: messages.Buyer{Name: "Budi Santoso", Email: "Budi@Example.com"},
		Tickets: []messages.Ticket{{TicketID: "t1", AreaID: "ga"}, {TicketID: "t2", AreaID: "vip"}}})
	if err != nil {
		t.Fatal(err)
	}
	qrs := map[string]string{}
	for _, p := range a.Passes {
		qrs[p.TicketID] = p.QR
	}
	return r, qrs
}

func (r *running) enrolDevice(t *testing.T, admin, role string) (key, id string) {
	t.Helper()
	return r.enrolDeviceAt(t, admin, "ev1", "main", role)
}

// enrolDeviceAt enrols a device of role at a gate of an event.
func (r *running) enrolDeviceAt(t *testing.T, admin, event, gateID, role string) (key, id string) {
	t.Helper()
	rep := r.call(t, "POST", "/api/v1/gate/events/"+event+"/enrolments", admin, `{"gate_id":"`+gateID+`","role":"`+role+`","name":"Lane"}`)
	if rep.status != 201 {
		t.Fatalf("enrolment: %d %s", rep.status, rep.body)
	}
	var e struct{ Code string }
	_ = json.Unmarshal([]byte(rep.body), &e)
	rep = r.call(t, "POST", "/api/v1/gate/enrol", "", `{"code":"`+e.Code+`"}`)
	if rep.status != 201 {
		t.Fatalf("enrol: %d %s", rep.status, rep.body)
	}
	var d struct {
		APIKey string `json:"api_key"`
		Device struct {
			DeviceID string `json:"device_id"`
		}
	}
	_ = json.Unmarshal([]byte(rep.body), &d)
	if again := r.call(t, "POST", "/api/v1/gate/enrol", "", `{"code":"`+e.Code+`"}`); again.status != 401 {
		t.Errorf("a used code: %d %s, want 401", again.status, again.body)
	}
	return d.APIKey, d.Device.DeviceID
}

func TestGateDevicesOverHTTP(t *testing.T) {
	r, qrs := startGate(t)
	admin := r.key(t, "ticketing.admin", "gate.read", "gate.manage")
	steward, stewardID := r.enrolDevice(t, admin, "steward")
	supervisor, _ := r.enrolDevice(t, admin, "supervisor")
	scan := func(key, secret, extra string) reply {
		return r.call(t, "POST", "/api/v1/gate/events/ev1/redeem", key, `{"secret":"`+secret+`","gate_id":"main","direction":"entry"`+extra+`}`)
	}
	if rep := scan(steward, qrs["t1"], `,"nonce":"a"`); rep.status != 200 || !strings.Contains(rep.body, `"ok":true`) {
		t.Fatalf("first scan: %d %s", rep.status, rep.body)
	}
	if rep := scan(steward, qrs["t1"], `,"nonce":"a"`); !strings.Contains(rep.body, `"ok":true`) {
		t.Errorf("a retry with the same nonce: %s, want the first answer", rep.body)
	}
	if rep := scan(steward, qrs["t1"], `,"nonce":"b"`); !strings.Contains(rep.body, `"reason":"already_redeemed"`) {
		t.Errorf("a replay: %s, want already_redeemed", rep.body)
	}
	if rep := scan(steward, qrs["t1"], `,"override":"VIP guest"`); rep.status != 403 {
		t.Errorf("a steward's override: %d %s, want 403", rep.status, rep.body)
	}
	if rep := scan(supervisor, qrs["t1"], `,"override":"wristband checked"`); rep.status != 200 || !strings.Contains(rep.body, `"override":"wristband checked"`) {
		t.Errorf("a supervisor's override: %d %s", rep.status, rep.body)
	}
	if rep := r.call(t, "GET", "/api/v1/gate/events/ev1/passes?q=t", steward, ""); rep.status != 403 {
		t.Errorf("a steward's search: %d, want 403", rep.status)
	}
	if rep := r.call(t, "GET", "/api/v1/gate/events/ev1/passes?q=t", supervisor, ""); rep.status != 200 || !strings.Contains(rep.body, `"t2"`) {
		t.Errorf("a supervisor's search: %d %s", rep.status, rep.body)
	}
	// By a word of the buyer's name or the start of the order number.
	if _, err := r.gate.Project(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"santoso", "aru-00"} {
		rep := r.call(t, "GET", "/api/v1/gate/events/ev1/passes?q="+q, supervisor, "")
		if rep.status != 200 || !strings.Contains(rep.body, `"pass_id":"t2"`) || !strings.Contains(rep.body, `"order_number":"ARU-0001","buyer_name":"Budi Santoso"`) {
			t.Errorf("a supervisor's search of %s: %d %s, want t1 and t2 with the order number and the buyer's name", q, rep.status, rep.body)
		}
	}
	// By the buyer's whole e-mail address in any case, which the answer
	// does not carry.
	if rep := r.call(t, "GET", "/api/v1/gate/events/ev1/passes?q=BUDI%40example.COM", supervisor, ""); rep.status != 200 ||
		!strings.Contains(rep.body, `"pass_id":"t2"`) || strings.Contains(strings.ToLower(rep.body), "budi@example.com") {
		t.Errorf("a supervisor's search by e-mail: %d %s, want t1 and t2 without the address", rep.status, rep.body)
	}
	if rep := r.call(t, "GET", "/api/v1/gate/events/ev1/passes?q=budi%40example.com", steward, ""); rep.status != 403 {
		t.Errorf("a steward's search by e-mail: %d %s, want 403", rep.status, rep.body)
	}
	admit := func(key, pass, body string) reply {
		return r.call(t, "POST", "/api/v1/gate/events/ev1/passes/"+pass+"/admit", key, body)
	}
	if rep := admit(steward, "t1", `{"gate_id":"main","direction":"entry","override":"lost phone"}`); rep.status != 403 {
		t.Errorf("a steward's admit: %d %s, want 403", rep.status, rep.body)
	}
	if rep := admit(supervisor, "t1", `{"gate_id":"main","direction":"entry","override":"lost phone"}`); rep.status != 200 || !strings.Contains(rep.body, `"reason":"already_redeemed"`) {
		t.Errorf("a supervisor's admit of a pass inside: %d %s, want already_redeemed", rep.status, rep.body)
	}
	if rep := admit(supervisor, "nobody", `{"gate_id":"main","direction":"entry","override":"lost phone"}`); rep.status != 200 || !strings.Contains(rep.body, `"reason":"unknown"`) {
		t.Errorf("a supervisor's admit of an unknown pass: %d %s, want unknown", rep.status, rep.body)
	}
	if rep := r.call(t, "GET", "/api/v1/gate/events/ev2/bundle", steward, ""); rep.status != 403 {
		t.Errorf("another event's bundle: %d, want 403", rep.status)
	}
	if rep := r.call(t, "GET", "/api/v1/gate/events/ev1/bundle?passes=true", steward, ""); rep.status != 200 || !strings.Contains(rep.body, `"keys"`) || strings.Contains(rep.body, "Santoso") || strings.Contains(rep.body, "ARU-0001") ||
		strings.Contains(rep.body, "@") {
		t.Errorf("bundle: %d %s, want no buyer's name, order number or e-mail address", rep.status, rep.body)
	}
	up := `{"scans":[{"secret":"` + qrs["t2"] + `","gate_id":"main","direction":"entry","at":"` + time.Now().UTC().Format(time.RFC3339) + `","nonce":"off-1"}]}`
	if rep := r.call(t, "POST", "/api/v1/gate/events/ev1/upload", steward, up); rep.status != 200 || !strings.Contains(rep.body, `"ok":true`) {
		t.Errorf("upload: %d %s", rep.status, rep.body)
	}
	rep := r.call(t, "GET", "/api/v1/gate/events/ev1/counts", admin, "")
	var c gate.Counts
	if err := json.Unmarshal([]byte(rep.body), &c); err != nil || c.Inside != 2 || c.Flagged != 1 {
		t.Errorf("counts: %d %s, want 2 inside and 1 flagged", rep.status, rep.body)
	}
	if rep := admit(supervisor, "t2", `{"gate_id":"main","direction":"exit","override":"print-out lost; leaving with the buyer"}`); rep.status != 200 ||
		!strings.Contains(rep.body, `"ok":true`) || !strings.Contains(rep.body, `"flag":"admitted"`) || !strings.Contains(rep.body, `"override":"print-out lost; leaving with the buyer"`) {
		t.Errorf("a supervisor's admit: %d %s, want let out, flagged admitted with the reason", rep.status, rep.body)
	}
	if rep := r.call(t, "DELETE", "/api/v1/gate/events/ev1/devices/"+stewardID, admin, ""); rep.status != 204 {
		t.Fatalf("revoke: %d %s", rep.status, rep.body)
	}
	if rep := scan(steward, qrs["t2"], ""); rep.status != 401 {
		t.Errorf("a revoked device: %d %s, want 401", rep.status, rep.body)
	}
}

// Every gate route answers bad input with a problem naming the field.
func TestGateBadInputMatrix(t *testing.T) {
	r, qrs := startGate(t)
	admin := r.key(t, "ticketing.admin", "gate.read", "gate.manage", "gate.scan", "gate.search")
	narrowed := r.key(t, "gate.scan:ev2")
	supervisor := r.key(t, "ticketing.admin", "gate.manage", "gate.override")
	for _, tc := range []struct {
		method, path, key, body string
		status                  int
		field                   string
	}{
		{"GET", "/api/v1/gate/events/ev1/counts", "", "", 401, ""},
		{"GET", "/api/v1/gate/events/ev1/bundle", narrowed, "", 403, ""},
		{"GET", "/api/v1/gate/events/nope", admin, "", 404, ""},
		{"GET", "/api/v1/gate/events/ev1?x=1", admin, "", 422, "x"},
		{"PUT", "/api/v1/gate/events/ev1/gates/north", admin, `{"name":"N","areas":["ga"],"direction":"sideways"}`, 422, "direction"},
		{"PUT", "/api/v1/gate/events/ev1/gates/north", admin, `{"name":"N","areas":["pit"],"direction":"entry"}`, 422, "areas[0]"},
		{"PUT", "/api/v1/gate/events/ev1/gates/north", admin, `{"name":"","areas":["ga"],"direction":"entry"}`, 422, "name"},
		{"PUT", "/api/v1/gate/events/ev1/gates/north", admin, `{"name":"N","areas":["ga"],"direction":"entry","list_id":"nope"}`, 422, "list_id"},
		{"PUT", "/api/v1/gate/events/ev1/gates/north", admin, `{"name":"N","areas":"ga","direction":"entry"}`, 422, "areas"},
		{"PUT", "/api/v1/gate/events/ev1/gates/no%20pe", admin, `{"name":"N","areas":["ga"],"direction":"entry"}`, 422, "gate_id"},
		{"PUT", "/api/v1/gate/events/ev1/lists/day", admin, `{"name":"Day","areas":[]}`, 422, "areas"},
		{"PUT", "/api/v1/gate/events/ev1/lists/day", admin, `{"name":"Day","areas":["ga"],"multiple":true}`, 422, "multiple"},
		{"DELETE", "/api/v1/gate/events/ev1/keys/x", admin, "", 422, "key"},
		{"DELETE", "/api/v1/gate/events/ev1/keys/1", admin, "", 422, "key_id"},
		{"POST", "/api/v1/gate/events/ev1/passes/t1/block", admin, `{"reason":""}`, 422, "reason"},
		{"POST", "/api/v1/gate/events/ev1/passes/nope/block", admin, `{"reason":"lost"}`, 404, ""},
		{"POST", "/api/v1/gate/events/ev1/enrolments", admin, `{"gate_id":"main","role":"boss","name":"x"}`, 422, "role"},
		{"POST", "/api/v1/gate/events/ev1/enrolments", admin, `{"gate_id":"nope","role":"steward","name":"x"}`, 422, "gate_id"},
		{"POST", "/api/v1/gate/events/ev1/enrolments", admin, `{"gate_id":"main","role":"steward","name":"x","ttl_seconds":-1}`, 422, "ttl_seconds"},
		{"DELETE", "/api/v1/gate/events/ev1/devices/nope", admin, "", 404, ""},
		{"POST", "/api/v1/gate/enrol", "", `{"code":""}`, 422, "code"},
		{"POST", "/api/v1/gate/enrol", "", `{"code":"wrong"}`, 401, ""},
		{"POST", "/api/v1/gate/enrol", "", `{"code":`, 400, ""},
		{"POST", "/api/v1/gate/events/ev1/redeem", admin, `{"gate_id":"main","direction":"entry"}`, 422, "secret"},
		{"POST", "/api/v1/gate/events/ev1/redeem", admin, `{"secret":"x","gate_id":"main","direction":"in"}`, 422, "direction"},
		{"POST", "/api/v1/gate/events/ev1/redeem", admin, `{"secret":"x","gate_id":"nope","direction":"entry"}`, 422, "gate_id"},
		{"POST", "/api/v1/gate/events/ev1/redeem", admin, `{"secret":"x","gate_id":"main","direction":"entry","at":"yesterday"}`, 422, "at"},
		{"POST", "/api/v1/gate/events/ev1/redeem", admin, `{"secret":"x","gate_id":"main","direction":"entry","force":"yes"}`, 422, "force"},
		{"POST", "/api/v1/gate/events/ev1/redeem", admin, `{"secret":"x","gate_id":"main","direction":"entry","nonce":"` + strings.Repeat("n", 101) + `"}`, 422, "nonce"},
		{"POST", "/api/v1/gate/events/ev1/passes/t1/admit", admin, `{"gate_id":"main","direction":"entry","override":"lost phone"}`, 403, ""},
		{"POST", "/api/v1/gate/events/ev1/passes/t1/admit", supervisor, `{"gate_id":"main","direction":"entry"}`, 422, "override"},
		{"POST", "/api/v1/gate/events/ev1/passes/t1/admit", supervisor, `{"gate_id":"main","direction":"entry","override":" "}`, 422, "override"},
		{"POST", "/api/v1/gate/events/ev1/passes/t1/admit", supervisor, `{"gate_id":"main","direction":"in","override":"lost phone"}`, 422, "direction"},
		{"POST", "/api/v1/gate/events/ev1/passes/t1/admit", supervisor, `{"gate_id":"nope","direction":"entry","override":"lost phone"}`, 422, "gate_id"},
		{"POST", "/api/v1/gate/events/ev1/passes/t1/admit", supervisor, `{"gate_id":"main","direction":"entry","override":"lost phone","at":"soon"}`, 422, "at"},
		{"POST", "/api/v1/gate/events/ev1/passes/t1/admit", supervisor, `{"gate_id":"main","direction":"entry","override":"lost phone","secret":"x"}`, 422, "secret"},
		{"POST", "/api/v1/gate/events/ev1/passes/no%20pe/admit", supervisor, `{"gate_id":"main","direction":"entry","override":"lost phone"}`, 422, "pass_id"},
		{"POST", "/api/v1/gate/events/ev1/upload", admin, `{"scans":[]}`, 422, "scans"},
		{"POST", "/api/v1/gate/events/ev1/upload", admin, `{"scans":[{"secret":"` + qrs["t1"] + `","gate_id":"main","direction":"entry","at":"2026-01-01T00:00:00Z"}]}`, 422, "scans[0].nonce"},
		{"POST", "/api/v1/gate/events/ev1/upload", admin, `{"scans":[{"secret":"x","gate_id":"main","direction":"entry","nonce":"n","at":"soon"}]}`, 422, "scans[0].at"},
		{"POST", "/api/v1/gate/events/ev1/upload", admin, `{"scans":[{"secret":"x","gate_id":"nope","direction":"entry","nonce":"n","at":"2026-01-01T00:00:00Z"}]}`, 422, "scans[0].gate_id"},
		{"GET", "/api/v1/gate/events/ev1/bundle?passes=maybe", admin, "", 422, "passes"},
		{"GET", "/api/v1/gate/events/ev1/changes?after=-1", admin, "", 422, "after"},
		{"GET", "/api/v1/gate/events/ev1/changes?limit=0", admin, "", 422, "limit"},
		{"GET", "/api/v1/gate/events/ev1/changes?after=x", admin, "", 422, "after"},
		{"GET", "/api/v1/gate/events/ev1/passes?limit=1000", admin, "", 422, "limit"},
		{"POST", "/api/v1/gate/rebuild?now=1", admin, "", 422, "now"},
		{"POST", "/api/v1/gate/events/nope/rebuild", admin, "", 404, ""},
	} {
		rep := r.call(t, tc.method, tc.path, tc.key, tc.body)
		if rep.status != tc.status || (tc.field != "" && !strings.Contains(rep.body, `"field":"`+tc.field+`"`)) {
			t.Errorf("%s %s %s: got %d %s, want %d naming %q", tc.method, tc.path, tc.body, rep.status, rep.body, tc.status, tc.field)
		}
		if rep.status >= 400 && !strings.Contains(rep.header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s %s: content type %q, want problem details", tc.method, tc.path, rep.header.Get("Content-Type"))
		}
	}
}

// docs/api.md lists every gate route the server registers, and no other.
func TestGateRoutesDocumented(t *testing.T) {
	r := start(t, Config{})
	var registered []string
	for _, p := range muxPatterns(t, r.mux) {
		if strings.Contains(p, "/api/v1/gate") {
			registered = append(registered, p)
		}
	}
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, line := range strings.Split(string(doc), "\n") {
		f := strings.Split(line, "|")
		if len(f) > 3 && strings.Contains(f[2], "/api/v1/gate") {
			documented = append(documented, strings.TrimSpace(f[1])+" "+strings.Trim(strings.TrimSpace(f[2]), "`"))
		}
	}
	slices.Sort(registered)
	slices.Sort(documented)
	if len(registered) == 0 || !slices.Equal(registered, documented) {
		t.Errorf("registered gate routes:\n%s\ndocumented in docs/api.md:\n%s", strings.Join(registered, "\n"), strings.Join(documented, "\n"))
	}
}
