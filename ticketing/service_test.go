package ticketing_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/kafka"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/inventory"
	"github.com/arus-platform/arus/ticketing/messages"
)

func TestGoLive(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		h := start(t, base, harnessConfig{})
		e := h.onSaleEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 10, Price: 500_000}, ticketing.AreaInput{Name: "Festival", Capacity: 100, Price: 150_000})
		if !e.GoLive.GateStub {
			t.Errorf("go-live gate stub: got false, want true: the stub answered")
		}
		if e.StatusReason != "" {
			t.Errorf("status reason: got %q, want none", e.StatusReason)
		}
		for _, a := range e.Areas {
			av, err := h.svc.Inventory().Availability(context.Background(), inventory.AreaID{Event: e.ID, Area: a.ID})
			if err != nil {
				t.Fatal(err)
			}
			if av.Capacity != a.Capacity || av.Free != a.Capacity {
				t.Errorf("area %s: got capacity %d, free %d; want %d, %d", a.Name, av.Capacity, av.Free, a.Capacity, a.Capacity)
			}
		}
		in, err := h.sagas.Get(context.Background(), e.GoLive.SagaID)
		if err != nil {
			t.Fatal(err)
		}
		var topics []string
		for _, ev := range in.History {
			if ev.Type == saga.EventCommand {
				topics = append(topics, ev.Topic)
			}
		}
		want := []string{messages.TopicCreate, messages.TopicACLCreate, messages.TopicStatusUpdate}
		if !slices.Equal(topics, want) {
			t.Errorf("saga commands: got %q, want %q", topics, want)
		}
	})
}

func TestGoLiveRefusedByGate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		h := start(t, base, harnessConfig{refuse: "no gate hardware for this venue"})
		e := h.approvedEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 10, Price: 500_000})
		ctx := context.Background()
		waitFor(t, "go-live compensated", func() (bool, error) {
			got, err := h.svc.Event(ctx, ticketing.Everything, e.ID)
			e = got
			return got.GoLive.State == string(saga.StateCompensated), err
		})
		if e.Status != ticketing.StatusApproved {
			t.Errorf("status: got %s, want %s", e.Status, ticketing.StatusApproved)
		}
		if !strings.Contains(e.StatusReason, "no gate hardware for this venue") {
			t.Errorf("status reason: got %q, want the gate's reason", e.StatusReason)
		}
		av, err := h.svc.Inventory().Availability(ctx, inventory.AreaID{Event: e.ID, Area: e.Areas[0].ID})
		if err != nil {
			t.Fatal(err)
		}
		if av.Capacity != 0 {
			t.Errorf("capacity after compensation: got %d, want 0", av.Capacity)
		}
		_, _, err = h.svc.PlaceOrder(ctx, ticketing.OrderInput{EventID: e.ID, Lines: []ticketing.LineInput{{AreaID: e.Areas[0].ID, Quantity: 1}},
			Buyer: buyer(1), Method: ticketing.MethodCash})
		if !errors.Is(err, ticketing.ErrConflict) {
			t.Errorf("order on an event not on sale: got %v, want ErrConflict", err)
		}
	})
}

func TestOrderPaidRefundedOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		orderFlow(t, start(t, base, harnessConfig{}))
	})
}

// The order flow runs the same on every backend: Redis and Kafka (kfake)
// besides the embedded log.
func TestOrderFlowOnEveryBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("the order flow on every backend: skipped with -short")
	}
	brokertest.Each(t, func(t *testing.T, b stream.Broker) {
		orderFlow(t, start(t, store.Config{}, harnessConfig{broker: b}))
	})
}

