package deliverylog

import (
	"context"
	"testing"
	"time"

	"github.com/arus-platform/arus/store"
)

// BenchmarkWrite measures the writer: b.N entries added and written to
// SQLite in batches.
//
//	go test -run '^$' -bench Write ./internal/relay/deliverylog/
func BenchmarkWrite(b *testing.B) {
	db, err := store.Open(context.Background(), store.Config{Dir: b.TempDir(), Component: "relay_log"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, err := New(context.Background(), Config{DB: db, QueueSize: b.N + 1})
	if err != nil {
		b.Fatal(err)
	}
	e := entry(1, Delivered, time.Now())
	b.ResetTimer()
	start := time.Now()
	batch := make([]Entry, 0, 500)
	for i := 0; i < b.N; i += len(batch) {
		batch = batch[:0]
		for j := i; j < min(i+500, b.N); j++ {
			e.Offset = int64(j) // each entry a record of its own
			batch = append(batch, e)
		}
		if err := l.write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
}
