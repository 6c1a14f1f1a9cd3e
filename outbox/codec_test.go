package outbox

import (
	"bytes"
	"testing"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/streamtest"
)

func TestBucketOf(t *testing.T) {
	if got, want := bucketOf([]byte("k"), "id-1"), bucketOf([]byte("k"), "id-2"); got != want {
		t.Errorf("one key in buckets %d and %d, want one bucket", got, want)
	}
	seen := map[int]bool{}
	for i := range 1000 {
		b := bucketOf(nil, string(rune(i))+"-id")
		if b < 0 || b >= buckets {
			t.Fatalf("bucket %d out of range", b)
		}
		seen[b] = true
	}
	if len(seen) < buckets/2 {
		t.Errorf("records without keys fell in %d buckets, want them spread", len(seen))
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		hs     []stream.Header
		marked bool
	}{
		{name: "none"},
		{name: "values", hs: []stream.Header{{Key: "a", Value: []byte("1")}, {Key: "a", Value: []byte{}}, {Key: "", Value: []byte{0, 255}}}},
		{name: "nil value", hs: []stream.Header{{Key: "a"}}, marked: true},
		{name: "nil and empty", hs: []stream.Header{{Key: "nil"}, {Key: "empty", Value: []byte{}}, {Key: "", Value: []byte{0, 1}}, {Key: "nil"}}, marked: true},
		{name: "long value", hs: []stream.Header{{Key: "none"}, {Key: "big", Value: make([]byte, 70000)}}, marked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := appendHeaders([]byte("prefix"), tt.hs)[len("prefix"):]
			if got := bytes.HasPrefix(enc, headersMarked); got != tt.marked {
				t.Errorf("marked %v, want %v (encoding % x)", got, tt.marked, enc[:min(len(enc), 8)])
			}
			if !tt.marked && !bytes.Equal(enc, stream.AppendHeaders(nil, tt.hs)) {
				t.Errorf("headers without nil values encoded as % x, want the plain encoding", enc)
			}
			got, err := parseHeaders(enc)
			if err != nil {
				t.Fatalf("parseHeaders: %v", err)
			}
			if d := streamtest.RecordDiff(&stream.Record{Headers: got}, &stream.Record{Headers: tt.hs}); d != "" {
				t.Errorf("%s", d)
			}
			if len(got) > 0 && len(got[len(got)-1].Value) > 0 {
				enc[len(enc)-1] ^= 0xff
				if last := got[len(got)-1].Value; last[len(last)-1] == enc[len(enc)-1] {
					t.Errorf("a parsed value aliases the encoding")
				}
			}
		})
	}
}

// TestParsePlainHeaders pins the encoding rows written before the marked
// one existed hold: an empty value reads as empty.
func TestParsePlainHeaders(t *testing.T) {
	plain := []byte{2, 1, 'a', 1, 'x', 1, 'e', 0}
	got, err := parseHeaders(plain)
	if err != nil {
		t.Fatalf("parseHeaders: %v", err)
	}
	want := []stream.Header{{Key: "a", Value: []byte("x")}, {Key: "e", Value: []byte{}}}
	if d := streamtest.RecordDiff(&stream.Record{Headers: got}, &stream.Record{Headers: want}); d != "" {
		t.Errorf("%s", d)
	}
	for _, b := range [][]byte{nil, {}, {0}} {
		if hs, err := parseHeaders(b); err != nil || len(hs) != 0 {
			t.Errorf("parseHeaders(%v) = %v, %v; want no headers", b, hs, err)
		}
	}
}

func TestParseHeadersRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{
		{0, 1},                    // marked, no count
		{0, 1, 1},                 // one header, nothing after
		{0, 1, 1, 5, 'a'},         // key longer than what is left
		{0, 1, 1, 1, 'a'},         // value missing
		{0, 1, 1, 1, 'a', 3, 'x'}, // value cut short
		{0, 1, 1, 1, 'a', 0, 0},   // bytes after the last header
		{0, 1, 2, 1, 'a', 0},      // second header missing
		{0, 1, 0xff, 0xff, 0xff},  // count cut short
		{0, 2},                    // plain: bytes after a count of 0
		{1, 1, 'a', 3, 'x', 'y'},  // plain: value cut short
	} {
		if _, err := parseHeaders(b); err == nil {
			t.Errorf("parseHeaders(%v): got no error", b)
		}
	}
}

func FuzzParseHeaders(f *testing.F) {
	f.Add(appendHeaders(nil, []stream.Header{{Key: "a"}, {Key: "b", Value: []byte{}}}))
	f.Add(appendHeaders(nil, []stream.Header{{Key: "a", Value: []byte("b")}}))
	f.Add([]byte{0, 1, 1, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := parseHeaders(b)
		if err != nil {
			return
		}
		again, err := parseHeaders(appendHeaders(nil, hs))
		if err != nil {
			t.Fatalf("re-encoding %v: %v", hs, err)
		}
		if d := streamtest.RecordDiff(&stream.Record{Headers: again}, &stream.Record{Headers: hs}); d != "" {
			t.Fatalf("re-encoding %v changed it: %s", hs, d)
		}
	})
}
