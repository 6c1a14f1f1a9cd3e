package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// BenchmarkForward measures how fast one forwarder empties a pre-filled
// outbox of b.N records (256-byte values, 1,000 keys) into an embedded
// broker (4 partitions, synchronous=FULL). Run it with a fixed count:
//
//	go test -run '^$' -bench Forward -benchtime 200000x ./outbox/
func BenchmarkForward(b *testing.B) {
	dialects := []struct {
		name string
		base func(b *testing.B) store.Config
	}{
		{"sqlite", func(b *testing.B) store.Config { return store.Config{Dir: b.TempDir()} }},
		{"postgres", func(b *testing.B) store.Config { return store.Config{DSN: storetest.PostgresSchema(b)} }},
	}
	for _, d := range dialects {
		for _, batch := range []int{500, 1000, 2000} {
			b.Run(fmt.Sprintf("%s/batch=%d", d.name, batch), func(b *testing.B) {
				benchForward(b, d.base(b), batch)
			})
		}
	}
}

func benchForward(b *testing.B, base store.Config, batch int) {
	ctx := context.Background()
	db, o := openOutbox(b, base)
	br, err := embedded.New(ctx, embedded.Config{Dir: b.TempDir(), RetentionInterval: -1, Options: stream.Options{Logger: quiet}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	if err := br.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 4}); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 256)
	for start := 0; start < b.N; start += 1000 {
		recs := make([]*stream.Record, 0, 1000)
		for i := start; i < min(start+1000, b.N); i++ {
			recs = append(recs, &stream.Record{Topic: "orders", Key: fmt.Appendf(nil, "key-%d", i%1000), Value: value})
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return o.Write(ctx, tx, recs...) }); err != nil {
			b.Fatal(err)
		}
	}
	if db.Dialect == store.Postgres {
		if _, err := db.ExecContext(ctx, `VACUUM ANALYZE `+o.Table()); err != nil {
			b.Fatal(err)
		}
	}
	f := newForwarder(b, o, br, outbox.ForwarderConfig{BatchSize: batch})

	b.ResetTimer()
	start := time.Now()
	n := forwardAll(b, f)
	elapsed := time.Since(start)
	b.StopTimer()
	if n != b.N {
		b.Fatalf("published %d records, want %d", n, b.N)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
}
