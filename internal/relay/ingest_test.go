package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// toggleProducer fails every Produce while fail is set.
type toggleProducer struct {
	stream.Producer
	fail atomic.Bool
}

func (p *toggleProducer) Produce(ctx context.Context, records ...*stream.Record) error {
	if p.fail.Load() {
		failed := make([]int, len(records))
		for i := range failed {
			failed[i] = i
		}
		return &stream.ProduceError{Failed: failed, Err: stream.ErrUnavailable}
	}
	return p.Producer.Produce(ctx, records...)
}

type ingestEnv struct {
	t        *testing.T
	url      string
	r        *Relay
	auth     *auth.Store
	broker   stream.Broker
	producer *toggleProducer
	admin    string // relay.read, relay.write and relay.ingest on everything
	cars     string // the "shop" application: cars only
	bikes    string // the "bikeshop" application: bikes only
}

func newIngestEnv(t *testing.T) *ingestEnv {
	t.Helper()
	ctx := context.Background()
	b := brokertest.Embedded.Open(t)
	tp := &toggleProducer{Producer: b}
	// Destinations on the host "down.invalid" fail their connection test.
	tester := testerFunc(func(_ context.Context, d Destination, _ string) error {
		if d.Host == "down.invalid" {
			return errors.New("dial tcp: lookup down.invalid: no such host")
		}
		return nil
	})
	r, as := newRelay(t, store.Config{Dir: t.TempDir()}, tp, tester, func(c *Config) {
		c.SQLiteDir = t.TempDir()
		c.MaxBodyBytes = 64 << 10
		c.MaxRecordBytes = 1 << 10
		c.MaxRecords = 50
	})
	a, err := api.New(b, api.Config{Auth: as, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	Register(a, mux, r)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &ingestEnv{t: t, url: srv.URL, r: r, auth: as, broker: b, producer: tp}
	_, e.admin, err = as.CreateAPIKey(ctx, auth.NewAPIKey{Name: "admin", Scopes: []string{"relay.read", "relay.write", "relay.ingest"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateDataset(ctx, Dataset{Name: "cars", KeyFields: []string{"id"}, Schema: json.RawMessage(
		`{"type":"object","properties":{"price":{"type":"number","minimum":0},"stock":{"type":"integer"}}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateDataset(ctx, Dataset{Name: "bikes", KeyFields: []string{"brand", "model"}}); err != nil {
		t.Fatal(err)
	}
	if _, e.cars, err = r.CreateApplication(ctx, NewApplication{Name: "shop", Datasets: []string{"cars"}}); err != nil {
		t.Fatal(err)
	}
	if _, e.bikes, err = r.CreateApplication(ctx, NewApplication{Name: "bikeshop", Datasets: []string{"bikes"}, RateLimit: 1, Burst: 2}); err != nil {
		t.Fatal(err)
	}
	return e
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *ingestEnv) do(method, path, key, body string, header ...string) answer {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (e *ingestEnv) ingest(dataset, key, body string, header ...string) answer {
	e.t.Helper()
	return e.do("POST", "/api/v1/datasets/"+dataset+"/records", key, body, header...)
}

// topicRecords reads every record of a topic.
func (e *ingestEnv) topicRecords(topic string) []*stream.Record {
	e.t.Helper()
	ctx := context.Background()
	info, err := e.broker.DescribeTopic(ctx, topic)
	if err != nil {
		return nil
	}
	var out []*stream.Record
	for p, o := range info.Offsets {
		for off := o.Start; off < o.End; {
			recs, err := e.broker.Read(ctx, topic, int32(p), off, 10000)
			if err != nil || len(recs) == 0 {
				e.t.Fatalf("read %s/%d at %d: %v", topic, p, off, err)
			}
			out = append(out, recs...)
			off = recs[len(recs)-1].Offset + 1
		}
	}
	return out
}

func ids(a answer) []string {
	var out []string
	if list, ok := a.body["ids"].([]any); ok {
		for _, v := range list {
			s, _ := v.(string)
			out = append(out, s)
		}
	}
	return out
}

func errorFields(a answer) []string {
	var out []string
	list, _ := a.body["errors"].([]any)
	for _, v := range list {
		m, _ := v.(map[string]any)
		f, _ := m["field"].(string)
		out = append(out, f)
	}
	return out
}

func TestIngestAccepted(t *testing.T) {
	e := newIngestEnv(t)
	a := e.ingest("cars", e.cars, `{"id": 1, "car_name": "Avanza", "stock": 4, "price": 250000000.00, "category": "mpv", "type": "manual"}`)
	if a.status != http.StatusAccepted || len(ids(a)) != 1 {
		t.Fatalf("single: %d %s", a.status, a.raw)
	}
	a2 := e.ingest("cars", e.cars, `[{"id": "2", "car_name": "Pajero"}, {"op": "delete", "data": {"id": 3}}, {"op": "upsert", "data": {"id": 4.0}}]`)
	if a2.status != http.StatusAccepted || len(ids(a2)) != 3 {
		t.Fatalf("array: %d %s", a2.status, a2.raw)
	}
	recs := e.topicRecords("relay.cars")
	if len(recs) != 4 {
		t.Fatalf("topic holds %d records, want 4", len(recs))
	}
	byID := map[string]*stream.Record{}
	for _, r := range recs {
		byID[r.ID()] = r
	}
	want := map[string]struct{ key, op, data string }{
		ids(a)[0]:  {"1", "upsert", `{"car_name":"Avanza","category":"mpv","id":1,"price":250000000.00,"stock":4,"type":"manual"}`},
		ids(a2)[0]: {"2", "upsert", `{"car_name":"Pajero","id":"2"}`},
		ids(a2)[1]: {"3", "delete", `{"id":3}`},
		ids(a2)[2]: {"4", "upsert", `{"id":4.0}`},
	}
	for id, w := range want {
		r := byID[id]
		if r == nil {
			t.Errorf("record %s missing from the topic", id)
			continue
		}
		var env Envelope
		_ = json.Unmarshal(r.Value, &env)
		if string(r.Key) != w.key || env.Op != w.op || string(env.Data) != w.data {
			t.Errorf("record %s: key %q op %q data %s; want %q %q %s", id, r.Key, env.Op, env.Data, w.key, w.op, w.data)
		}
		if ds, _ := r.Header(HeaderDataset); string(ds) != "cars" {
			t.Errorf("dataset header %q", ds)
		}
		if app, _ := r.Header(HeaderApplication); string(app) != "shop" {
			t.Errorf("application header %q", app)
		}
	}
	// A composite key is a JSON array of the values.
	a = e.ingest("bikes", e.bikes, `{"brand": "Polygon", "model": 7}`)
	if a.status != http.StatusAccepted {
		t.Fatalf("bikes: %d %s", a.status, a.raw)
	}
	if recs := e.topicRecords("relay.bikes"); len(recs) != 1 || string(recs[0].Key) != `["Polygon",7]` {
		t.Errorf("bikes key: %v", recs)
	}
}

// Ingest keeps each record as it decoded it, for delivery: what it keeps
// must be what decoding the stored record gives, and the stored record
// what json.Marshal makes of its envelope.
func TestIngestKeepsDecodedRecords(t *testing.T) {
	e := newIngestEnv(t)
	a := e.ingest("cars", e.cars, `[{"id": 1, "car_name": "Škoda <a&b>", "price": 1.50e3, "tags": ["x", {"k": null}], "ok": true},
		{"op": "delete", "data": {"id": "2"}}, {"id": 3, "note": "line\u2028sep \"quoted\" \\ \t"}]`)
	if a.status != http.StatusAccepted {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	recs := e.topicRecords("relay.cars")
	if len(recs) != 3 {
		t.Fatalf("topic holds %d records, want 3", len(recs))
	}
	if n := e.r.Envelopes().Len(); n != 3 {
		t.Fatalf("%d records kept, want 3", n)
	}
	for _, r := range recs {
		var env Envelope
		if err := json.Unmarshal(r.Value, &env); err != nil {
			t.Fatal(err)
		}
		if want, _ := json.Marshal(env); string(r.Value) != string(want) {
			t.Errorf("stored %s, json.Marshal gives %s", r.Value, want)
		}
		got, want := e.r.Envelopes().Decode([][]byte{r.Value})[0], DecodeEnvelope(r.Value)
		if got.Err != nil || want.Err != nil || got.Op != want.Op || !reflect.DeepEqual(got.Data, want.Data) {
			t.Errorf("record %s: kept %#v, decoded %#v", r.Value, got, want)
		}
	}
}

func TestIngestErrors(t *testing.T) {
	e := newIngestEnv(t)
	// bikes has no schema, so its records are checked against its route:
	// the catalogue's cars table, id integer NOT NULL and car_name text.
	ctx := context.Background()
	dest, err := e.r.CreateDestination(ctx, DestinationInput{Name: "db", Kind: KindPostgres, Host: "db.example", Database: "shop", User: "relay", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.CreateRoute(ctx, RouteInput{Name: "bikes-db", Dataset: "bikes", Destination: dest.ID, Table: "cars", Mode: ModeInsert,
		Mapping: []ColumnMap{{Column: "id", Field: "model"}, {Column: "car_name", Field: "brand"}}}); err != nil {
		t.Fatal(err)
	}
	big := `{"id": 1, "pad": "` + strings.Repeat("x", 2000) + `"}`
	many := "[" + strings.Repeat(`{"id":1},`, 50) + `{"id":2}]`
	huge := `[` + strings.Repeat(`{"id": 1, "pad": "`+strings.Repeat("y", 900)+`"},`, 80) + `{"id":1}]`
	cases := []struct {
		name, dataset, key, body string
		status                   int
		fields                   []string
		detail                   string
	}{
		{"malformed", "cars", e.cars, `{"id": 1,}`, 400, nil, "line 1, column 10"},
		{"malformed on line 3", "cars", e.cars, "[\n{\"id\": 1},\n{\"id\" 2}]", 400, nil, "line 3, column 7"},
		{"truncated", "cars", e.cars, `[{"id": 1}`, 400, nil, "unexpected end"},
		{"two values", "cars", e.cars, `{"id": 1} {"id": 2}`, 400, nil, "more than one JSON value"},
		{"empty body", "cars", e.cars, ``, 400, nil, "empty"},
		{"no key", "cars", "", `{"id": 1}`, 401, nil, "no credentials"},
		{"bad key", "cars", "arus_aaaaaaaa_" + strings.Repeat("a", 52), `{"id": 1}`, 401, nil, "not valid"},
		{"other dataset", "cars", e.bikes, `{"id": 1}`, 403, nil, "relay.ingest on dataset cars"},
		{"unknown dataset", "ghost", e.admin, `{"id": 1}`, 404, nil, "ghost"},
		{"unknown dataset, key not allowed", "ghost", e.cars, `{"id": 1}`, 403, nil, ""},
		{"body too large", "cars", e.cars, huge, 413, nil, "larger than"},
		{"record too large", "cars", e.cars, "[{\"id\":0}, " + big + "]", 413, nil, "[1]: the record is"},
		{"too many records", "cars", e.cars, many, 413, nil, "at most 50"},
		{"missing key", "cars", e.cars, `[{"id": 1}, {"car_name": "x"}]`, 422, []string{"[1].id"}, ""},
		{"object key", "cars", e.cars, `{"id": {"a": 1}}`, 422, []string{"id"}, "an object"},
		{"null key", "cars", e.cars, `{"id": null}`, 422, []string{"id"}, "null"},
		{"schema", "cars", e.cars, `[{"id": 1, "price": "cheap"}, {"id": 2}, {"id": 3, "price": -1, "stock": 1.5}]`, 422,
			[]string{"[0].price", "[2].price", "[2].stock"}, ""},
		{"schema in envelope", "cars", e.cars, `[{"op": "upsert", "data": {"id": 1, "price": "x"}}]`, 422, []string{"[0].data.price"}, ""},
		{"not an object", "cars", e.cars, `[{"id": 1}, 7, "x"]`, 422, []string{"[1]", "[2]"}, ""},
		{"bad op", "cars", e.cars, `[{"op": "merge", "data": {"id": 1}}]`, 422, []string{"[0].op"}, ""},
		{"bad data", "cars", e.cars, `{"op": "delete", "data": [1]}`, 422, []string{"data"}, ""},
		{"empty array", "cars", e.cars, `[]`, 422, []string{"(body)"}, ""},
		{"scalar body", "cars", e.cars, `42`, 422, []string{"(body)"}, ""},
		{"a value the route's column refuses", "bikes", e.bikes, `[{"brand": "a", "model": "7"}, {"brand": "b", "model": "seven"}]`, 422,
			[]string{"[1].model"}, `[1].model: route bikes-db: column id (integer): "seven" is not an integer`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.ingest(c.dataset, c.key, c.body)
			if a.status != c.status {
				t.Fatalf("got %d %s, want %d", a.status, a.raw, c.status)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			if d, _ := a.body["detail"].(string); !strings.Contains(d, c.detail) {
				t.Errorf("detail %q does not contain %q", d, c.detail)
			}
			if c.fields != nil && fmt.Sprint(errorFields(a)) != fmt.Sprint(c.fields) {
				t.Errorf("fields %v, want %v (%s)", errorFields(a), c.fields, a.raw)
			}
			if c.status == 401 && a.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if n := len(e.topicRecords("relay.cars")); n != 0 {
		t.Errorf("%d records stored by failed requests", n)
	}

	t.Run("rate limited", func(t *testing.T) {
		if a := e.ingest("bikes", e.bikes, `[{"brand":"a","model":1},{"brand":"a","model":2}]`); a.status != 202 {
			t.Fatalf("within burst: %d %s", a.status, a.raw)
		}
		a := e.ingest("bikes", e.bikes, `{"brand":"a","model":3}`)
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
			t.Fatalf("got %d (Retry-After %q) %s, want 429", a.status, a.header.Get("Retry-After"), a.raw)
		}
	})

	t.Run("backbone down", func(t *testing.T) {
		e.producer.fail.Store(true)
		defer e.producer.fail.Store(false)
		a := e.ingest("cars", e.cars, `[{"id": 1}, {"id": 2}]`)
		if a.status != http.StatusServiceUnavailable {
			t.Fatalf("got %d %s, want 503", a.status, a.raw)
		}
		if n := len(e.topicRecords("relay.cars")); n != 0 {
			t.Errorf("%d records stored", n)
		}
	})
}

func TestIngestIdempotency(t *testing.T) {
	e := newIngestEnv(t)
	body := `[{"id": 1}, {"id": 2}]`
	first := e.ingest("cars", e.cars, body, IdempotencyHeader, "order-77")
	if first.status != 202 {
		t.Fatalf("first: %d %s", first.status, first.raw)
	}
	again := e.ingest("cars", e.cars, body, IdempotencyHeader, "order-77")
	if again.status != 202 || fmt.Sprint(ids(again)) != fmt.Sprint(ids(first)) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %s, want the first answer %s", again.status, again.raw, first.raw)
	}
	if n := len(e.topicRecords("relay.cars")); n != 2 {
		t.Errorf("topic holds %d records after a replay, want 2", n)
	}
	other := e.ingest("cars", e.cars, `[{"id": 3}]`, IdempotencyHeader, "order-77")
	if other.status != http.StatusUnprocessableEntity || other.body["type"] != ProblemIdempotencyConflict {
		t.Errorf("reused key: %d %s", other.status, other.raw)
	}
	// Keys are per application: another caller may use the same one.
	if a := e.ingest("cars", e.admin, `[{"id": 3}]`, IdempotencyHeader, "order-77"); a.status != 202 {
		t.Errorf("other caller: %d %s", a.status, a.raw)
	}
	// A failed request is not remembered: its retry is processed.
	e.producer.fail.Store(true)
	if a := e.ingest("cars", e.cars, `{"id": 9}`, IdempotencyHeader, "k2"); a.status != 503 {
		t.Fatalf("down: %d", a.status)
	}
	e.producer.fail.Store(false)
	if a := e.ingest("cars", e.cars, `{"id": 9}`, IdempotencyHeader, "k2"); a.status != 202 {
		t.Errorf("retry: %d %s", a.status, a.raw)
	}
	if a := e.ingest("cars", e.cars, `{"id": 9}`, IdempotencyHeader, "bad key"); a.status != 422 {
		t.Errorf("bad key: %d %s", a.status, a.raw)
	}
	// Expired answers are forgotten.
	e.r.cfg.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	if err := e.r.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a := e.ingest("cars", e.cars, `[{"id": 5}]`, IdempotencyHeader, "order-77"); a.status != 202 {
		t.Errorf("after expiry: %d %s", a.status, a.raw)
	}
}

func TestIngestConcurrent(t *testing.T) {
	e := newIngestEnv(t)
	const clients, each = 8, 40
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf(`{"id": "%d-%d", "stock": %d}`, c, i, i)
				if i%4 == 0 {
					body = fmt.Sprintf(`[{"id": "%d-%d-a"}, {"op": "delete", "data": {"id": "%d-%d-b"}}]`, c, i, c, i)
				}
				req, _ := http.NewRequest("POST", e.url+"/api/v1/datasets/cars/records", bytes.NewBufferString(body))
				req.Header.Set("Authorization", "Bearer "+e.cars)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				var out ingestResult
				_ = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode != 202 {
					t.Errorf("status %d", resp.StatusCode)
					return
				}
				mu.Lock()
				for _, id := range out.IDs {
					seen[id]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	recs := e.topicRecords("relay.cars")
	inTopic := map[string]int{}
	for _, r := range recs {
		inTopic[r.ID()]++
	}
	if len(seen) != len(recs) {
		t.Errorf("%d ids answered, %d records in the topic", len(seen), len(recs))
	}
	for id, n := range seen {
		if n != 1 || inTopic[id] != 1 {
			t.Errorf("id %s answered %d times, in the topic %d times", id, n, inTopic[id])
		}
	}
}

// FuzzParseBody checks that the body parser never panics, that it either
// returns records or a client-error problem, and that every record is an
// object.
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{`{"id":1}`, `[{"id":1},{"op":"delete","data":{"id":2}}]`, `[`, `{"op":"x","data":{}}`, `[1,"a",null]`, "", `{} {}`, "[\n{\"a\" 1}]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, p := parseBody(body, 100)
		if p != nil {
			if items != nil || p.Status != 400 && p.Status != 413 && p.Status != 422 {
				t.Fatalf("problem %d with %d items", p.Status, len(items))
			}
			return
		}
		if len(items) == 0 {
			t.Fatal("no records and no problem")
		}
		for _, it := range items {
			if it.data == nil || it.op != "upsert" && it.op != "delete" {
				t.Fatalf("item %+v", it)
			}
		}
	})
}

func TestIngestSession(t *testing.T) {
	e := newIngestEnv(t)
	ctx := context.Background()
	u, err := e.auth.CreateUser(ctx, auth.NewUser{Username: "ops", Roles: []auth.Role{auth.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	sess, token, err := e.auth.CreateSession(ctx, u.ID, auth.SessionMeta{})
	if err != nil {
		t.Fatal(err)
	}
	post := func(csrf string) int {
		req, _ := http.NewRequest("POST", e.url+"/api/v1/datasets/cars/records", strings.NewReader(`{"id": 1}`))
		req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: token})
		if csrf != "" {
			req.Header.Set(api.CSRFHeader, csrf)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(""); got != http.StatusForbidden {
		t.Errorf("session without CSRF token: %d, want 403", got)
	}
	if got := post(sess.CSRFToken); got != http.StatusAccepted {
		t.Errorf("session with CSRF token: %d, want 202", got)
	}
}

func TestProduceProblemPartial(t *testing.T) {
	r := &Relay{log: discardLogger()}
	p := r.produceProblem(context.Background(), "relay.cars", 3, &stream.ProduceError{Failed: []int{1}, Err: stream.ErrUnavailable})
	if p.Status != 503 || fmt.Sprint(p.Failed) != "[1]" || !strings.Contains(p.Detail, "stored 2 of 3") {
		t.Errorf("partial: %+v", p)
	}
	p = r.produceProblem(context.Background(), "relay.cars", 2, stream.AllFailed(2, stream.ErrUnavailable))
	if p.Status != 503 || p.Failed != nil || strings.Contains(p.Detail, "stored") {
		t.Errorf("none stored: %+v", p)
	}
	p = r.produceProblem(context.Background(), "relay.cars", 1, stream.AllFailed(1, stream.ErrRecordTooLarge))
	if p.Status != 413 {
		t.Errorf("too large: %+v", p)
	}
}

func TestIngestMetrics(t *testing.T) {
	e := newIngestEnv(t)
	e.ingest("cars", e.cars, `[{"id": 1}, {"id": 2}]`)
	e.ingest("cars", e.cars, `{"price": 1}`)
	e.ingest("ghost", e.admin, `{}`)
	m := e.r.metrics
	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{counterValue(m.requests.WithLabelValues("cars", "accepted")), 1, "accepted requests"},
		{counterValue(m.records.WithLabelValues("cars", "accepted")), 2, "accepted records"},
		{counterValue(m.requests.WithLabelValues("cars", "invalid")), 1, "invalid requests"},
		{counterValue(m.requests.WithLabelValues("_unknown", "not_found")), 1, "unknown dataset"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
