package inventory_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/inventory"
)

// BenchmarkHold reserves one ticket per call for a new order in one of
// four areas, from 64 concurrent buyers of one process, and reports
// reservations per second and the 99th percentile latency of one Hold.
func BenchmarkHold(b *testing.B) {
	run := func(b *testing.B, base store.Config) {
		ctx := context.Background()
		p := openProcess(b, base, inventory.Config{})
		areas := make([]inventory.AreaID, 4)
		for i := range areas {
			areas[i] = inventory.AreaID{Event: "bench", Area: fmt.Sprintf("a%d", i)}
			if err := p.inv.SetCapacity(ctx, areas[i], 1<<30); err != nil {
				b.Fatal(err)
			}
		}
		var (
			next      atomic.Int64
			mu        sync.Mutex
			latencies []time.Duration
		)
		b.SetParallelism(32)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			for pb.Next() {
				n := next.Add(1)
				t0 := time.Now()
				if _, err := p.inv.Hold(ctx, areas[n%4], fmt.Sprintf("o-%d", n), 1); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
		elapsed := time.Since(start)
		b.StopTimer()
		slices.Sort(latencies)
		if len(latencies) > 0 {
			b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
		}
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "holds/s")
	}
	b.Run("sqlite", func(b *testing.B) { run(b, store.Config{Dir: b.TempDir()}) })
	b.Run("postgres", func(b *testing.B) { run(b, store.Config{DSN: storetest.PostgresSchema(b)}) })
}
