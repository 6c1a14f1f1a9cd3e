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

// BenchmarkWaitingRoom has parallel buyers join an event's waiting room
// (one position each, in one transaction on the room's row) and then ask
// for their place (which admits who is due, a compare-and-set on the same
// row): the rate a room takes arrivals and polls.
func BenchmarkWaitingRoom(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			base := store.Config{}
			if dialect == "postgres" {
				base.DSN = storetest.PostgresSchema(b)
			}
			h := start(b, base, harnessConfig{})
			ctx := context.Background()
			e := h.onSaleEvent(b, ticketing.AreaInput{Name: "Festival", Capacity: 1000, Price: 100_000})
			if _, err := h.svc.SetWaitingRoom(ctx, ticketing.Everything, e.ID, ticketing.WaitroomInput{Enabled: true, Rate: 100}); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					q, err := h.svc.JoinWaitingRoom(ctx, e.ID)
					if err == nil {
						_, err = h.svc.WaitingRoomStatus(ctx, e.ID, q.Ticket)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins+polls/s")
		})
	}
}
