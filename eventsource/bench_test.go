package eventsource_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

// benchStores runs fn on SQLite and on PostgreSQL (skipped when it is not
// reachable).
func benchStores(b *testing.B, fn func(b *testing.B, base store.Config)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, store.Config{Dir: b.TempDir()}) })
	b.Run("postgres", func(b *testing.B) { fn(b, store.Config{DSN: storetest.PostgresSchema(b)}) })
}

// BenchmarkAppend appends one event per transaction from 16 goroutines,
// to one hot stream (at whatever its version is) or each to a stream of
// its own (at the version it expects).
func BenchmarkAppend(b *testing.B) {
	benchStores(b, func(b *testing.B, base store.Config) {
		ctx := context.Background()
		es := openStore(b, base)
		data := []byte(`{"order":"2026-03-20-345-2612","quantity":2}`)
		b.Run("hot-stream", func(b *testing.B) {
			b.SetParallelism(8)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := es.Append(ctx, "hot", eventsource.AnyVersion, eventsource.Event{Type: "held", Data: data}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
		})
		var next atomic.Int64
		b.Run("many-streams", func(b *testing.B) {
			b.SetParallelism(8)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				stream := fmt.Sprintf("s-%d", next.Add(1))
				var v int64
				for pb.Next() {
					if _, err := es.Append(ctx, stream, v, eventsource.Event{Type: "held", Data: data}); err != nil {
						b.Error(err)
						return
					}
					v++
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
		})
	})
}

// BenchmarkRebuild replays 20,000 events of 100 streams into a read model
// of one row per stream.
func BenchmarkRebuild(b *testing.B) {
	benchStores(b, func(b *testing.B, base store.Config) {
		ctx := context.Background()
		es := openStore(b, base)
		const streams, perStream = 100, 200
		for s := range streams {
			events := make([]eventsource.Event, perStream)
			for i := range events {
				events[i] = eventsource.Event{Type: "held", Data: []byte(fmt.Sprintf(`{"n":%d}`, i))}
			}
			if _, err := es.Append(ctx, fmt.Sprintf("s-%d", s), eventsource.NoStream, events...); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := es.DB().ExecContext(ctx, `CREATE TABLE counts (stream_id TEXT PRIMARY KEY, n INTEGER NOT NULL, last_version INTEGER NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		db := es.DB()
		p := &eventsource.Projection{
			Name: "counts",
			Handle: func(ctx context.Context, tx *sql.Tx, e eventsource.Event) error {
				_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO counts (stream_id, n, last_version) VALUES (?, 1, ?)
					ON CONFLICT (stream_id) DO UPDATE SET n = counts.n + 1, last_version = excluded.last_version`), e.StreamID, e.Version)
				return err
			},
			Reset: func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `DELETE FROM counts`)
				return err
			},
		}
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			n, err := es.Rebuild(ctx, p)
			if err != nil || n != streams*perStream {
				b.Fatalf("rebuild: %d events %v", n, err)
			}
		}
		b.ReportMetric(float64(b.N*streams*perStream)/time.Since(start).Seconds(), "events/s")
	})
}
