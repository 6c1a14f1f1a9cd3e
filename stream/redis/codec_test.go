package redis

import (
	"math"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
)

func TestEntryIDMapping(t *testing.T) {
	tests := []struct {
		offset int64
		id     string
	}{
		{-1, "0-0"},
		{0, "0-1"},
		{1, "0-2"},
		{41, "0-42"},
		{math.MaxInt64 - 1, "0-9223372036854775807"},
	}
	for _, tt := range tests {
		if got := entryID(tt.offset); got != tt.id {
			t.Errorf("entryID(%d) = %q, want %q", tt.offset, got, tt.id)
		}
		got, err := entryOffset(tt.id)
		if err != nil || got != tt.offset {
			t.Errorf("entryOffset(%q) = %d, %v; want %d", tt.id, got, err, tt.offset)
		}
	}
	for _, id := range []string{"1700000000000-0", "0-", "0-x", "", "5"} {
		if _, err := entryOffset(id); err == nil {
			t.Errorf("entryOffset(%q) succeeded, want an error for an id arus did not write", id)
		}
	}
}

func TestTimeEncodingOrders(t *testing.T) {
	times := []time.Time{
		time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), // clamped to the minimum
		time.Unix(0, math.MinInt64),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 23, 4, 0, 0, 1, time.UTC),
		time.Unix(0, math.MaxInt64),
	}
	var enc []string
	for _, tm := range times {
		s := encodeTime(tm)
		if len(s) != 20 {
			t.Fatalf("encodeTime(%v) = %q, want 20 digits", tm, s)
		}
		enc = append(enc, s)
	}
	if !slices.IsSorted(enc) {
		t.Errorf("encoded times do not sort as the times do: %q", enc)
	}
	for _, tm := range times[1:] {
		got, err := decodeTime(encodeTime(tm))
		if err != nil || !got.Equal(tm) {
			t.Errorf("decodeTime(encodeTime(%v)) = %v, %v", tm, got, err)
		}
	}
	for _, s := range []string{"", "123", "abcdefghijabcdefghij", "99999999999999999999"} {
		if _, err := decodeTime(s); err == nil {
			t.Errorf("decodeTime(%q) succeeded, want an error", s)
		}
	}
}

// A record's "r2" field keeps its timestamp, key, headers and value; a
// field whose headers are cut short is an error.
func TestRecordFieldRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 23, 5, 13, 20, 123456789, time.UTC)
	tests := [][]stream.Header{
		nil,
		{{Key: "arus-id", Value: []byte("0192")}},
		{{Key: "a", Value: nil}, {Key: "a", Value: []byte("dup")}, {Key: "", Value: []byte{0, 1, 2, 0xff}}},
		{{Key: "big", Value: make([]byte, 70000)}},
	}
	for _, hs := range tests {
		in := &stream.Record{Key: []byte("k"), Value: []byte("v"), Headers: hs, Timestamp: ts}
		rec := string(encodeRecord(in))
		got, err := decodeEntry("t", 0, entryID(7), map[string]any{fieldRecord: rec})
		if err != nil {
			t.Fatalf("decodeEntry: %v", err)
		}
		if !got.Equal(&stream.Record{Topic: "t", Key: in.Key, Value: in.Value, Headers: hs}) || !got.Timestamp.Equal(ts) || got.Offset != 7 {
			t.Errorf("record %+v came back as %+v", in, got)
		}
		if len(hs) > 0 {
			if _, err := decodeEntry("t", 0, entryID(7), map[string]any{fieldRecord: rec[:len(rec)-3]}); err == nil {
				t.Errorf("decodeEntry of headers cut short succeeded, want an error")
			}
		}
	}
}

