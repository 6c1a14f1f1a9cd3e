package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// newServer starts the API over an embedded broker in a fresh directory.
func newServer(t *testing.T, cfg api.Config, opts stream.Options) (string, stream.Broker) {
	t.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), RetentionInterval: -1, Options: opts})
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	cfg.Logger = opts.Logger
	s, err := api.New(b, cfg)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.CloseStreams()
		srv.Close()
		_ = b.Close()
	})
	return srv.URL, b
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, method, url, body string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer any-key-for-now")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// decodeInto decodes a JSON answer with status want.
func decodeInto[T any](t *testing.T, r response, want int) T {
	t.Helper()
	var v T
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

func TestHealth(t *testing.T) {
	url, b := newServer(t, api.Config{}, stream.Options{})
	if r := call(t, "GET", url+"/healthz", ""); r.status != 200 {
		t.Fatalf("/healthz: status %d, want 200", r.status)
	}
	if r := call(t, "GET", url+"/readyz", ""); r.status != 200 {
		t.Fatalf("/readyz: status %d, want 200", r.status)
	}
	_ = b.Close()
	r := call(t, "GET", url+"/readyz", "")
	p := decodeInto[api.Problem](t, r, 503)
	if p.Type != api.TypeUnavailable {
		t.Fatalf("/readyz after the broker closed: type %q, want %q", p.Type, api.TypeUnavailable)
	}
	if r := call(t, "GET", url+"/healthz", ""); r.status != 200 {
		t.Fatalf("/healthz with the broker closed: status %d, want 200 (alive)", r.status)
	}
}

func TestTopics(t *testing.T) {
	url, _ := newServer(t, api.Config{DefaultPartitions: 2}, stream.Options{})
	r := call(t, "POST", url+"/api/v1/topics", `{"name":"orders","partitions":3,"retention_ms":3600000,"retention_bytes":1048576}`)
	created := decodeInto[api.Topic](t, r, 201)
	if created.Name != "orders" || created.Partitions != 3 || created.RetentionMS != 3600000 || created.RetentionBytes != 1048576 {
		t.Fatalf("created %+v, want orders with 3 partitions, 1h, 1 MiB", created)
	}
	if got := r.header.Get("Location"); got != "/api/v1/topics/orders" {
		t.Errorf("Location %q, want /api/v1/topics/orders", got)
	}
	defaulted := decodeInto[api.Topic](t, call(t, "POST", url+"/api/v1/topics", `{"name":"audit"}`), 201)
	if defaulted.Partitions != 2 {
		t.Errorf("topic without partitions got %d, want the default 2", defaulted.Partitions)
	}

	list := decodeInto[api.TopicList](t, call(t, "GET", url+"/api/v1/topics", ""), 200)
	var names []string
	for _, tp := range list.Topics {
		names = append(names, tp.Name)
	}
	if strings.Join(names, ",") != "audit,orders" {
		t.Fatalf("listed %v, want [audit orders]", names)
	}

	call(t, "POST", url+"/api/v1/topics/orders/records", `{"records":[{"key":"a","value":"1"},{"key":"a","value":"2"}]}`)
	desc := decodeInto[api.Topic](t, call(t, "GET", url+"/api/v1/topics/orders", ""), 200)
	if len(desc.Offsets) != 3 || desc.Records != 2 {
		t.Fatalf("described %+v, want 3 partitions holding 2 records", desc)
	}
	p := stream.Partition([]byte("a"), 3)
	if o := desc.Offsets[p]; o.Start != 0 || o.End != 2 {
		t.Errorf("partition %d offsets %+v, want 0 to 2", p, o)
	}

	if r := call(t, "DELETE", url+"/api/v1/topics/orders", ""); r.status != 204 {
		t.Fatalf("DELETE: status %d, want 204; %s", r.status, r.body)
	}
	if r := call(t, "GET", url+"/api/v1/topics/orders", ""); r.status != 404 {
		t.Fatalf("GET after DELETE: status %d, want 404", r.status)
	}
}

func TestProduceAndRead(t *testing.T) {
	url, _ := newServer(t, api.Config{}, stream.Options{})
	call(t, "POST", url+"/api/v1/topics", `{"name":"events","partitions":1}`)
	before := time.Now().UTC().Add(-time.Second)
	body := `{"records":[
		{"key":"k1","value":"plain text","headers":{"source":"test","trace":"abc"}},
		{"key":"azE=","value":"AAEC/w==","encoding":"base64","headers":[{"key":"bin","value":"/w=="}]},
		{"value":{"total":12,"items":["a","b"]}},
		{"key":"k1","value":"dated","timestamp":"2030-01-02T03:04:05Z"}
	]}`
	out := decodeInto[api.ProduceResponse](t, call(t, "POST", url+"/api/v1/topics/events/records", body), 200)
	if len(out.Records) != 4 {
		t.Fatalf("produce answered %d records, want 4", len(out.Records))
	}
	for i, p := range out.Records {
		if p.Partition != 0 || p.Offset != int64(i) || p.ID == "" {
			t.Errorf("record %d stored at %d/%d id %q, want 0/%d with an id", i, p.Partition, p.Offset, p.ID, i)
		}
	}

	page := decodeInto[api.RecordsPage](t, call(t, "GET", url+"/api/v1/topics/events/partitions/0/records?offset=0&limit=10", ""), 200)
	if len(page.Records) != 4 || page.NextOffset != 4 {
		t.Fatalf("read %d records, next %d; want 4, next 4", len(page.Records), page.NextOffset)
	}
	tests := []struct {
		i         int
		key       string
		value     string
		encoding  string
		header    string
		headerVal string
	}{
		{0, "k1", "plain text", "", "source", "test"},
		{1, "azE=", "AAEC/w==", "base64", "bin", "/w=="},
		{2, "", `{"total":12,"items":["a","b"]}`, "", stream.HeaderID, out.Records[2].ID},
		{3, "k1", "dated", "", stream.HeaderID, out.Records[3].ID},
	}
	for _, tt := range tests {
		got := page.Records[tt.i]
		key := ""
		if got.Key != nil {
			key = *got.Key
		}
		if key != tt.key || got.Value == nil || *got.Value != tt.value || got.Encoding != tt.encoding {
			t.Errorf("record %d: got key %q value %v encoding %q, want %q %q %q", tt.i, key, got.Value, got.Encoding, tt.key, tt.value, tt.encoding)
		}
		found := false
		for _, h := range got.Headers {
			found = found || (h.Key == tt.header && h.Value != nil && *h.Value == tt.headerVal)
		}
		if !found {
			t.Errorf("record %d: headers %v lack %s=%s", tt.i, got.Headers, tt.header, tt.headerVal)
		}
	}
	if ts := page.Records[3].Timestamp; !ts.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("record 3 timestamp %v, want the one produced", ts)
	}

	page = decodeInto[api.RecordsPage](t, call(t, "GET", url+"/api/v1/topics/events/partitions/0/records?offset=1&limit=2", ""), 200)
	if len(page.Records) != 2 || page.Records[0].Offset != 1 || page.NextOffset != 3 {
		t.Fatalf("read from 1 limit 2: %d records from %d, next %d; want 2 from 1, next 3", len(page.Records), page.Records[0].Offset, page.NextOffset)
	}
	page = decodeInto[api.RecordsPage](t, call(t, "GET", url+"/api/v1/topics/events/partitions/0/records?offset=4", ""), 200)
	if len(page.Records) != 0 || page.NextOffset != 4 {
		t.Fatalf("read at the end: %d records, next %d; want none, next 4", len(page.Records), page.NextOffset)
	}
	page = decodeInto[api.RecordsPage](t, call(t, "GET", url+"/api/v1/topics/events/partitions/0/records?time=2029-01-01T00:00:00Z", ""), 200)
	if len(page.Records) != 1 || page.Records[0].Offset != 3 {
		t.Fatalf("read by time: %+v, want only offset 3", page.Records)
	}
	page = decodeInto[api.RecordsPage](t, call(t, "GET", url+"/api/v1/topics/events/partitions/0/records?limit=1&encoding=base64", ""), 200)
	if got := page.Records[0]; got.Encoding != "base64" || got.Value == nil || *got.Value != "cGxhaW4gdGV4dA==" {
		t.Fatalf("read as base64: value %v encoding %q, want cGxhaW4gdGV4dA== base64", got.Value, got.Encoding)
	}
	off := decodeInto[api.PartitionOffset](t, call(t, "GET", url+"/api/v1/topics/events/partitions/0/offset?time="+before.Format(time.RFC3339), ""), 200)
	if off.Offset != 0 {
		t.Fatalf("offset for a time before every record: %d, want 0", off.Offset)
	}
}

