package dlqapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/internal/dlqapi"
	"github.com/arus-platform/arus/stream"
)

// roleAuth lets every request in as a user with the role in the header
// X-Role (operator by default).
type roleAuth struct{}

func (roleAuth) RequestPrincipal(r *http.Request) (*auth.Principal, error) {
	role := auth.Role(r.Header.Get("X-Role"))
	if role == "" {
		role = auth.RoleOperator
	}
	return &auth.Principal{User: auth.User{Username: "test", Roles: []auth.Role{role}}}, nil
}

// server serves the API with the dead-letter routes over a broker seeded
// with dead letters.
func server(t *testing.T) (string, stream.Broker) {
	t.Helper()
	b := brokertest.Embedded.Open(t)
	seed(t, b)
	a, err := api.New(b, api.Config{Logger: brokertest.Logger(), Auth: roleAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := dlq.New(b, dlq.Config{Logger: brokertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	dlqapi.Register(a, mux, m)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, b
}

type answer struct {
	status int
	body   []byte
}

func call(t *testing.T, method, url, role, body string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("X-Role", role)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

func decode[T any](t *testing.T, a answer, status int) T {
	t.Helper()
	var v T
	if a.status != status {
		t.Fatalf("status %d, want %d; body %s", a.status, status, a.body)
	}
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
	return v
}

func TestHTTP(t *testing.T) {
	url, _ := server(t)
	base := url + "/api/v1/dlq"
	list := decode[dlqapi.QueueList](t, call(t, "GET", base, "viewer", ""), 200)
	if len(list.Queues) != 1 || list.Queues[0].Pending != 6 {
		t.Fatalf("list: got %+v, want one queue with 6 pending", list)
	}
	detail := decode[dlqapi.QueueDetail](t, call(t, "GET", base+"/orders.g.dlq", "viewer", ""), 200)
	if detail.Topic != "orders" || len(detail.Reasons) != 3 || detail.Reasons[0].Count != 3 {
		t.Errorf("detail: got %+v", detail)
	}
	recs := decode[dlqapi.RecordList](t, call(t, "GET", base+"/orders.g.dlq/records?error=bad&limit=1", "viewer", ""), 200)
	if len(recs.Records) != 1 || recs.Records[0].Offset != 3 || recs.Records[0].Error != "bad total" || recs.Records[0].Record.Value == nil || *recs.Records[0].Record.Value != "v" {
		t.Errorf("records: got %+v", recs)
	}
	one := decode[dlqapi.Record](t, call(t, "GET", base+"/orders.g.dlq/records/0/5", "viewer", ""), 200)
	if one.Error != "missing field" || *one.Record.Key != "k5" {
		t.Errorf("one record: got %+v", one)
	}
	reasons := decode[dlqapi.ReasonList](t, call(t, "GET", base+"/orders.g.dlq/reasons?key=k0", "viewer", ""), 200)
	if len(reasons.Reasons) != 1 || reasons.Reasons[0].Count != 1 {
		t.Errorf("reasons for k0: got %+v", reasons)
	}
	if a := call(t, "POST", base+"/orders.g.dlq/replay", "viewer", `{"all":true}`); a.status != 403 {
		t.Errorf("replay as a viewer: status %d, want 403", a.status)
	}
	rep := decode[dlqapi.ActionResponse](t, call(t, "POST", base+"/orders.g.dlq/replay", "", `{"records":[{"partition":0,"offset":1}]}`), 200)
	if rep.Count != 1 || rep.Action != "replayed" || rep.RetryTopic != "orders.g.retry" {
		t.Errorf("replay one: got %+v", rep)
	}
	dis := decode[dlqapi.ActionResponse](t, call(t, "POST", base+"/orders.g.dlq/discard", "", `{"filter":{"error":"timeout"}}`), 200)
	if dis.Count != 2 {
		t.Errorf("discard by error: got %+v, want 2 (one of 3 was replayed)", dis)
	}
	rest := decode[dlqapi.ActionResponse](t, call(t, "POST", base+"/orders.g.dlq/replay", "", `{"all":true}`), 200)
	if rest.Count != 3 {
		t.Errorf("replay all: got %+v, want the 3 left", rest)
	}
}

// TestHTTPBadInput is the bad-input matrix of the dead-letter routes.
func TestHTTPBadInput(t *testing.T) {
	url, _ := server(t)
	base := url + "/api/v1/dlq"
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		field                    string // a field error expected to name it
	}{
		{"malformed JSON", "POST", "/orders.g.dlq/replay", `{"all":tru`, 400, ""},
		{"empty body", "POST", "/orders.g.dlq/discard", ``, 400, ""},
		{"unknown field", "POST", "/orders.g.dlq/replay", `{"everything":true}`, 422, "everything"},
		{"wrong type", "POST", "/orders.g.dlq/replay", `{"all":"yes"}`, 422, "all"},
		{"nothing chosen", "POST", "/orders.g.dlq/replay", `{}`, 422, "all"},
		{"two chosen", "POST", "/orders.g.dlq/replay", `{"all":true,"filter":{"key":"k1"}}`, 422, "all"},
		{"empty filter", "POST", "/orders.g.dlq/discard", `{"filter":{}}`, 422, "filter"},
		{"bad time", "POST", "/orders.g.dlq/replay", `{"filter":{"from":"yesterday"}}`, 422, "filter.from"},
		{"negative partition", "POST", "/orders.g.dlq/replay", `{"records":[{"partition":-1,"offset":0}]}`, 422, "records[0].partition"},
		{"negative offset", "POST", "/orders.g.dlq/discard", `{"records":[{"partition":0,"offset":-3}]}`, 422, "records[0].offset"},
		{"unknown queue replay", "POST", "/nope.g.dlq/replay", `{"all":true}`, 404, ""},
		{"not a queue", "GET", "/orders/records", ``, 404, ""},
		{"unknown queue", "GET", "/nope.g.dlq", ``, 404, ""},
		{"unknown record", "GET", "/orders.g.dlq/records/0/99", ``, 404, ""},
		{"bad queue name", "GET", "/bad%20name.dlq/records", ``, 422, "dlq"},
		{"bad partition", "GET", "/orders.g.dlq/records/x/1", ``, 422, "partition"},
		{"bad offset", "GET", "/orders.g.dlq/records/0/-1", ``, 422, "offset"},
		{"bad limit", "GET", "/orders.g.dlq/records?limit=0", ``, 422, "limit"},
		{"bad all", "GET", "/orders.g.dlq/records?all=maybe", ``, 422, "all"},
		{"bad from", "GET", "/orders.g.dlq/reasons?from=noon", ``, 422, "from"},
		{"unknown parameter", "GET", "/orders.g.dlq/records?colour=red", ``, 422, "colour"},
		{"limit on reasons", "GET", "/orders.g.dlq/reasons?limit=5", ``, 422, "limit"},
		{"parameter on list", "GET", "?x=1", ``, 422, "x"},
		{"wrong method", "DELETE", "/orders.g.dlq", ``, 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, tc.method, base+tc.path, "", tc.body)
			p := decode[api.Problem](t, a, tc.status)
			if tc.field == "" {
				return
			}
			for _, fe := range p.Errors {
				if fe.Name == tc.field {
					return
				}
			}
			t.Errorf("problem %+v names no field %q", p, tc.field)
		})
	}
}

// TestClient drives the routes through the client, as arus dlq --server
// does.
func TestClient(t *testing.T) {
	url, _ := server(t)
	c, err := dlqapi.NewClient(url, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	qs, err := c.List(ctx)
	if err != nil || len(qs) != 1 || qs[0].Pending != 6 {
		t.Fatalf("List: got %+v, %v", qs, err)
	}
	ls, err := c.Records(ctx, "orders.g.dlq", dlq.Filter{Error: "timeout"})
	if err != nil || len(ls) != 3 || ls[0].Record.ID() != "id-0" || ls[0].Topic != "orders" {
		t.Fatalf("Records: got %d letters, %v", len(ls), err)
	}
	l, err := c.Get(ctx, "orders.g.dlq", dlq.Position{Partition: 0, Offset: 4})
	if err != nil || string(l.Record.Key) != "k4" {
		t.Fatalf("Get: got %+v, %v", l, err)
	}
	rs, err := c.Reasons(ctx, "orders.g.dlq", dlq.Filter{})
	if err != nil || len(rs) != 3 {
		t.Fatalf("Reasons: got %+v, %v", rs, err)
	}
	if n, err := c.Discard(ctx, "orders.g.dlq", dlq.Filter{Positions: []dlq.Position{{Partition: 0, Offset: 0}}}); err != nil || n != 1 {
		t.Fatalf("Discard one: got %d, %v", n, err)
	}
	if n, err := c.Replay(ctx, "orders.g.dlq", dlq.Filter{Key: "k1"}); err != nil || n != 1 {
		t.Fatalf("Replay by key: got %d, %v", n, err)
	}
	if n, err := c.Replay(ctx, "orders.g.dlq", dlq.Filter{}); err != nil || n != 4 {
		t.Fatalf("Replay all: got %d, %v; want 4", n, err)
	}
	if _, err := c.Records(ctx, "nope.g.dlq", dlq.Filter{}); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("unknown queue: got %v, want ErrNotFound", err)
	}
}

// seed fills orders.g.dlq with dead letters of records with keys k0..k5:
// k0..k2 failed with "timeout talking to db", k3..k4 with "bad total",
// k5 with "missing field".
func seed(t *testing.T, b stream.Broker) {
	t.Helper()
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	errs := []string{"timeout talking to db", "timeout talking to db", "timeout talking to db", "bad total", "bad total", "missing field"}
	var recs []*stream.Record
	for i, e := range errs {
		orig := &stream.Record{Topic: "orders", Partition: 0, Offset: int64(i), Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte("v"),
			Headers: []stream.Header{{Key: stream.HeaderID, Value: []byte(fmt.Sprintf("id-%d", i))}}}
		d := consume.DeadLetterRecord(orig, "g", errors.New(e), at)
		d.Timestamp = at.Add(time.Duration(i/3) * time.Hour)
		recs = append(recs, d)
	}
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "orders.g.dlq", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
}
