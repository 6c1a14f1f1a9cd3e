package redis

import (
	"context"
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

// produceLua1 is the produce script of versions that wrote "r1" and "v"
// fields (ARGV: as produceLua's, then the two fields of each record).
const produceLua1 = luaPrelude + `
local p = ARGV[2]
local meta = redis.call('HMGET', KEYS[1], 'partitions', 'm' .. p, 'b' .. p)
if not meta[1] then return redis.error_reply('ARUS_NOTOPIC') end
if meta[1] ~= ARGV[1] then return redis.error_reply('ARUS_STALE ' .. meta[1]) end
local m = meta[2] or ''
if ARGV[3] > m then m = ARGV[3] end
local b = tonumber(meta[3] or '0')
local call, key, argv, n = redis.call, KEYS[2], ARGV, #ARGV
local head = call('XADD', key, '0-*', 'r1', argv[5], 'v', argv[6])
for j = 7, n, 2 do
  call('XADD', key, '0-*', 'r1', argv[j], 'v', argv[j+1])
end
local first = eoff(head)
redis.call('XADD', KEYS[3], head, 'm', m, 'b', fmt(b))
redis.call('HSET', KEYS[1], 'm' .. p, m, 'b' .. p, fmt(b + tonumber(ARGV[4])), 'n' .. p, fmt(first + (n - 4) / 2))
return first
`

// encodeRecord1 returns the "r1" field of a record as versions before "r2"
// wrote it: the "r2" field without the value.
func encodeRecord1(r *stream.Record) []byte {
	rec := encodeRecord(r)
	return rec[:len(rec)-len(r.Value)]
}

// Entries written by versions before "r2" (with "r1" and "v" fields) read
// as they were written, nil and empty apart; records produced after an
// upgrade land in the same stream, and finding by time and retention by
// time read the timestamps of both kinds.
func TestEntriesOfFormat1StillRead(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	now := time.Now()
	want := []*stream.Record{
		{Timestamp: now.Add(-2 * time.Hour), Key: []byte("k0"), Value: []byte("gone")},
		{Timestamp: now, Key: []byte("k1"), Value: []byte("v1"), Headers: []stream.Header{{Key: "h", Value: []byte("x")}, {Key: "n"}, {Key: "e", Value: []byte{}}}},
		{Timestamp: now, Key: []byte{}, Value: []byte{}},
		{Timestamp: now, Value: nil},
	}
	produceOld(t, ctx, b, now, produceLua1, encodeRecord1, want)
	added := []*stream.Record{
		{Topic: "old", Key: []byte{}, Value: nil, Headers: []stream.Header{{Key: "n"}, {Key: "e", Value: []byte{}}}},
		{Topic: "old", Key: nil, Value: []byte("new")},
	}
	if err := b.Produce(ctx, added...); err != nil {
		t.Fatal(err)
	}
	want = append(want, added...)
	checkUpgraded(t, ctx, b, now, want)
}

// produceOld creates topic "old" (one partition, retention by time of an
// hour) and writes recs to it the way an earlier version did: with its
// produce script lua, each record's record field made by encode and its
// value in "v".
func produceOld(t *testing.T, ctx context.Context, b *Broker, now time.Time, lua string, encode func(*stream.Record) []byte, recs []*stream.Record) {
	t.Helper()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "old", Partitions: 1, RetentionTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	args := []any{"1", "0", encodeTime(now), 0}
	for _, r := range recs {
		args = append(args, encode(r), r.Value)
	}
	if err := goredis.NewScript(lua).Run(ctx, b.client, []string{b.k.meta("old"), b.k.partition("old", 0), b.k.index("old", 0)}, args...).Err(); err != nil {
		t.Fatalf("produce the old way: %v", err)
	}
}

// checkUpgraded checks that topic "old" reads as want (by offset), that
// finding by time reads the timestamps of every record there (the first
// of them two hours before now, the rest at now), and that retention by
// time deletes just the first and leaves the rest readable.
func checkUpgraded(t *testing.T, ctx context.Context, b *Broker, now time.Time, want []*stream.Record) {
	t.Helper()
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

// Entries written before "r1" (by the produce script of then, with an "r"
// field) read as they always did: an empty key as nil, header values and
// values as empty, never nil. Records produced after an upgrade keep nil
// and empty apart in the same stream, and finding by time and retention by
// time read the timestamps of both kinds.
func TestEntriesOfFormat0StillRead(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	now := time.Now()
	written := []*stream.Record{
		{Timestamp: now.Add(-2 * time.Hour), Key: []byte("k0"), Value: []byte("gone")},
		{Timestamp: now, Key: []byte("k1"), Value: []byte("v1"), Headers: []stream.Header{{Key: "h", Value: []byte("x")}, {Key: "n"}}},
		{Timestamp: now, Key: []byte{}, Value: []byte{}},
		{Timestamp: now, Value: nil},
	}
	produceOld(t, ctx, b, now, strings.ReplaceAll(produceLua1, "'r1'", "'r'"), encodeRecord0, written)
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
	checkUpgraded(t, ctx, b, now, want)
}

// An "r2" field, and an "r1" field with its "v", keep a nil key, value and
// header value apart from an empty one; a field cut short or with a bad
// value flag is an error.
func TestRecordFieldNullAndEmpty(t *testing.T) {
	for _, key := range [][]byte{nil, {}, []byte("k")} {
		for _, value := range [][]byte{nil, {}, []byte("v")} {
			in := &stream.Record{Key: key, Value: value, Headers: []stream.Header{{Key: "n"}, {Key: "e", Value: []byte{}}, {Key: "x", Value: []byte("x")}}}
			r2, r1 := string(encodeRecord(in)), string(encodeRecord1(in))
			for _, entry := range []map[string]any{{fieldRecord: r2}, {fieldRecord1: r1, fieldValue: string(value)}} {
				got, err := decodeEntry("t", 0, entryID(0), entry)
				if err != nil {
					t.Fatalf("decodeEntry(%q): %v", entry, err)
				}
				if d := streamtest.RecordDiff(got, in); d != "" {
					t.Errorf("key %q value %q from %q: %s", key, value, entry, d)
				}
			}
			// r1 without its flag, with a bad flag, with a byte after it;
			// r2 cut before its flag, with a bad flag.
			flag := len(r1) - 1
			bad := []map[string]any{
				{fieldRecord1: r1[:flag], fieldValue: string(value)},
				{fieldRecord1: r1[:flag] + "\x02", fieldValue: string(value)},
				{fieldRecord1: r1 + "\x01", fieldValue: string(value)},
				{fieldRecord: r2[:flag]},
				{fieldRecord: r2[:flag] + "\x02" + string(value)},
			}
			if value == nil {
				bad = append(bad, map[string]any{fieldRecord: r2 + "v"}) // a tombstone with a value
			}
			for _, entry := range bad {
				if _, err := decodeEntry("t", 0, entryID(0), entry); err == nil {
					t.Errorf("decodeEntry of a malformed entry %q succeeded, want an error", entry)
				}
			}
		}
	}
}
