package outbox

import (
	"testing"

	"github.com/arus-platform/arus/stream"
)

func TestHeadersRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		hs   []stream.Header
	}{
		{name: "none"},
		{name: "one", hs: []stream.Header{{Key: stream.HeaderID, Value: []byte("0190-id")}}},
		{name: "repeated and empty", hs: []stream.Header{{Key: "a", Value: []byte("1")}, {Key: "a"}, {Key: "", Value: []byte{0, 255}}}},
		{name: "long value", hs: []stream.Header{{Key: "big", Value: make([]byte, 70000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeHeaders(encodeHeaders(tt.hs))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := &stream.Record{Headers: tt.hs}
			if !(&stream.Record{Headers: got}).Equal(want) {
				t.Errorf("got %v, want %v", got, tt.hs)
			}
		})
	}
}

func TestDecodeHeadersRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{{1}, {1, 5, 'a'}, {2, 1, 'a', 0}, {0, 0}, {0xff, 0xff, 0xff}} {
		if _, err := decodeHeaders(b); err == nil {
			t.Errorf("decode %v: got no error", b)
		}
	}
}

func FuzzDecodeHeaders(f *testing.F) {
	f.Add(encodeHeaders([]stream.Header{{Key: "a", Value: []byte("b")}}))
	f.Add([]byte{1, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := decodeHeaders(b)
		if err != nil {
			return
		}
		again, err := decodeHeaders(encodeHeaders(hs))
		if err != nil || !(&stream.Record{Headers: again}).Equal(&stream.Record{Headers: hs}) {
			t.Fatalf("re-encoding %v changed it: %v, %v", hs, again, err)
		}
	})
}

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
