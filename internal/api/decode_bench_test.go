package api

import (
	"fmt"
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
