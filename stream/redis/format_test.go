package redis

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/streamtest"
)

// encodeRecord0 returns the "r" field of a record as versions before "r1"
// wrote it.
func encodeRecord0(r *stream.Record) []byte {
	b := []byte(encodeTime(r.Timestamp))
	b = binary.AppendUvarint(b, uint64(len(r.Key)))
	b = append(b, r.Key...)
	return stream.AppendHeaders(b, r.Headers)
}

// Entries written before "r1" (by the produce script of then, with an "r"
// field) read as they always did: an empty key as nil, header values and
// values as empty, never nil. Records produced after an upgrade keep nil
// and empty apart in the same stream, and finding by time and retention by
// time read the timestamps of both kinds.
func TestEntriesOfFormat0StillRead(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "old", Partitions: 1, RetentionTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	written := []*stream.Record{
		{Timestamp: now.Add(-2 * time.Hour), Key: []byte("k0"), Value: []byte("gone")},
		{Timestamp: now, Key: []byte("k1"), Value: []byte("v1"), Headers: []stream.Header{{Key: "h", Value: []byte("x")}, {Key: "n"}}},
		{Timestamp: now, Key: []byte{}, Value: []byte{}},
		{Timestamp: now, Value: nil},
	}
	args := []any{"1", "0", encodeTime(now), 0}
	for _, r := range written {
		args = append(args, encodeRecord0(r), r.Value)
	}
	oldProduce := goredis.NewScript(strings.ReplaceAll(produceLua, "'r1'", "'r'"))
	if err := oldProduce.Run(ctx, b.client, []string{b.k.meta("old"), b.k.partition("old", 0), b.k.index("old", 0)}, args...).Err(); err != nil {
		t.Fatalf("produce the old way: %v", err)
	}
	// How they read: the key empty as nil, header values and values as
	// empty.
	want := []*stream.Record{
		{Key: []byte("k0"), Value: []byte("gone")},
		{Key: []byte("k1"), Value: []byte("v1"), Headers: []stream.Header{{Key: "h", Value: []byte("x")}, {Key: "n", Value: []byte{}}}},
		{Value: []byte{}},
		{Value: []byte{}},
	}
	added := []*stream.Record{
		{Topic: "old", Key: []byte{}, Value: nil, Headers: []stream.Header{{Key: "n"}, {Key: "e", Value: []byte{}}}},
		{Topic: "old", Key: nil, Value: []byte{}},
	}
	if err := b.Produce(ctx, added...); err != nil {
		t.Fatal(err)
	}
	want = append(want, added...)
	check := func(when string, from int64) {
		t.Helper()
		got, err := b.Read(ctx, "old", 0, from, 100)
		if err != nil {
			t.Fatalf("%s: Read: %v", when, err)
		}
		if len(got) != len(want)-int(from) {
			t.Fatalf("%s: read %d records, want %d", when, len(got), len(want)-int(from))
		}
		for _, r := range got {
			if d := streamtest.RecordDiff(r, want[r.Offset]); d != "" {
				t.Errorf("%s: offset %d: %s", when, r.Offset, d)
			}
		}
	}
	check("before retention", 0)
	if got, err := b.OffsetForTime(ctx, "old", 0, now.Add(-time.Hour)); err != nil || got != 1 {
		t.Errorf("OffsetForTime(an hour ago) = %d, %v; want 1", got, err)
	}
	if n, err := b.EnforceRetention(ctx); err != nil || n != 1 {
		t.Fatalf("EnforceRetention = %d, %v; want 1 deleted", n, err)
	}
	check("after retention", 1)
}

// An "r1" field keeps a nil key, value and header value apart from an
// empty one; a field cut short or with a bad value flag is an error.
func TestRecordFieldNullAndEmpty(t *testing.T) {
	for _, key := range [][]byte{nil, {}, []byte("k")} {
		for _, value := range [][]byte{nil, {}, []byte("v")} {
			in := &stream.Record{Key: key, Value: value, Headers: []stream.Header{{Key: "n"}, {Key: "e", Value: []byte{}}, {Key: "x", Value: []byte("x")}}}
			rec := string(encodeRecord(in))
			got, err := decodeEntry("t", 0, entryID(0), map[string]any{fieldRecord: rec, fieldValue: string(value)})
			if err != nil {
				t.Fatalf("decodeEntry: %v", err)
			}
			if d := streamtest.RecordDiff(got, in); d != "" {
				t.Errorf("key %q value %q: %s", key, value, d)
			}
			for _, bad := range []string{rec[:len(rec)-1], rec[:len(rec)-1] + "\x02", rec + "\x01"} {
				if _, err := decodeEntry("t", 0, entryID(0), map[string]any{fieldRecord: bad, fieldValue: string(value)}); err == nil {
					t.Errorf("decodeEntry of a malformed field %q succeeded, want an error", bad)
				}
			}
		}
	}
}
