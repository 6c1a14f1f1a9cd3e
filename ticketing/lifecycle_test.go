package ticketing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/inventory"
	"github.com/arus-platform/arus/ticketing/messages"
)

// Events move on with time: an event on sale whose sale window passes with
// nothing sold expires; one with tickets sold closes its sale and ends
// when it is over.
func TestEventsMoveOnWithTime(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) { eventsMoveOn(t, start(t, base, harnessConfig{})) })
}

func eventsMoveOn(t *testing.T, h *harness) {
	ctx := context.Background()
	unsold := h.onSaleEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 5, Price: 1000})
	sold := h.onSaleEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 5, Price: 1000})
	o, _, err := h.svc.PlaceOrder(ctx, ticketing.OrderInput{EventID: sold.ID, Lines: []ticketing.LineInput{{AreaID: sold.Areas[0].ID, Quantity: 1}},
		Buyer: buyer(1), Method: ticketing.MethodCash})
	if err != nil {
		t.Fatal(err)
	}
	h.pay(t, "p1", messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "p1", OrderID: o.ID, Amount: o.Total})
	waitFor(t, "paid", func() (bool, error) { return h.order(t, o.ID).Paid, nil })

	h.clock.Advance(29*24*time.Hour + time.Minute) // past the sale window
	status := func(id string) string {
		e, err := h.svc.Event(ctx, ticketing.Everything, id)
		if err != nil {
			t.Fatal(err)
		}
		return e.Status
	}
	waitFor(t, "sale over", func() (bool, error) {
		return status(unsold.ID) == ticketing.StatusExpired && status(sold.ID) == ticketing.StatusSaleClosed, nil
	})
	if _, _, err := h.svc.PlaceOrder(ctx, ticketing.OrderInput{EventID: sold.ID, Lines: []ticketing.LineInput{{AreaID: sold.Areas[0].ID, Quantity: 1}},
		Buyer: buyer(2), Method: ticketing.MethodCash}); !errors.Is(err, ticketing.ErrConflict) {
		t.Errorf("an order after the sale closed: got %v, want ErrConflict", err)
	}
	if err := h.svc.Sweep(ctx); err != nil {
		t.Errorf("sweep: %v", err)
	}
	h.clock.Advance(3 * 24 * time.Hour) // past the event's end
	waitFor(t, "ended", func() (bool, error) { return status(sold.ID) == ticketing.StatusEnded, nil })

	// The dashboard counts from the orders topic.
	var d ticketing.Dashboard
	waitFor(t, "dashboard", func() (bool, error) {
		var err error
		d, err = h.svc.Dashboard(ctx, time.Now().AddDate(0, 0, -1), time.Now().AddDate(0, 0, 1))
		var revenue, tickets int64
		for _, p := range d.Days {
			revenue, tickets = revenue+p.Revenue, tickets+p.Tickets
		}
		return revenue == o.Total && tickets == 1, err
	})
	if d.Merchants < 2 || d.Events < 2 || d.Customers != 1 || len(d.Months) == 0 {
		t.Errorf("dashboard: got %d merchants, %d events, %d customers, %d months; want 2, 2, 1, at least 1", d.Merchants, d.Events, d.Customers, len(d.Months))
	}
}

// Bad input names the field and the reason.
func TestValidation(t *testing.T) {
	h := start(t, store.Config{}, harnessConfig{})
	ctx := context.Background()
	m, err := h.svc.CreateMerchant(ctx, ticketing.MerchantInput{Name: "M", Type: "venue"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"merchant type", func() error {
			_, err := h.svc.CreateMerchant(ctx, ticketing.MerchantInput{Name: "X", Type: "bank"})
			return err
		}, "type"},
		{"event window", func() error {
			_, err := h.svc.CreateEvent(ctx, ticketing.Everything, ticketing.EventInput{MerchantID: m.ID, Name: "E", Venue: "V", Address: "A",
				Starts: now, Ends: now.Add(-time.Hour), SaleStarts: now, SaleEnds: now.Add(time.Hour)})
			return err
		}, "ends"},
		{"sale after the event", func() error {
			_, err := h.svc.CreateEvent(ctx, ticketing.Everything, ticketing.EventInput{MerchantID: m.ID, Name: "E", Venue: "V", Address: "A",
				Starts: now, Ends: now.Add(time.Hour), SaleStarts: now, SaleEnds: now.Add(2 * time.Hour)})
			return err
		}, "sale_ends"},
		{"merchant out of scope", func() error {
			_, err := h.svc.CreateEvent(ctx, ticketing.Scope{Merchants: []string{"mer_other"}}, ticketing.EventInput{MerchantID: m.ID, Name: "E",
				Venue: "V", Address: "A", Starts: now, Ends: now.Add(time.Hour), SaleStarts: now, SaleEnds: now.Add(time.Hour)})
			return err
		}, "merchant_id"},
		{"payment method", func() error { _, err := h.svc.CreatePaymentMethod(ctx, "qris"); return err }, "name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			var ve *invalid.Fields
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want an *invalid.Fields", err)
			}
			found := false
			for _, f := range ve.List {
				found = found || f.Name == c.want
			}
			if !found {
				t.Errorf("got fields %+v, want %q among them", ve.List, c.want)
			}
		})
	}
}

// An event canceled while its go-live saga runs never goes on sale: the
// step that finds it canceled fails, the steps before it are undone, and
// the inventory sells nothing.
func TestCancelDuringGoLive(t *testing.T) {
	h := start(t, store.Config{}, harnessConfig{})
	ctx := context.Background()
	e := h.approvedEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 5, Price: 1000})
	if _, err := h.svc.CancelEvent(ctx, e.ID, "admin", "the artist fell ill"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "go-live compensated", func() (bool, error) {
		got, err := h.svc.Event(ctx, ticketing.Everything, e.ID)
		e = got
		return got.GoLive.State == string(saga.StateCompensated), err
	})
	if e.Status != ticketing.StatusCanceled {
		t.Errorf("status: got %s, want canceled", e.Status)
	}
	av, err := h.svc.Inventory().Availability(ctx, inventory.AreaID{Event: e.ID, Area: e.Areas[0].ID})
	if err != nil && !errors.Is(err, inventory.ErrNoCapacity) {
		t.Fatal(err)
	}
	if av.Capacity != 0 {
		t.Errorf("capacity: got %d, want 0", av.Capacity)
	}
}