// orderFlow places an order, pays it (twice the same message), refunds
// one ticket and checks every message on the orders topic.
func orderFlow(t *testing.T, h *harness) {
	{
		ctx := context.Background()
		e := h.onSaleEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 10, Price: 500_000}, ticketing.AreaInput{Name: "Festival", Capacity: 10, Price: 150_000})
		in := ticketing.OrderInput{EventID: e.ID, Lines: []ticketing.LineInput{{AreaID: areaID(t, e, "VIP"), Quantity: 2}, {AreaID: areaID(t, e, "Festival"), Quantity: 1}},
			Buyer: buyer(2), Method: ticketing.MethodOnline, IdempotencyKey: "key-1"}
		o, created, err := h.svc.PlaceOrder(ctx, in)
		if err != nil || !created {
			t.Fatalf("place: got created %v, %v", created, err)
		}
		if o.Total != 1_150_000 || o.Status != ticketing.OrderPending {
			t.Errorf("order: got total %d, status %s; want 1150000, pending", o.Total, o.Status)
		}
		if !strings.HasPrefix(o.Number, h.clock.Now().In(mustZone(t)).Format(time.DateOnly)+"-") || len(strings.Split(o.Number, "-")) != 5 {
			t.Errorf("number: got %q, want date-sequence-four digits", o.Number)
		}
		again, created, err := h.svc.PlaceOrder(ctx, in)
		if err != nil || created || again.ID != o.ID {
			t.Errorf("same idempotency key: got order %s, created %v, %v; want %s, false", again.ID, created, err, o.ID)
		}
		in.Lines[0].Quantity = 3
		if _, _, err := h.svc.PlaceOrder(ctx, in); !errors.Is(err, ticketing.ErrConflict) {
			t.Errorf("same key, other lines: got %v, want ErrConflict", err)
		}
		pay := messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "pay-1", OrderID: o.ID, Amount: o.Total, Method: "ONLINE"}
		h.pay(t, "payment-record-1", pay)
		h.pay(t, "payment-record-1", pay) // redelivered: no second effect
		waitFor(t, "order validated", func() (bool, error) {
			return h.order(t, o.ID).Status == ticketing.OrderValidated, nil
		})
		o = h.order(t, o.ID)
		if len(o.Tickets) != 3 || !o.Paid || o.PaymentReceived != o.Total {
			t.Fatalf("paid order: got %d tickets, paid %v, received %d; want 3, true, %d", len(o.Tickets), o.Paid, o.PaymentReceived, o.Total)
		}
		codes := map[string]bool{}
		for _, tk := range o.Tickets {
			if len(tk.Code) < 32 || codes[tk.Code] {
				t.Errorf("ticket code %q: want 32 random hex digits, unique", tk.Code)
			}
			codes[tk.Code] = true
		}
		waitFor(t, "placed, paid, issued", func() (bool, error) {
			return slices.Equal(h.orders.of(o.ID), []string{messages.TypeOrderPlaced, messages.TypeOrderPaid, messages.TypeTicketsIssued}), nil
		})

		// Refund one VIP ticket.
		vip := o.Tickets[slices.IndexFunc(o.Tickets, func(tk ticketing.Ticket) bool { return tk.AreaName == "VIP" })]
		r, err := h.svc.RequestRefund(ctx, ticketing.Everything, o.ID, "cashier", ticketing.RefundInput{Kind: ticketing.RefundTickets,
			TicketIDs: []string{vip.ID}, Reason: "cannot come"})
		if err != nil {
			t.Fatalf("request refund: %v", err)
		}
		if r.Amount != 500_000 {
			t.Errorf("refund amount: got %d, want 500000", r.Amount)
		}
		if _, err := h.svc.ApproveRefund(ctx, ticketing.Everything, r.ID, "merchant"); err != nil {
			t.Fatalf("approve refund: %v", err)
		}
		waitFor(t, "revoked before approved", func() (bool, error) {
			got := h.orders.of(o.ID)
			return len(got) >= 5, nil
		})
		if got := h.orders.of(o.ID)[3:5]; !slices.Equal(got, []string{messages.TypeTicketsRevoked, messages.TypeRefundApproved}) {
			t.Errorf("after approval: got %q, want tickets revoked then refund approved", got)
		}
		av, err := h.svc.Inventory().Availability(ctx, inventory.AreaID{Event: e.ID, Area: vip.AreaID})
		if err != nil {
			t.Fatal(err)
		}
		if av.Sold != 1 || av.Free != 9 {
			t.Errorf("VIP after the refund: got sold %d, free %d; want 1, 9", av.Sold, av.Free)
		}
		h.pay(t, "refund-record-1", messages.PaymentResult{Type: messages.TypePaymentRefunded, PaymentID: "pay-1", OrderID: o.ID,
			Amount: r.Amount, RefundID: r.ID})
		waitFor(t, "partially refunded", func() (bool, error) {
			return h.order(t, o.ID).Status == ticketing.OrderPartiallyRefunded, nil
		})
		var refunded messages.OrderRefunded
		waitFor(t, "order refunded message", func() (bool, error) {
			return h.orders.find(o.ID, messages.TypeOrderRefunded, &refunded), nil
		})
		if !refunded.Partial || refunded.Amount != 500_000 {
			t.Errorf("OrderRefunded: got partial %v, amount %d; want true, 500000", refunded.Partial, refunded.Amount)
		}
	}
}