func TestGroups(t *testing.T) {
	url, _ := newServer(t, api.Config{}, stream.Options{})
	// Any name Kafka allows, escaped in the path.
	const group, workers = "svc:workers/v2", "svc:workers%2Fv2"
	call(t, "POST", url+"/api/v1/topics", `{"name":"jobs","partitions":2}`)
	var recs []string
	for i := range 10 {
		recs = append(recs, `{"key":"k`+string(rune('0'+i))+`","value":"v"}`)
	}
	decodeInto[api.ProduceResponse](t, call(t, "POST", url+"/api/v1/topics/jobs/records", `{"records":[`+strings.Join(recs, ",")+`]}`), 200)

	// Consume 4 records in auto-ack mode: one JSON record per line.
	r := call(t, "POST", url+"/api/v1/groups/"+workers+"/consume?topic=jobs&max=4&idle=5s", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("consume: status %d type %q, want 200 application/x-ndjson; %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(string(r.body)))
	for sc.Scan() {
		var rec api.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec.Topic != "jobs" {
			t.Fatalf("line %q is not a record of jobs: %v", sc.Text(), err)
		}
		lines++
	}
	if lines != 4 {
		t.Fatalf("consume with max=4 streamed %d records, want 4", lines)
	}

	g := decodeInto[api.Group](t, call(t, "GET", url+"/api/v1/groups/"+workers, ""), 200)
	var committed int64
	for _, o := range g.Offsets {
		committed += *o.Committed
	}
	if committed != 4 || g.Lag != 6 {
		t.Fatalf("group after consuming 4: committed %d lag %d, want 4 and 6", committed, g.Lag)
	}
	list := decodeInto[api.GroupList](t, call(t, "GET", url+"/api/v1/groups", ""), 200)
	if len(list.Groups) != 1 || list.Groups[0].Group != group {
		t.Fatalf("groups %+v, want only workers", list.Groups)
	}

	resets := []struct {
		body string
		want []int64 // committed per partition after
	}{
		{`{"topic":"jobs","to":"latest"}`, nil},
		{`{"topic":"jobs","to":"earliest"}`, []int64{0, 0}},
		{`{"topic":"jobs","to":"offset","offset":1,"partitions":[0]}`, nil},
		{`{"topic":"jobs","to":"time","time":"2000-01-01T00:00:00Z"}`, []int64{0, 0}},
	}
	for _, tt := range resets {
		out := decodeInto[api.ResetResponse](t, call(t, "POST", url+"/api/v1/groups/"+workers+"/reset", tt.body), 200)
		if out.Group != group || out.Topic != "jobs" || len(out.Offsets) == 0 {
			t.Fatalf("reset %s answered %+v", tt.body, out)
		}
		for i, want := range tt.want {
			if *out.Offsets[i].Committed != want {
				t.Errorf("reset %s: partition %d at %d, want %d", tt.body, i, *out.Offsets[i].Committed, want)
			}
		}
		if strings.Contains(tt.body, "latest") {
			for _, o := range out.Offsets {
				if *o.Committed != o.End || o.Lag != 0 {
					t.Errorf("reset to latest: %+v, want committed = end", o)
				}
			}
		}
		if strings.Contains(tt.body, `"offset":1`) && (len(out.Offsets) != 1 || out.Offsets[0].Partition != 0 || *out.Offsets[0].Committed != 1) {
			t.Errorf("reset partition 0 to offset 1: %+v", out.Offsets)
		}
	}

	if r := call(t, "DELETE", url+"/api/v1/groups/"+workers, ""); r.status != 204 {
		t.Fatalf("DELETE group: status %d; %s", r.status, r.body)
	}
	if r := call(t, "GET", url+"/api/v1/groups/"+workers, ""); r.status != 404 {
		t.Fatalf("GET deleted group: status %d, want 404", r.status)
	}
}

// A partition never committed is null, not a number, in the JSON; the
// member's client id and host come along.
func TestGroupJSONNoCommit(t *testing.T) {
	g := api.NewGroup(stream.GroupInfo{Group: "g",
		Members: []stream.Member{{ID: "rdkafka-4f1c", ClientID: "rdkafka", Host: "/10.0.0.7"}},
		Offsets: []stream.GroupOffset{
			{Topic: "t", Partition: 0, Committed: 5, End: 9, Lag: 4},
			{Topic: "t", Partition: 1, Committed: 2, End: 3, Lag: 1, NoCommit: true},
		}})
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"committed":5`, `"committed":null`, `"client_id":"rdkafka"`, `"host":"/10.0.0.7"`, `"id":"rdkafka-4f1c"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	back := g.Stream()
	if o := back.Offsets[1]; !o.NoCommit || o.Committed != 2 || back.Offsets[0].NoCommit {
		t.Errorf("round trip: %+v, want partition 1 without commit (from 2), partition 0 committed", back.Offsets)
	}
	if m := back.Members[0]; m.ClientID != "rdkafka" || m.Host != "/10.0.0.7" {
		t.Errorf("round trip member %+v", m)
	}
}

// A group with a live member cannot be reset (409), and the consume stream
// ends, having committed, when the server closes its streams.
func TestConsumeStreamAndActiveGroup(t *testing.T) {
	opts := stream.Options{Logger: slog.New(slog.DiscardHandler)}
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), RetentionInterval: -1, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := api.New(b, api.Config{Logger: opts.Logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	call(t, "POST", srv.URL+"/api/v1/topics/live/records", `{"records":[{"value":"a"},{"value":"b"}]}`)

	resp, err := http.Post(srv.URL+"/api/v1/groups/live-group/consume?topic=live", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	for range 2 {
		if _, err := rd.ReadString('\n'); err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
	}
	r := call(t, "POST", srv.URL+"/api/v1/groups/live-group/reset", `{"topic":"live","to":"earliest"}`)
	p := decodeInto[api.Problem](t, r, 409)
	if p.Type != api.TypeGroupActive {
		t.Fatalf("reset of a live group: type %q, want %q", p.Type, api.TypeGroupActive)
	}
	s.CloseStreams()
	if rest, err := io.ReadAll(rd); err != nil || len(rest) != 0 {
		t.Fatalf("after CloseStreams the stream should end cleanly; got %q, %v", rest, err)
	}
	g := decodeInto[api.Group](t, call(t, "GET", srv.URL+"/api/v1/groups/live-group", ""), 200)
	if g.Lag != 0 || len(g.Members) != 0 {
		t.Fatalf("after the stream ended: lag %d members %d, want 0 and 0", g.Lag, len(g.Members))
	}
}

// Every bad request gets a problem naming what was wrong.
func TestBadInput(t *testing.T) {
	url, _ := newServer(t, api.Config{MaxBodyBytes: 4096, MaxRecords: 3}, stream.Options{MaxRecordBytes: 100})
	call(t, "POST", url+"/api/v1/topics", `{"name":"t","partitions":2}`)
	call(t, "POST", url+"/api/v1/topics/t/records", `{"records":[{"value":"x"}]}`)
	call(t, "POST", url+"/api/v1/groups/g/consume?topic=t&max=1", "")

	big := strings.Repeat("x", 5000)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		typ    string
		field  string // a field error with this path, if not ""
		detail string // in the detail, if not ""
		code   string // the problem's code
	}{
		{"malformed JSON", "POST", "/api/v1/topics", `{"name": "t2",`, 400, api.TypeMalformed, "", "byte 14", "json_malformed"},
		{"malformed JSON mid-way", "POST", "/api/v1/topics", "{\n  \"name\": x\n}", 400, api.TypeMalformed, "", "line 2", "json_malformed"},
		{"trailing data", "POST", "/api/v1/topics", `{"name":"t2"} {}`, 400, api.TypeMalformed, "", "byte", "json_malformed"},
		{"empty body", "POST", "/api/v1/topics", ``, 400, api.TypeMalformed, "", "empty", "body_empty"},
		{"unknown field", "POST", "/api/v1/topics", `{"name":"t2","partitons":3}`, 422, api.TypeInvalid, "partitons", "unknown field", "body_invalid"},
		{"unknown nested field", "POST", "/api/v1/topics/t/records", `{"records":[{"value":"a"},{"vaule":"b"}]}`, 422, api.TypeInvalid, "records[1].vaule", "", "body_invalid"},
		{"unknown header field", "POST", "/api/v1/topics/t/records", `{"records":[{"headers":[{"key":"a","val":"b"}]}]}`, 422, api.TypeInvalid, "records[0].headers[0].val", "", "body_invalid"},
		{"wrong type", "POST", "/api/v1/topics", `{"name":"t2","partitions":"3"}`, 422, api.TypeInvalid, "partitions", "want an integer", "body_invalid"},
		{"not an object", "POST", "/api/v1/topics", `[1,2]`, 422, api.TypeInvalid, "", "want an object", "body_invalid"},
		{"invalid topic name", "POST", "/api/v1/topics", `{"name":"bad name"}`, 422, api.TypeInvalid, "name", `"bad name"`, "topic_invalid"},
		{"zero partitions", "POST", "/api/v1/topics", `{"name":"t2","partitions":0}`, 422, api.TypeInvalid, "partitions", "partition count 0", "topic_invalid"},
		{"too many partitions", "POST", "/api/v1/topics", `{"name":"t2","partitions":20000}`, 422, api.TypeInvalid, "partitions", "10000", "topic_invalid"},
		{"negative retention", "POST", "/api/v1/topics", `{"name":"t2","retention_ms":-1}`, 422, api.TypeInvalid, "retention_ms", "", "topic_invalid"},
		{"topic exists", "POST", "/api/v1/topics", `{"name":"t"}`, 409, api.TypeTopicExists, "", `"t"`, "topic_exists"},
		{"invalid topic in path", "GET", "/api/v1/topics/bad$name", "", 422, api.TypeInvalid, "topic", `"bad$name"`, "topic_name_invalid"},
		{"unknown topic", "GET", "/api/v1/topics/nope", "", 404, api.TypeTopicNotFound, "", "nope", "topic_not_found"},
		{"delete unknown topic", "DELETE", "/api/v1/topics/nope", "", 404, api.TypeTopicNotFound, "", "nope", "topic_not_found"},
		{"body too large", "POST", "/api/v1/topics/t/records", `{"records":[{"value":"` + big + `"}]}`, 413, api.TypeTooLarge, "", "4096", "body_too_large"},
		{"record too large", "POST", "/api/v1/topics/t/records", `{"records":[{"value":"` + big[:200] + `"}]}`, 413, api.TypeRecordTooLarge, "", "100", "record_too_large"},
		{"too many records", "POST", "/api/v1/topics/t/records", `{"records":[{},{},{},{}]}`, 413, api.TypeTooLarge, "", "limit is 3", "too_many_records"},
		{"no records", "POST", "/api/v1/topics/t/records", `{"records":[]}`, 422, api.TypeInvalid, "records", "", "no_records"},
		{"bad base64", "POST", "/api/v1/topics/t/records", `{"records":[{"value":"!!","encoding":"base64"}]}`, 422, api.TypeInvalid, "records[0].value", "base64", "body_invalid"},
		{"bad encoding", "POST", "/api/v1/topics/t/records", `{"records":[{"value":"a","encoding":"hex"}]}`, 422, api.TypeInvalid, "records[0].encoding", `"hex"`, "body_invalid"},
		{"bad timestamp", "POST", "/api/v1/topics/t/records", `{"records":[{"value":"a","timestamp":"yesterday"}]}`, 422, api.TypeInvalid, "records[0].timestamp", `"yesterday"`, "body_invalid"},
		{"key not a string", "POST", "/api/v1/topics/t/records", `{"records":[{"key":5}]}`, 422, api.TypeInvalid, "records[0].key", "want a string", "body_invalid"},
		{"header value not a string", "POST", "/api/v1/topics/t/records", `{"records":[{"headers":{"a":1}}]}`, 422, api.TypeInvalid, "records[0].headers.a", "", "body_invalid"},
		{"bad partition", "GET", "/api/v1/topics/t/partitions/x/records", "", 422, api.TypeInvalid, "partition", `"x"`, "partition_invalid"},
		{"negative partition", "GET", "/api/v1/topics/t/partitions/-1/records", "", 422, api.TypeInvalid, "partition", `"-1"`, "partition_invalid"},
		{"bad offset", "GET", "/api/v1/topics/t/partitions/0/records?offset=abc", "", 422, api.TypeInvalid, "offset", `"abc"`, "query_invalid"},
		{"offset beyond end", "GET", "/api/v1/topics/t/partitions/0/records?offset=99", "", 416, api.TypeOffsetOutOfRange, "", "99", "offset_out_of_range"},
		{"limit too high", "GET", "/api/v1/topics/t/partitions/0/records?limit=100000", "", 422, api.TypeInvalid, "limit", "100000", "query_invalid"},
		{"offset and time", "GET", "/api/v1/topics/t/partitions/0/records?offset=0&time=2020-01-01T00:00:00Z", "", 422, api.TypeInvalid, "time", "not both", "query_invalid"},
		{"bad time", "GET", "/api/v1/topics/t/partitions/0/offset?time=noon", "", 422, api.TypeInvalid, "time", `"noon"`, "query_invalid"},
		{"unknown query parameter", "GET", "/api/v1/topics/t/partitions/0/records?ofset=1", "", 422, api.TypeInvalid, "ofset", "unknown", "query_unknown"},
		{"read unknown topic", "GET", "/api/v1/topics/nope/partitions/0/records", "", 404, api.TypeTopicNotFound, "", "nope", "topic_not_found"},
		{"unknown group", "GET", "/api/v1/groups/ghosts", "", 404, api.TypeGroupNotFound, "", "ghosts", "group_not_found"},
		{"invalid group", "GET", "/api/v1/groups/a%09b", "", 422, api.TypeInvalid, "group", "", "group_name_invalid"},
		{"reset to nowhere", "POST", "/api/v1/groups/g/reset", `{"topic":"t","to":"sideways"}`, 422, api.TypeInvalid, "to", `"sideways"`, "reset_invalid"},
		{"reset without time", "POST", "/api/v1/groups/g/reset", `{"topic":"t","to":"time"}`, 422, api.TypeInvalid, "time", "required", "reset_invalid"},
		{"reset to negative offset", "POST", "/api/v1/groups/g/reset", `{"topic":"t","to":"offset","offset":-5}`, 422, api.TypeInvalid, "offset", "-5", "reset_invalid"},
		{"reset beyond the end", "POST", "/api/v1/groups/g/reset", `{"topic":"t","to":"offset","offset":1000}`, 422, api.TypeOffsetOutOfRange, "", "1000", "offset_out_of_range"},
		{"reset unknown topic", "POST", "/api/v1/groups/g/reset", `{"topic":"nope","to":"earliest"}`, 404, api.TypeTopicNotFound, "", "nope", "topic_not_found"},
		{"reset negative partition", "POST", "/api/v1/groups/g/reset", `{"topic":"t","to":"earliest","partitions":[-1]}`, 422, api.TypeInvalid, "partitions[0]", "-1", "reset_invalid"},
		{"consume without topic", "POST", "/api/v1/groups/g/consume", "", 422, api.TypeInvalid, "topic", "required", "query_invalid"},
		{"consume bad ack", "POST", "/api/v1/groups/g/consume?topic=t&ack=never", "", 422, api.TypeInvalid, "ack", `"never"`, "query_invalid"},
		{"consume bad topic", "POST", "/api/v1/groups/g/consume?topic=a%20b", "", 422, api.TypeInvalid, "topic", `"a b"`, "query_invalid"},
		{"method not allowed", "PUT", "/api/v1/topics", "", 405, api.TypeMethodNotAllowed, "", "GET or POST", "method_not_allowed"},
		{"no such route", "GET", "/api/v1/nothing/here", "", 404, api.TypeNotFound, "", "/api/v1/nothing/here", "route_unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, tt.method, url+tt.path, tt.body)
			if got := r.header.Get("Content-Type"); got != "application/problem+json" {
				t.Fatalf("Content-Type %q, want application/problem+json; status %d body %s", got, r.status, r.body)
			}
			p := decodeInto[api.Problem](t, r, tt.status)
			if p.Type != tt.typ || p.Status != tt.status || p.Title == "" {
				t.Errorf("got type %q status %d title %q, want type %q status %d", p.Type, p.Status, p.Title, tt.typ, tt.status)
			}
			if p.Code != tt.code {
				t.Errorf("code %q, want %q", p.Code, tt.code)
			}
			if tt.detail != "" && !strings.Contains(p.Detail, tt.detail) && !fieldsContain(p.Errors, tt.detail) {
				t.Errorf("detail %q (errors %v) does not name %q", p.Detail, p.Errors, tt.detail)
			}
			if tt.field != "" {
				found := false
				for _, fe := range p.Errors {
					found = found || fe.Name == tt.field
				}
				if !found {
					t.Errorf("errors %v lack field %q", p.Errors, tt.field)
				}
			}
		})
	}
}

func fieldsContain(errs []invalid.Field, s string) bool {
	for _, fe := range errs {
		if strings.Contains(fe.Message, s) {
			return true
		}
	}
	return false
}

// panicky is a broker whose ListTopics panics.
type panicky struct{ stream.Broker }

func (panicky) ListTopics(context.Context) ([]stream.TopicInfo, error) { panic("boom") }

func TestPanicBecomes500(t *testing.T) {
	_, b := newServer(t, api.Config{}, stream.Options{})
	s, err := api.New(panicky{b}, api.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	p := decodeInto[api.Problem](t, call(t, "GET", srv.URL+"/api/v1/topics", ""), 500)
	if p.Type != api.TypeInternal || p.Code != "internal_error" || strings.Contains(p.Detail, "boom") {
		t.Fatalf("panic answered %+v, want an internal problem that does not leak the panic", p)
	}
	if r := call(t, "GET", srv.URL+"/healthz", ""); r.status != 200 {
		t.Fatalf("after a panic /healthz answered %d, want 200", r.status)
	}
}

// The JSON form keeps a null key, value (tombstone) or header value apart
// from an empty one, both ways.
func TestRecordJSONNullAndEmpty(t *testing.T) {
	for _, b64 := range []bool{false, true} {
		in := &stream.Record{Topic: "t", Key: []byte{}, Value: nil, Headers: []stream.Header{{Key: "null"}, {Key: "empty", Value: []byte{}}}}
		j := api.NewRecord(in, b64)
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"key":""`, `"value":null`, `{"key":"null","value":null}`, `{"key":"empty","value":""}`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("base64 %v: JSON %s lacks %s", b64, b, want)
			}
		}
		back, err := j.Stream()
		if err != nil {
			t.Fatal(err)
		}
		if back.Key == nil || back.Value != nil || back.Headers[0].Value != nil || back.Headers[1].Value == nil {
			t.Errorf("base64 %v: round trip key %v value %v headers %v", b64, back.Key, back.Value, back.Headers)
		}
		j = api.NewRecord(&stream.Record{Topic: "t", Value: []byte{}}, b64)
		if b, _ := json.Marshal(j); !strings.Contains(string(b), `"key":null`) || !strings.Contains(string(b), `"value":""`) {
			t.Errorf("base64 %v: no key and an empty value: %s", b64, b)
		}
	}
}
