package inventory_test

import (
	"context"
	"errors"
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

// BenchmarkFlashSale runs, per iteration, a flash sale of 100,000 purchase
// attempts by 256 concurrent buyers for 10,000 tickets in four areas: each
// attempt holds a ticket and, when it got one, pays for it at once. It
// fails if a single ticket too many or too few is sold, and reports
// attempts per second, tickets sold per second until the last one, and
// the 99th percentile of one attempt.
func BenchmarkFlashSale(b *testing.B) {
	run := func(b *testing.B, base store.Config) {
		ctx := context.Background()
		p := openProcess(b, base, inventory.Config{})
		const attempts, tickets, buyers = 100_000, 10_000, 256
		var total, sellOut time.Duration
		var all []time.Duration
		for iter := range b.N {
			areas := make([]inventory.AreaID, 4)
			for i := range areas {
				areas[i] = inventory.AreaID{Event: fmt.Sprintf("sale%d", iter), Area: fmt.Sprintf("a%d", i)}
				if err := p.inv.SetCapacity(ctx, areas[i], tickets/len(areas)); err != nil {
					b.Fatal(err)
				}
			}
			var next, sold, lastSale atomic.Int64
			var mu sync.Mutex
			var wg sync.WaitGroup
			start := time.Now()
			for range buyers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					for {
						n := next.Add(1)
						if n > attempts {
							break
						}
						id, order := areas[n%4], fmt.Sprintf("o-%d", n)
						t0 := time.Now()
						_, err := p.inv.Hold(ctx, id, order, 1)
						if err == nil {
							var sale inventory.Sale
							if sale, err = p.inv.Confirm(ctx, id, order); err == nil && sale.Outcome == inventory.Sold {
								sold.Add(1)
								lastSale.Store(int64(time.Since(start)))
							}
						}
						if err != nil && !errors.Is(err, inventory.ErrSoldOut) {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			total += time.Since(start)
			sellOut += time.Duration(lastSale.Load())
			if sold.Load() != tickets {
				b.Fatalf("sold %d tickets, want %d", sold.Load(), tickets)
			}
		}
		slices.Sort(all)
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(b.N*attempts)/total.Seconds(), "attempts/s")
		b.ReportMetric(float64(b.N*tickets)/sellOut.Seconds(), "sold/s")
	}
	b.Run("sqlite", func(b *testing.B) { run(b, store.Config{Dir: b.TempDir()}) })
	b.Run("postgres", func(b *testing.B) { run(b, store.Config{DSN: storetest.PostgresSchema(b)}) })
}