func TestHoldExpiryAndLatePayment(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		h := start(t, base, harnessConfig{holdTTL: time.Minute})
		ctx := context.Background()
		e := h.onSaleEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 10, Price: 100_000})
		area := e.Areas[0].ID
		place := func(n, qty int) (ticketing.Order, error) {
			o, _, err := h.svc.PlaceOrder(ctx, ticketing.OrderInput{EventID: e.ID, Lines: []ticketing.LineInput{{AreaID: area, Quantity: qty}},
				Buyer: buyer(n), Method: ticketing.MethodCash})
			return o, err
		}
		a, err := place(1, 6)
		if err != nil {
			t.Fatal(err)
		}
		b, err := place(2, 4)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := place(3, 1); !errors.Is(err, ticketing.ErrSoldOut) {
			t.Fatalf("11th ticket: got %v, want ErrSoldOut", err)
		}
		h.clock.Advance(2 * time.Minute)
		// Availability does not wait for the sweeper: the holds are free.
		c, err := place(3, 5)
		if err != nil {
			t.Fatalf("after expiry: %v", err)
		}
		waitFor(t, "a and b expired", func() (bool, error) {
			return h.order(t, a.ID).Status == ticketing.OrderExpired && h.order(t, b.ID).Status == ticketing.OrderExpired, nil
		})
		// a's 6 no longer fit (5 free); b's 4 do.
		h.pay(t, "late-a", messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "pay-a", OrderID: a.ID, Amount: a.Total})
		h.pay(t, "late-b", messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "pay-b", OrderID: b.ID, Amount: b.Total})
		waitFor(t, "late payments decided", func() (bool, error) {
			return slices.Contains(h.orders.of(a.ID), messages.TypeLatePaymentRejected) && h.order(t, b.ID).Status == ticketing.OrderValidated, nil
		})
		if got := h.order(t, a.ID); got.Status != ticketing.OrderExpired || got.Paid {
			t.Errorf("order a: got %s, paid %v; want expired, unpaid", got.Status, got.Paid)
		}
		var paid messages.OrderPaid
		waitFor(t, "order b paid message", func() (bool, error) { return h.orders.find(b.ID, messages.TypeOrderPaid, &paid), nil })
		if !paid.Late {
			t.Errorf("order b: got OrderPaid not late, want late")
		}
		h.pay(t, "pay-c", messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "pay-c", OrderID: c.ID, Amount: c.Total})
		waitFor(t, "c validated", func() (bool, error) { return h.order(t, c.ID).Status == ticketing.OrderValidated, nil })
		av, err := h.svc.Inventory().Availability(ctx, inventory.AreaID{Event: e.ID, Area: area})
		if err != nil {
			t.Fatal(err)
		}
		if av.Sold != 9 {
			t.Errorf("sold: got %d, want 9 (b's 4 and c's 5)", av.Sold)
		}
		report, err := h.svc.Inventory().Audit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !report.OK() {
			t.Errorf("audit: %+v", report.Areas)
		}
		// A failed payment cancels a pending order and frees its tickets.
		d, err := place(4, 1)
		if err != nil {
			t.Fatal(err)
		}
		h.pay(t, "fail-d", messages.PaymentResult{Type: messages.TypePaymentFailed, PaymentID: "pay-d", OrderID: d.ID, Amount: d.Total, Reason: "declined"})
		waitFor(t, "d canceled", func() (bool, error) { return h.order(t, d.ID).Status == ticketing.OrderCanceled, nil })
		if _, err := place(5, 1); err != nil {
			t.Errorf("the canceled order's ticket: got %v, want it free", err)
		}
	})
}

