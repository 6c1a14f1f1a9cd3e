package outbox_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
	"github.com/arus-platform/arus/stream/streamtest"
)

// TestNilAndEmptyReachTheBroker writes records with nil and empty keys,
// values and header values, and a row as earlier versions wrote it,
// straight into the table, and forwards them all to the embedded log,
// which keeps nil and empty apart.
func TestNilAndEmptyReachTheBroker(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		db, o := openOutbox(t, base)
		br, err := embedded.New(ctx, embedded.Config{Dir: t.TempDir(), RetentionInterval: -1, Options: stream.Options{Logger: quiet}})
		if err != nil {
			t.Fatalf("open broker: %v", err)
		}
		t.Cleanup(func() { br.Close() })
		if err := br.CreateTopic(ctx, stream.Topic{Name: "nulls", Partitions: 1}); err != nil {
			t.Fatalf("create topic: %v", err)
		}
		empty := []byte{}
		hdrs := func(hs ...stream.Header) []stream.Header { return hs }
		want := []*stream.Record{
			{Topic: "nulls", Key: []byte("k"), Value: []byte("v"), Headers: hdrs(stream.Header{Key: "nil"}, stream.Header{Key: "empty", Value: empty})},
			{Topic: "nulls", Key: empty, Value: nil, Headers: hdrs(stream.Header{Key: "empty", Value: empty})},
			{Topic: "nulls", Key: nil, Value: empty, Headers: hdrs(stream.Header{Key: "nil"}, stream.Header{Key: "nil"})},
		}
		write(t, db, o, want...)

		// A row as earlier versions wrote it: headers in the plain
		// encoding (a count, then each key and value as length and
		// bytes), where an empty value reads as empty.
		plain := []byte{2, byte(len(stream.HeaderID))}
		plain = append(plain, stream.HeaderID...)
		plain = append(append(plain, byte(len("old-id"))), "old-id"...)
		plain = append(append(plain, byte(len("e"))), 'e', 0)
		if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO `+o.Table()+
			` (record_id, topic, key, value, headers, bucket, ts_ns, created_ns) VALUES (?,?,?,?,?,?,?,?)`),
			"old-id", "nulls", []byte("old"), []byte("v"), plain, 0, time.Now().UnixNano(), time.Now().UnixNano()); err != nil {
			t.Fatalf("insert a row in the plain encoding: %v", err)
		}
		want = append(want, &stream.Record{Topic: "nulls", Key: []byte("old"), Value: []byte("v"),
			Headers: hdrs(stream.Header{Key: stream.HeaderID, Value: []byte("old-id")}, stream.Header{Key: "e", Value: empty})})

		// Rows without nil header values keep the plain encoding.
		var enc []byte
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT headers FROM `+o.Table()+` WHERE record_id = ?`), want[1].ID()).Scan(&enc); err != nil {
			t.Fatalf("read headers: %v", err)
		}
		if !bytes.Equal(enc, stream.AppendHeaders(nil, want[1].Headers)) {
			t.Errorf("headers without nil values stored as % x, want the plain encoding", enc)
		}

		f := newForwarder(t, o, br, outbox.ForwarderConfig{})
		if got := forwardAll(t, f); got != len(want) {
			t.Fatalf("forwarded %d records, want %d", got, len(want))
		}
		got, err := br.Read(ctx, "nulls", 0, 0, 100)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("got %d records, want %d", len(got), len(want))
		}
		for i, r := range got {
			if d := streamtest.RecordDiff(r, want[i]); d != "" {
				t.Errorf("record %d: %s", i, d)
			}
		}
	})
}
