package api_test

import (
	"bytes"
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
