package stream

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestHeadersRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		hs   []Header
	}{
		{name: "none"},
		{name: "one", hs: []Header{{Key: HeaderID, Value: []byte("0190-id")}}},
		{name: "repeated and empty", hs: []Header{{Key: "a", Value: []byte("1")}, {Key: "a"}, {Key: "", Value: []byte{0, 255}}}},
		{name: "long value", hs: []Header{{Key: "big", Value: make([]byte, 70000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := AppendHeaders([]byte("prefix"), tt.hs)[len("prefix"):]
			fromBytes, err := ParseHeaders(enc)
			if err != nil {
				t.Fatalf("ParseHeaders([]byte): %v", err)
			}
			fromString, err := ParseHeaders(string(enc))
			if err != nil {
				t.Fatalf("ParseHeaders(string): %v", err)
			}
			want := &Record{Headers: tt.hs}
			for name, got := range map[string][]Header{"bytes": fromBytes, "string": fromString} {
				if !(&Record{Headers: got}).Equal(want) {
					t.Errorf("from %s: got %v, want %v", name, got, tt.hs)
				}
			}
			if len(fromBytes) > 0 && len(fromBytes[0].Value) > 0 {
				enc[len(enc)-1] ^= 0xff
				if last := fromBytes[len(fromBytes)-1].Value; last[len(last)-1] == enc[len(enc)-1] {
					t.Errorf("a parsed value aliases the encoding")
				}
			}
		})
	}
}

func TestParseHeadersRejectsGarbage(t *testing.T) {
	overflow := append(make([]byte, 0, 11), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02)
	for _, b := range [][]byte{
		{1},                      // one header, nothing after
		{1, 5, 'a'},              // key longer than what is left
		{2, 1, 'a', 0},           // second header missing
		{0, 0},                   // bytes after the last header
		{0xff, 0xff, 0xff},       // count cut short
		{1, 1, 'a', 3, 'x', 'y'}, // value cut short
		overflow,                 // count over 64 bits
		binary.AppendUvarint(nil, math.MaxUint64),
	} {
		if _, err := ParseHeaders(b); err == nil {
			t.Errorf("ParseHeaders(%v): got no error", b)
		}
		if _, err := ParseHeaders(string(b)); err == nil {
			t.Errorf("ParseHeaders(%q): got no error", b)
		}
	}
}

func FuzzParseHeaders(f *testing.F) {
	f.Add(AppendHeaders(nil, []Header{{Key: "a", Value: []byte("b")}}))
	f.Add([]byte{1, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := ParseHeaders(b)
		if _, serr := ParseHeaders(string(b)); (serr == nil) != (err == nil) {
			t.Fatalf("a slice and a string of %v disagree: %v, %v", b, err, serr)
		}
		if err != nil {
			return
		}
		again, err := ParseHeaders(AppendHeaders(nil, hs))
		if err != nil || !(&Record{Headers: again}).Equal(&Record{Headers: hs}) {
			t.Fatalf("re-encoding %v changed it: %v, %v", hs, again, err)
		}
	})
}
