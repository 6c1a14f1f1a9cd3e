package ticketing_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/inventory"
	"github.com/arus-platform/arus/ticketing/messages"
)

// Ten holds expire; then their late payments race twenty new buyers for
// the ten tickets. However the race goes, no more than ten are sold, every
// late payment ends validated or rejected (none is left pending), the
// tickets issued match the sales, and the audit agrees.
func TestExpiredHoldsLatePaymentsRaceNewBuyers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		h := start(t, base, harnessConfig{holdTTL: time.Minute})
		ctx := context.Background()
		e := h.onSaleEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 10, Price: 100_000})
		area := e.Areas[0].ID
		place := func(n int) (ticketing.Order, error) {
			o, _, err := h.svc.PlaceOrder(ctx, ticketing.OrderInput{EventID: e.ID, Lines: []ticketing.LineInput{{AreaID: area, Quantity: 1}},
				Buyer: buyer(n), Method: ticketing.MethodCash})
			return o, err
		}
		var late []ticketing.Order
		for i := range 10 {
			o, err := place(i)
			if err != nil {
				t.Fatal(err)
			}
			late = append(late, o)
		}
		h.clock.Advance(2 * time.Minute)

		var wg sync.WaitGroup
		var mu sync.Mutex
		var fresh []ticketing.Order
		soldOut := 0
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := place(100 + i)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ticketing.ErrSoldOut):
					soldOut++
				case err != nil:
					t.Errorf("new buyer %d: %v", i, err)
				default:
					fresh = append(fresh, o)
				}
			}()
		}
		for _, o := range late {
			h.pay(t, "late-"+o.ID, messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "pay-" + o.ID, OrderID: o.ID, Amount: o.Total})
		}
		wg.Wait()
		for _, o := range fresh {
			h.pay(t, "pay-"+o.ID, messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "pay-" + o.ID, OrderID: o.ID, Amount: o.Total})
		}
		all := append(append([]ticketing.Order{}, late...), fresh...)
		validated, rejected := 0, 0
		waitFor(t, "every payment decided", func() (bool, error) {
			validated, rejected = 0, 0
			for _, o := range all {
				got := h.order(t, o.ID)
				switch {
				case got.Status == ticketing.OrderValidated:
					validated++
				case got.Status == ticketing.OrderPending:
					return false, nil
				default:
					if !contains(h.orders.of(o.ID), messages.TypeLatePaymentRejected) {
						return false, nil
					}
					rejected++
				}
			}
			return true, nil
		})
		av, err := h.svc.Inventory().Availability(ctx, inventory.AreaID{Event: e.ID, Area: area})
		if err != nil {
			t.Fatal(err)
		}
		if av.Sold > 10 || av.Sold != validated {
			t.Errorf("got %d sold and %d orders validated; want them equal and at most 10", av.Sold, validated)
		}
		if validated+rejected != len(all) {
			t.Errorf("got %d validated and %d rejected of %d orders", validated, rejected, len(all))
		}
		if len(fresh)+soldOut != 20 {
			t.Errorf("new buyers: %d placed and %d sold out, want 20 in all", len(fresh), soldOut)
		}
		report, err := h.svc.Inventory().Audit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !report.OK() {
			t.Errorf("audit: %+v", report.Areas)
		}
		t.Logf("%d late and %d new orders: %d validated, %d refused, %d new buyers sold out", len(late), len(fresh), validated, rejected, soldOut)
	})
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