func TestCancelEventRefundsPaidOrders(t *testing.T) {
	h := start(t, store.Config{}, harnessConfig{})
	ctx := context.Background()
	e := h.onSaleEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 10, Price: 100_000})
	var paid []ticketing.Order
	for i := range 2 {
		o, _, err := h.svc.PlaceOrder(ctx, ticketing.OrderInput{EventID: e.ID, Lines: []ticketing.LineInput{{AreaID: e.Areas[0].ID, Quantity: 2}},
			Buyer: buyer(i), Method: ticketing.MethodCash})
		if err != nil {
			t.Fatal(err)
		}
		h.pay(t, "p"+o.ID, messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "pay-" + o.ID, OrderID: o.ID, Amount: o.Total})
		paid = append(paid, o)
	}
	pending, _, err := h.svc.PlaceOrder(ctx, ticketing.OrderInput{EventID: e.ID, Lines: []ticketing.LineInput{{AreaID: e.Areas[0].ID, Quantity: 1}},
		Buyer: buyer(9), Method: ticketing.MethodCash})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both paid", func() (bool, error) {
		return h.order(t, paid[0].ID).Paid && h.order(t, paid[1].ID).Paid, nil
	})
	got, err := h.svc.CancelEvent(ctx, e.ID, "admin", "the venue flooded")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ticketing.StatusCanceled {
		t.Errorf("status: got %s, want canceled", got.Status)
	}
	for _, o := range paid {
		var ra messages.RefundApproved
		waitFor(t, "refund approved for "+o.Number, func() (bool, error) {
			return h.orders.find(o.ID, messages.TypeRefundApproved, &ra), nil
		})
		if ra.Amount != o.Total || len(ra.TicketIDs) != 2 {
			t.Errorf("refund of %s: got %d rupiah for %d tickets, want %d for 2", o.Number, ra.Amount, len(ra.TicketIDs), o.Total)
		}
		types := h.orders.of(o.ID)
		if i, j := slices.Index(types, messages.TypeTicketsRevoked), slices.Index(types, messages.TypeRefundApproved); i < 0 || i > j {
			t.Errorf("order %s: got %q, want tickets revoked before the refund", o.Number, types)
		}
	}
	if st := h.order(t, pending.ID).Status; st != ticketing.OrderCanceled {
		t.Errorf("pending order: got %s, want canceled", st)
	}
}

func areaID(t *testing.T, e ticketing.Event, name string) string {
	t.Helper()
	for _, a := range e.Areas {
		if a.Name == name {
			return a.ID
		}
	}
	t.Fatalf("event %s has no area %s", e.ID, name)
	return ""
}

func mustZone(t *testing.T) *time.Location {
	loc, err := time.LoadLocation(ticketing.DefaultTimeZone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A process that dies between an order's holds and its commit leaves the
// holds behind; the request repeated with its idempotency key takes them
// again instead of finding its own tickets gone until the holds expire.
func TestRepeatedOrderTakesTheHoldsACrashLeft(t *testing.T) {
	h := start(t, store.Config{}, harnessConfig{})
	ctx := context.Background()
	e := h.onSaleEvent(t, ticketing.AreaInput{Name: "Tribun", Capacity: 2, Price: 100_000})
	in := ticketing.OrderInput{EventID: e.ID, Lines: []ticketing.LineInput{{AreaID: areaID(t, e, "Tribun"), Quantity: 2}},
		Buyer: buyer(1), Method: ticketing.MethodCash, IdempotencyKey: "cart-crash-1"}
	o, _, err := h.svc.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// The commit never happened: the holds are there, the order is not.
	for _, q := range []string{`DELETE FROM order_lines WHERE order_id = ?`, `DELETE FROM orders WHERE id = ?`} {
		if _, err := h.db.ExecContext(ctx, h.db.Rebind(q), o.ID); err != nil {
			t.Fatal(err)
		}
	}
	again, created, err := h.svc.PlaceOrder(ctx, in)
	if err != nil || !created || again.ID != o.ID {
		t.Fatalf("the request repeated: order %s, created %v, %v; want order %s placed", again.ID, created, err, o.ID)
	}
	a, err := h.svc.Inventory().Availability(ctx, inventory.AreaID{Event: e.ID, Area: areaID(t, e, "Tribun")})
	if err != nil || a.Held != 2 || a.Free != 0 {
		t.Errorf("availability %+v, %v; want the order's 2 held once", a, err)
	}
}

// A step of the go-live saga waits long enough for the service that
// answers it to come back after a crash: on Kafka, the killed process's
// partitions move to its successor only when its group session expires.
func TestGoLiveStepsOutlastAKafkaSession(t *testing.T) {
	for _, s := range ticketing.GoLive.Steps {
		if s.Timeout <= kafka.DefaultSessionTimeout+kafka.DefaultHeartbeatInterval+10*time.Second {
			t.Errorf("step %s waits %s for its answer, not longer than a Kafka session (%s)", s.Name, s.Timeout, kafka.DefaultSessionTimeout)
		}
	}
}

// Orders placed at once share transactions; one refused inside a shared
// transaction (its idempotency key placed an order a moment before)
// takes back only its own writes. Every key ends with one order, which
// both of its requests answer, on SQLite and PostgreSQL.
func TestConcurrentOrdersShareCommits(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg store.Config) {
		h := start(t, cfg, harnessConfig{})
		ctx := context.Background()
		e := h.onSaleEvent(t, ticketing.AreaInput{Name: "Tribun", Capacity: 100, Price: 100_000})
		const keys = 30
		type answer struct {
			id      string
			created bool
			err     error
		}
		answers := make([]answer, 2*keys)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := ticketing.OrderInput{EventID: e.ID, Lines: []ticketing.LineInput{{AreaID: areaID(t, e, "Tribun"), Quantity: 1 + i%keys%3}},
					Buyer: buyer(i), Method: ticketing.MethodCash, IdempotencyKey: fmt.Sprintf("shared-%d", i%keys)}
				o, created, err := h.svc.PlaceOrder(ctx, in)
				answers[i] = answer{o.ID, created, err}
			}()
		}
		wg.Wait()
		held := 0
		for k := range keys {
			a, b := answers[k], answers[k+keys]
			if a.err != nil || b.err != nil || a.id != b.id || a.created == b.created {
				t.Errorf("key %d: answered %+v and %+v; want one order, placed once", k, a, b)
			}
			held += 1 + k%3
		}
		orders, err := h.svc.Orders(ctx, ticketing.Everything, ticketing.OrderFilter{EventID: e.ID})
		if err != nil || len(orders) != keys {
			t.Errorf("%d orders, %v; want %d", len(orders), err, keys)
		}
		av, err := h.svc.Inventory().Availability(ctx, inventory.AreaID{Event: e.ID, Area: areaID(t, e, "Tribun")})
		if err != nil || av.Held != held {
			t.Errorf("availability %+v, %v; want %d held", av, err, held)
		}
	})
}