func TestAssign(t *testing.T) {
	counts := map[string]int32{"a": 4, "b": 2, "c": 1}
	tests := []struct {
		name    string
		members []memberSub
		want    map[string][]tp
	}{
		{
			name:    "one member takes all",
			members: []memberSub{{"m1", []string{"a"}}},
			want:    map[string][]tp{"m1": {{"a", 0}, {"a", 1}, {"a", 2}, {"a", 3}}},
		},
		{
			name:    "two members split evenly",
			members: []memberSub{{"m2", []string{"a"}}, {"m1", []string{"a"}}},
			want:    map[string][]tp{"m1": {{"a", 0}, {"a", 2}}, "m2": {{"a", 1}, {"a", 3}}},
		},
		{
			name:    "round robin across topics",
			members: []memberSub{{"m1", []string{"a", "b"}}, {"m2", []string{"a", "b"}}, {"m3", []string{"a", "b"}}},
			want:    map[string][]tp{"m1": {{"a", 0}, {"a", 3}}, "m2": {{"a", 1}, {"b", 0}}, "m3": {{"a", 2}, {"b", 1}}},
		},
		{
			name:    "members get only topics they consume",
			members: []memberSub{{"m1", []string{"a"}}, {"m2", []string{"c"}}},
			want:    map[string][]tp{"m1": {{"a", 0}, {"a", 1}, {"a", 2}, {"a", 3}}, "m2": {{"c", 0}}},
		},
		{
			name:    "more members than partitions",
			members: []memberSub{{"m1", []string{"c"}}, {"m2", []string{"c"}}},
			want:    map[string][]tp{"m1": {{"c", 0}}},
		},
		{
			name:    "unknown topic has no partitions",
			members: []memberSub{{"m1", []string{"gone"}}},
			want:    map[string][]tp{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := assign(tt.members, counts)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for m, want := range tt.want {
				if !slices.Equal(got[m], want) {
					t.Errorf("member %s: got %v, want %v", m, got[m], want)
				}
			}
		})
	}
}

// Records decoded together share buffers, but appending to one record's key,
// value, headers or header values never changes another's.
func TestDecodeMessagesKeepsRecordsApart(t *testing.T) {
	var msgs []goredis.XMessage
	for i := range 3 {
		r := &stream.Record{Key: []byte{'k', byte('0' + i)}, Value: []byte("value-" + string(rune('a'+i))), Timestamp: time.Unix(int64(i), 0),
			Headers: []stream.Header{{Key: "h", Value: []byte{'h', byte('0' + i)}}}}
		msgs = append(msgs, goredis.XMessage{ID: entryID(int64(i)), Values: map[string]any{
			fieldRecord: string(encodeRecord(r))}})
	}
	msgs = append(msgs, goredis.XMessage{ID: entryID(3)}) // deleted while pending
	recs, err := decodeMessages("t", 0, msgs, nil)
	if err != nil || len(recs) != 3 {
		t.Fatalf("decodeMessages = %d records, %v; want 3", len(recs), err)
	}
	recs[0].Value = append(recs[0].Value, "XXXX"...)
	recs[0].Key = append(recs[0].Key, "YYYY"...)
	recs[0].Headers[0].Value = append(recs[0].Headers[0].Value, "ZZZZ"...)
	recs[0].Headers = append(recs[0].Headers, stream.Header{Key: "extra"})
	for i, r := range recs[1:] {
		if want := "value-" + string(rune('b'+i)); string(r.Value) != want {
			t.Errorf("record %d value = %q, want %q", i+1, r.Value, want)
		}
		if want := "k" + string(rune('1'+i)); string(r.Key) != want {
			t.Errorf("record %d key = %q, want %q", i+1, r.Key, want)
		}
		if want := "h" + string(rune('1'+i)); len(r.Headers) != 1 || string(r.Headers[0].Value) != want {
			t.Errorf("record %d headers = %q, want one of value %q", i+1, r.Headers, want)
		}
		if r.Offset != int64(i+1) {
			t.Errorf("record %d offset = %d", i+1, r.Offset)
		}
	}
}
