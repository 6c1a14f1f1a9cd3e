package api_test

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/stream"
)

// A produce body is decoded a record at a time and refused at the first
// record over the limit: an 8 MiB body of empty records costs a few times
// its size, not the hundreds of megabytes of decoding it whole.
func TestProduceMemoryFollowsTheBody(t *testing.T) {
	url, _ := newServer(t, api.Config{}, stream.Options{})
	call(t, "POST", url+"/api/v1/topics", `{"name":"t","partitions":1}`)
	const size = 8 << 20
	many := func(rec string) []byte {
		var b bytes.Buffer
		b.WriteString(`{"records":[`)
		for b.Len() < size-len(rec)-3 {
			b.WriteString(rec)
			b.WriteByte(',')
		}
		b.WriteString(rec + `]}`)
		return b.Bytes()
	}
	tests := []struct {
		name   string
		body   []byte
		status int
		detail string
	}{
		{"empty records past the limit", many(`{}`), http.StatusRequestEntityTooLarge, "more than 10000 records"},
		{"null records past the limit", many(`null`), http.StatusRequestEntityTooLarge, "more than 10000 records"},
		{"a bad field in every record", append([]byte(`{"records":[`+strings.Repeat(`{"vaule":1},`, 9999)), `{"vaule":1}],"x":[`+strings.Repeat(`{},`, size/3)+`{}]}`...), http.StatusUnprocessableEntity, "vaule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			resp, err := http.Post(url+"/api/v1/topics/t/records", "application/json", bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			var answer bytes.Buffer
			_, _ = answer.ReadFrom(resp.Body)
			resp.Body.Close()
			runtime.ReadMemStats(&after)
			if resp.StatusCode != tt.status || !strings.Contains(answer.String(), tt.detail) {
				t.Fatalf("status %d %.300s, want %d naming %q", resp.StatusCode, answer.String(), tt.status, tt.detail)
			}
			// TotalAlloc counts every byte allocated during the request
			// (server and client), whatever the collector did meanwhile.
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("body %d bytes: %d bytes allocated (%.1f× the body)", len(tt.body), alloc, float64(alloc)/float64(len(tt.body)))
			if limit := 4 * uint64(len(tt.body)); alloc > limit {
				t.Errorf("one request allocated %d bytes for a %d-byte body, want at most %d (4×)", alloc, len(tt.body), limit)
			}
		})
	}
}

// The record-at-a-time decoder answers like decoding the whole body would.
func TestProduceBodyShapes(t *testing.T) {
	url, b := newServer(t, api.Config{MaxRecords: 3}, stream.Options{})
	call(t, "POST", url+"/api/v1/topics", `{"name":"t","partitions":1}`)
	tests := []struct {
		name, body string
		status     int
		want       string // in the answer
	}{
		{"records", `{"records":[{"value":"a"},{"key":"k","value":{"n":1}}]}`, 200, `"offset":1`},
		{"a repeated records field replaces the first", `{"records":[{"vaule":1}],"records":[{"value":"b"}]}`, 200, `"offset":2`},
		{"null records", `{"records":null}`, 422, "no records to produce"},
		{"no records", `{}`, 422, "no records to produce"},
		{"records not an array", `{"records":{"value":"a"}}`, 422, `"field":"records","message":"want an array, got an object"`},
		{"a record not an object", `{"records":[{"value":"a"},7]}`, 422, `"field":"records[1]"`},
		{"unknown top-level field", `{"records":[{"value":"a"}],"Records":[]}`, 422, `"field":"Records"`},
		{"bad nested field", `{"records":[{"value":"a"},{"headers":[{"key":"h","val":"x"}]}]}`, 422, `"field":"records[1].headers[0].val"`},
		{"over the record limit", `{"records":[{},{},{},{}]}`, 413, "more than 3 records"},
		{"at the record limit", `{"records":[{},{},{}]}`, 200, `"offset":5`},
		{"malformed", "{\"records\":[{}\n,{]}", 400, "line 2"},
		{"trailing data", `{"records":[{}]} {}`, 400, "malformed JSON"},
		{"not an object", `[{"value":"a"}]`, 422, "want an object, got an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := call(t, "POST", url+"/api/v1/topics/t/records", tt.body)
			if got.status != tt.status || !strings.Contains(string(got.body), tt.want) {
				t.Errorf("status %d %s, want %d with %s", got.status, got.body, tt.status, tt.want)
			}
		})
	}
	if info, err := b.DescribeTopic(context.Background(), "t"); err != nil || info.Records() != 6 {
		t.Errorf("t holds %d records (%v), want the 6 accepted", info.Records(), err)
	}
}