// Placing an order reads its checks in one statement; the answers stay
// those of the checks one by one, in their order: the key's order first
// (also once the area sold out), then the method, the event, its areas.
func TestPlaceOrderChecks(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		h := start(t, base, harnessConfig{})
		ctx := context.Background()
		e := h.onSaleEvent(t, ticketing.AreaInput{Name: "VIP", Capacity: 1, Price: 500_000}, ticketing.AreaInput{Name: "Festival", Capacity: 5, Price: 150_000})
		vip := areaID(t, e, "VIP")
		in := func(event, area, method, key string) ticketing.OrderInput {
			return ticketing.OrderInput{EventID: event, Lines: []ticketing.LineInput{{AreaID: area, Quantity: 1}},
				Buyer: buyer(1), Method: method, IdempotencyKey: key}
		}
		first, created, err := h.svc.PlaceOrder(ctx, in(e.ID, vip, ticketing.MethodCash, "checks-1"))
		if err != nil || !created || len(first.Lines) != 1 || first.Lines[0].AreaName != "VIP" || first.Total != 500_000 {
			t.Fatalf("first order: %+v, created %v, %v", first, created, err)
		}
		// Sold out now; the same key still answers its order.
		again, created, err := h.svc.PlaceOrder(ctx, in(e.ID, vip, ticketing.MethodCash, "checks-1"))
		if err != nil || created || again.ID != first.ID {
			t.Errorf("the key again after the sell-out: %s, created %v, %v; want %s", again.ID, created, err, first.ID)
		}
		if _, _, err := h.svc.PlaceOrder(ctx, in(e.ID, vip, ticketing.MethodCash, "checks-2")); !errors.Is(err, ticketing.ErrSoldOut) {
			t.Errorf("another key for the sold-out area: %v, want ErrSoldOut", err)
		}
		field := func(err error) string {
			var inv *invalid.Fields
			if !errors.As(err, &inv) || len(inv.List) != 1 {
				return fmt.Sprint(err)
			}
			return inv.List[0].Name
		}
		for _, tc := range []struct {
			name  string
			in    ticketing.OrderInput
			field string
		}{
			{"unknown method", in(e.ID, vip, "GOLD", ""), "method"},
			{"unknown method and event", in("evt_none", vip, "GOLD", "checks-3"), "method"},
			{"unknown event", in("evt_none", vip, ticketing.MethodCash, "checks-3"), "event_id"},
			{"area of no such event", in(e.ID, "area_none", ticketing.MethodCash, ""), "lines[0].area_id"},
		} {
			if _, _, err := h.svc.PlaceOrder(ctx, tc.in); field(err) != tc.field {
				t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.field)
			}
		}
		// The key of an existing order, for an event that does not exist:
		// the key's lines differ, a conflict.
		if _, _, err := h.svc.PlaceOrder(ctx, in("evt_none", vip, ticketing.MethodCash, "checks-1")); !errors.Is(err, ticketing.ErrConflict) {
			t.Errorf("a used key for no event: %v, want ErrConflict", err)
		}
		fest, _, err := h.svc.PlaceOrder(ctx, in(e.ID, areaID(t, e, "Festival"), ticketing.MethodOnline, ""))
		if err != nil || fest.Total != 150_000 || fest.Method != ticketing.MethodOnline {
			t.Errorf("an order in the other area: %+v, %v", fest, err)
		}
	})
}
