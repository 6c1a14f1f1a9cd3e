package ticketing_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/messages"
)

// BenchmarkPlaceOrder places one-ticket orders from parallel buyers into
// four areas of one event: each order holds its ticket in the inventory
// and commits with its OrderPlaced message in the outbox.
func BenchmarkPlaceOrder(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			base := store.Config{}
			if dialect == "postgres" {
				base.DSN = storetest.PostgresSchema(b)
			}
			benchPlace(b, base)
		})
	}
}

func benchPlace(b *testing.B, base store.Config) {
	h := start(b, base, harnessConfig{})
	ctx := context.Background()
	var areas []ticketing.AreaInput
	for i := range 4 {
		areas = append(areas, ticketing.AreaInput{Name: fmt.Sprintf("Area %d", i), Capacity: 1_000_000, Price: 100_000})
	}
	e := h.onSaleEvent(b, areas...)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, _, err := h.svc.PlaceOrder(ctx, ticketing.OrderInput{EventID: e.ID,
				Lines: []ticketing.LineInput{{AreaID: e.Areas[i%4].ID, Quantity: 1}},
				Buyer: messages.Buyer{Name: "B", Email: fmt.Sprintf("b%d@example.com", i)}, Method: ticketing.MethodCash})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
