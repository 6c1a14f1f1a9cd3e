package ticketing_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/inventory"
	"github.com/arus-platform/arus/ticketing/messages"
)

// Two instances of the service, as two processes would run them, share
// one PostgreSQL database and one broker: 100 buyers split between them
// for 10 tickets, exactly 10 sold; the payments, consumed by whichever
// instance holds the partition, validate all 10 once.
func TestTwoInstancesShareOneStore(t *testing.T) {
	base := store.Config{DSN: storetest.PostgresSchema(t)}
	h := start(t, base, harnessConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	open := func(component string) *store.DB {
		cfg := base
		cfg.Component = component
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db, invDB := open("ticketing"), open("ticketing_inventory")
	other, err := ticketing.Open(ctx, ticketing.Config{DB: db, InventoryDB: invDB, Broker: h.broker, Sagas: h.sagas,
		SweepEvery: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = other.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; db.Close(); invDB.Close() })

	e := h.onSaleEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 10, Price: 50_000})
	services := []*ticketing.Service{h.svc, other}
	var mu sync.Mutex
	var placed []ticketing.Order
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, _, err := services[i%2].PlaceOrder(ctx, ticketing.OrderInput{EventID: e.ID, Lines: []ticketing.LineInput{{AreaID: e.Areas[0].ID, Quantity: 1}},
				Buyer: buyer(i), Method: ticketing.MethodCash})
			if errors.Is(err, ticketing.ErrSoldOut) {
				return
			}
			if err != nil {
				t.Errorf("buyer %d: %v", i, err)
				return
			}
			mu.Lock()
			placed = append(placed, o)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(placed) != 10 {
		t.Fatalf("got %d orders placed, want 10", len(placed))
	}
	numbers := map[string]bool{}
	for _, o := range placed {
		if numbers[o.Number] {
			t.Errorf("order number %s given twice", o.Number)
		}
		numbers[o.Number] = true
		h.pay(t, "pay-"+o.ID, messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "pay-" + o.ID, OrderID: o.ID, Amount: o.Total})
	}
	waitFor(t, "all 10 validated", func() (bool, error) {
		for _, o := range placed {
			if h.order(t, o.ID).Status != ticketing.OrderValidated {
				return false, nil
			}
		}
		return true, nil
	})
	av, err := other.Inventory().Availability(ctx, inventory.AreaID{Event: e.ID, Area: e.Areas[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if av.Sold != 10 {
		t.Errorf("sold: got %d, want 10", av.Sold)
	}
	for _, o := range placed {
		if n := len(h.order(t, o.ID).Tickets); n != 1 {
			t.Errorf("order %s: got %d tickets, want 1", o.Number, n)
		}
	}
}
