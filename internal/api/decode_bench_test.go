package api

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

func BenchmarkDecodeProduce5000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"records":[`)
	for i := range 5000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"key":"key-%d","value":"%s","headers":[{"key":"arus-id","value":"01a2069a-f724-7bf4-89c3-5aeca0f9a47f"}],"timestamp":"2026-11-23T04:12:28.836737037Z"}`, i%100, strings.Repeat("v", 100))
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var req ProduceRequest
		if p := decodeBytes(body, &req); p != nil {
			b.Fatal(p)
		}
	}
}

// BenchmarkProduceBody5000 decodes the same body the way produce does: a
// record at a time, straight into stream records.
func BenchmarkProduceBody5000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"records":[`)
	for i := range 5000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"key":"key-%d","value":"%s","headers":[{"key":"arus-id","value":"01a2069a-f724-7bf4-89c3-5aeca0f9a47f"}],"timestamp":"2026-11-23T04:12:28.836737037Z"}`, i%100, strings.Repeat("v", 100))
	}
	sb.WriteString(`]}`)
	body := sb.String()
	s := &Server{cfg: Config{MaxBodyBytes: 32 << 20, MaxRecords: 10000}}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r := httptest.NewRequest("POST", "/api/v1/topics/t/records", strings.NewReader(body))
		if _, err := s.decodeProduce(httptest.NewRecorder(), r, "t"); err != nil {
			b.Fatal(err)
		}
	}
}
