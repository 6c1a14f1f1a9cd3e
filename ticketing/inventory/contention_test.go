package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/inventory"
)

// buy holds one ticket for order and pays for it at once, trying again
// while the area is busy. It returns the outcome, or "sold out".
func buy(ctx context.Context, inv *inventory.Inventory, id inventory.AreaID, order string) (string, error) {
	for attempt := 0; ; attempt++ {
		_, err := inv.Hold(ctx, id, order, 1)
		switch {
		case errors.Is(err, inventory.ErrSoldOut):
			return "sold out", nil
		case errors.Is(err, inventory.ErrBusy) && attempt < 10:
			continue
		case err != nil:
			return "", err
		}
		for attempt := 0; ; attempt++ {
			sale, err := inv.Confirm(ctx, id, order)
			if errors.Is(err, inventory.ErrBusy) && attempt < 10 {
				continue
			}
			return string(sale.Outcome), err
		}
	}
}

// 100 buyers for 10 tickets, spread over four processes sharing the store,
// round after round: exactly 10 are sold every time.
func TestHundredBuyersTenTickets(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		procs := openProcesses(t, base, 4, inventory.Config{})
		for round := range rounds {
			id := inventory.AreaID{Event: "flash", Area: fmt.Sprintf("r%d", round)}
			if err := procs[0].inv.SetCapacity(ctx, id, 10); err != nil {
				t.Fatal(err)
			}
			outcomes := map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			start := make(chan struct{})
			for b := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					got, err := buy(ctx, procs[b%len(procs)].inv, id, fmt.Sprintf("buyer-%d", b))
					if err != nil {
						t.Errorf("buyer %d: %v", b, err)
						return
					}
					mu.Lock()
					outcomes[got]++
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			if outcomes["sold"] != 10 || outcomes["sold out"] != 90 {
				t.Fatalf("round %d: outcomes %v, want 10 sold and 90 sold out", round, outcomes)
			}
			for i, p := range procs {
				av, err := p.inv.Availability(ctx, id)
				if err != nil || av.Sold != 10 || av.Free != 0 {
					t.Fatalf("round %d, process %d: availability %+v %v, want 10 sold, 0 free", round, i, av, err)
				}
			}
		}
		r := mustAudit(t, procs[1].inv)
		if len(r.Areas) != rounds {
			t.Errorf("audited %d areas, want %d", len(r.Areas), rounds)
		}
		for _, a := range r.Areas {
			if a.Sold != 10 || a.Holds != 0 {
				t.Errorf("audit of %s: %d sold, %d holds, want 10 and 0", a.Area, a.Sold, a.Holds)
			}
		}
	})
}

// Holds expire while buyers keep coming, late payments race new buyers,
// a sweeper runs, and a refund returns tickets: the area never has more
// tickets sold and held than its capacity at any event (the audit checks
// each), every late payment is sold or refunded, and the read model
// agrees.
func TestExpiryAndLatePaymentsRaceBuyers(t *testing.T) {
	rounds := 8
	if testing.Short() {
		rounds = 2
	}
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		// Every reading of the clock moves it on by 10ms, and holds last
		// 2s: under load, holds expire between hold and payment.
		clk := newClock()
		clk.step = 10 * time.Millisecond
		cfg := inventory.Config{HoldTTL: 2 * time.Second, Now: clk.Now}
		procs := openProcesses(t, base, 3, cfg)
		projCtx, stopProjection := context.WithCancel(ctx)
		projDone := make(chan error, 1)
		go func() { projDone <- procs[2].inv.RunProjection(projCtx) }()

		var lateSold, refunds int
		for round := range rounds {
			id := inventory.AreaID{Event: "race", Area: fmt.Sprintf("r%d", round)}
			if err := procs[0].inv.SetCapacity(ctx, id, 10); err != nil {
				t.Fatal(err)
			}
			// Ten early buyers hold everything, then their holds expire.
			for i := range 10 {
				if _, err := procs[i%3].inv.Hold(ctx, id, fmt.Sprintf("early-%d", i), 1); err != nil {
					t.Fatalf("early hold: %v", err)
				}
			}
			clk.Advance(3 * time.Second)

			var mu sync.Mutex
			outcomes := map[string]int{}
			record := func(s string) { mu.Lock(); outcomes[s]++; mu.Unlock() }
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 10 { // the early buyers pay late
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					var sale inventory.Sale
					var err error
					for attempt := 0; attempt < 10; attempt++ {
						sale, err = procs[i%3].inv.Confirm(ctx, id, fmt.Sprintf("early-%d", i))
						if !errors.Is(err, inventory.ErrBusy) {
							break
						}
					}
					if err != nil {
						t.Errorf("late payment: %v", err)
						return
					}
					record("late " + string(sale.Outcome))
				}()
			}
			for i := range 40 { // new buyers, some slow to pay
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					got, err := buy(ctx, procs[(i+1)%3].inv, id, fmt.Sprintf("new-%d", i))
					if err != nil {
						t.Errorf("new buyer: %v", err)
						return
					}
					record("new " + got)
				}()
			}
			wg.Add(1)
			go func() { // a sweeper
				defer wg.Done()
				<-start
				for range 5 {
					if _, err := procs[round%3].inv.Sweep(ctx, id); err != nil && !errors.Is(err, inventory.ErrBusy) {
						t.Errorf("sweep: %v", err)
					}
				}
			}()
			close(start)
			wg.Wait()

			late := outcomes["late sold"] + outcomes["late sold_late"] + outcomes["late refund"]
			if late != 10 {
				t.Fatalf("round %d: outcomes %v, want all 10 late payments answered", round, outcomes)
			}
			sold := outcomes["late sold_late"] + outcomes["new sold"] + outcomes["new sold_late"]
			av, err := procs[0].inv.Availability(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if av.Sold != sold || av.Sold > 10 || av.Sold+av.Held > av.Capacity {
				t.Fatalf("round %d: availability %+v with outcomes %v: want sold = %d, never above 10", round, av, outcomes, sold)
			}
			lateSold += outcomes["late sold_late"]
			refunds += outcomes["late refund"]
		}
		t.Logf("late payments: %d sold, %d refunded", lateSold, refunds)
		if _, err := procs[0].inv.Project(ctx); err != nil {
			t.Fatal(err)
		}
		stopProjection()
		if err := <-projDone; !errors.Is(err, context.Canceled) {
			t.Fatalf("projection: %v", err)
		}
		mustAudit(t, procs[0].inv)
	})
}
