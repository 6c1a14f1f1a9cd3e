package embedded

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/streamtest"
)

// appendRecord0 appends a record to a chunk of format 0, as versions before
// format 1 wrote it: plain lengths, the value the rest.
func appendRecord0(buf []byte, r *stream.Record) []byte {
	var rec []byte
	rec = binary.AppendVarint(rec, r.Timestamp.UnixNano())
	rec = binary.AppendUvarint(rec, uint64(len(r.Key)))
	rec = append(rec, r.Key...)
	rec = binary.AppendUvarint(rec, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		rec = binary.AppendUvarint(rec, uint64(len(h.Key)))
		rec = append(rec, h.Key...)
		rec = binary.AppendUvarint(rec, uint64(len(h.Value)))
		rec = append(rec, h.Value...)
	}
	rec = append(rec, r.Value...)
	return append(binary.AppendUvarint(buf, uint64(len(rec))), rec...)
}

// A log written before format 1 reads as it always did (an empty key, value
// or header value as nil), records appended after an upgrade keep nil and
// empty apart, and retention cuts into an old chunk without changing how
// the rest of it reads.
func TestChunkFormat0StillReads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := open(t, Config{Dir: dir})
	if err := b.CreateTopic(ctx, stream.Topic{Name: "old", Partitions: 1, RetentionTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	b.Close()

	old := time.Now().Add(-2 * time.Hour)
	now := time.Now()
	written := []*stream.Record{
		{Timestamp: old, Key: []byte("k0"), Value: []byte("gone")},
		{Timestamp: now, Key: []byte("k1"), Value: []byte("v1"), Headers: []stream.Header{{Key: "h", Value: []byte("x")}, {Key: "e", Value: []byte{}}}},
		{Timestamp: now, Key: []byte{}, Value: []byte{}},
		{Timestamp: now, Value: []byte("v3")},
	}
	// How format 0 reads them, once retention has deleted the first: every
	// empty field as nil.
	want := []*stream.Record{
		{Key: []byte("k1"), Value: []byte("v1"), Headers: []stream.Header{{Key: "h", Value: []byte("x")}, {Key: "e"}}},
		{},
		{Value: []byte("v3")},
	}
	var data []byte
	for _, r := range written {
		data = appendRecord0(data, r)
	}
	c, err := openConn(dsn(filepath.Join(dir, dbFileName), SyncFull, false))
	if err != nil {
		t.Fatal(err)
	}
	pid, _, err := c.queryInt(`SELECT id FROM partitions`)
	if err == nil {
		_, err = c.exec(`INSERT INTO chunks (pid, base, last, max_time, size, data) VALUES (?, 0, ?, ?, ?, ?)`,
			pid, len(written)-1, now.UnixNano(), len(data), data)
	}
	if cerr := c.close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("write a chunk of format 0: %v", err)
	}

	b = open(t, Config{Dir: dir})
	if n, err := b.EnforceRetention(ctx); err != nil || n != 1 {
		t.Fatalf("EnforceRetention = %d, %v; want 1 deleted", n, err)
	}
	added := []*stream.Record{
		{Topic: "old", Partition: 0, Key: []byte{}, Value: []byte{}, Headers: []stream.Header{{Key: "n"}, {Key: "e", Value: []byte{}}}},
		{Topic: "old", Partition: 0, Value: nil},
	}
	if err := b.Produce(ctx, added...); err != nil {
		t.Fatal(err)
	}
	want = append(want, added...)
	check := func(when string) {
		t.Helper()
		got := readAll(t, b, "old", 0)
		if len(got) != len(want) {
			t.Fatalf("%s: read %d records, want %d", when, len(got), len(want))
		}
		for i, r := range got {
			if r.Offset != int64(i+1) {
				t.Errorf("%s: record %d at offset %d, want %d", when, i, r.Offset, i+1)
			}
			if d := streamtest.RecordDiff(r, want[i]); d != "" {
				t.Errorf("%s: offset %d: %s", when, r.Offset, d)
			}
		}
	}
	check("after upgrade")
	b.Close()
	b = open(t, Config{Dir: dir})
	check("after reopen")
}

// Retention that cuts into a chunk keeps the chunk's format, so the records
// it keeps still tell nil from empty.
func TestTrimKeepsChunkFormat(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := open(t, Config{Dir: dir})
	if err := b.CreateTopic(ctx, stream.Topic{Name: "cut", Partitions: 1, RetentionTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	recs := []*stream.Record{
		{Topic: "cut", Timestamp: time.Now().Add(-2 * time.Hour), Value: []byte("gone")},
		{Topic: "cut", Key: []byte{}, Value: nil, Headers: []stream.Header{{Key: "e", Value: []byte{}}}},
		{Topic: "cut", Key: nil, Value: []byte{}, Headers: []stream.Header{{Key: "n"}}},
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if n, err := b.EnforceRetention(ctx); err != nil || n != 1 {
		t.Fatalf("EnforceRetention = %d, %v; want 1 deleted", n, err)
	}
	for _, reopen := range []bool{false, true} {
		if reopen {
			b.Close()
			b = open(t, Config{Dir: dir})
		}
		got := readAll(t, b, "cut", 0)
		if len(got) != 2 {
			t.Fatalf("reopened %v: read %d records, want 2", reopen, len(got))
		}
		for i, r := range got {
			if d := streamtest.RecordDiff(r, recs[i+1]); d != "" {
				t.Errorf("reopened %v: offset %d: %s", reopen, r.Offset, d)
			}
		}
	}
}
