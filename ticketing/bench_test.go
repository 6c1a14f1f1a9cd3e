package ticketing_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/messages"
)

// BenchmarkPlaceOrder places one-ticket orders from parallel buyers into
// four areas of one event: each order holds its ticket in the inventory
// and commits with its OrderPlaced message in the outbox.
func BenchmarkPlaceOrder(b *testing.B) { onEachStore(b, benchPlace) }

// BenchmarkRefuseSoldOut asks parallel buyers, each with an idempotency
// key as the storefront sends, for tickets of four sold-out areas: the
// reads and the inventory's answer of every refusal.
func BenchmarkRefuseSoldOut(b *testing.B) {
	onEachStore(b, func(b *testing.B, base store.Config) {
		benchOrders(b, base, 1, "refusals/s", func(err error) bool { return errors.Is(err, ticketing.ErrSoldOut) })
	})
}

// onEachStore runs bench on SQLite and on PostgreSQL.
func onEachStore(b *testing.B, bench func(*testing.B, store.Config)) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			base := store.Config{}
			if dialect == "postgres" {
				base.DSN = storetest.PostgresSchema(b)
			}
			bench(b, base)
		})
	}
}

func benchPlace(b *testing.B, base store.Config) {
	benchOrders(b, base, 1_000_000, "orders/s", func(err error) bool { return err == nil })
}

// benchOrders places one-ticket orders with idempotency keys from 8
// parallel buyers into four areas of capacity tickets each (filled
// first), wants each answer to satisfy ok, and reports the rate and the
// process's CPU time per order (getrusage).
func benchOrders(b *testing.B, base store.Config, capacity int, unit string, ok func(error) bool) {
	h := start(b, base, harnessConfig{})
	ctx := context.Background()
	var areas []ticketing.AreaInput
	for i := range 4 {
		areas = append(areas, ticketing.AreaInput{Name: fmt.Sprintf("Area %d", i), Capacity: capacity, Price: 100_000})
	}
	e := h.onSaleEvent(b, areas...)
	run := fmt.Sprint(time.Now().UnixNano())
	order := func(i int64) error {
		_, _, err := h.svc.PlaceOrder(ctx, ticketing.OrderInput{EventID: e.ID,
			Lines: []ticketing.LineInput{{AreaID: e.Areas[i%4].ID, Quantity: 1}},
			Buyer: messages.Buyer{Name: "B", Email: fmt.Sprintf("b%d@example.com", i)}, Method: ticketing.MethodCash,
			IdempotencyKey: fmt.Sprintf("bench-%s-%d", run, i)})
		return err
	}
	var n atomic.Int64
	if capacity < 1000 {
		for range 4 * capacity {
			if err := order(n.Add(1)); err != nil {
				b.Fatal(err)
			}
		}
	}
	var before syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := order(n.Add(1)); !ok(err) {
				b.Errorf("unexpected answer: %v", err)
				return
			}
		}
	})
	b.StopTimer()
	var after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkWaitingRoom has parallel buyers join an event's waiting room
// (one position each, in one transaction on the room's row) and then ask
// for their place (which admits who is due, a compare-and-set on the same
// row): the rate a room takes arrivals and polls.
func BenchmarkWaitingRoom(b *testing.B) {
	onEachStore(b, func(b *testing.B, base store.Config) {
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
