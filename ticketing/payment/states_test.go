package payment_test

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/payment"
)

// TestEveryStateIsWalked drives intents through every state and every move
// of payment.Transitions, and checks that each state either is final or is
// left by a message or action the suite sends: no payment is left stuck.
func TestEveryStateIsWalked(t *testing.T) {
	storetest.Run(t, walkEveryState)
}

func walkEveryState(t *testing.T, base store.Config) {
	e := startOn(t, base)
	ctx := t.Context()
	seen := map[[2]string]bool{}
	visited := map[string]bool{}
	move := func(from, to string) {
		if !slices.Contains(payment.Transitions[from], to) {
			t.Errorf("moved %s → %s, which Transitions does not list", from, to)
		}
		seen[[2]string{from, to}] = true
		visited[from], visited[to] = true, true
	}
	expires := time.Now().Add(15 * time.Minute)
	closed := func(typ, orderID string) messages.OrderClosed {
		return messages.OrderClosed{Type: typ, OrderID: orderID, Reason: "test", At: time.Now()}
	}
	refund := func(refundID, orderID string, amount int64) messages.RefundApproved {
		return messages.RefundApproved{Type: messages.TypeRefundApproved, RefundID: refundID, OrderID: orderID,
			Amount: amount, Reason: "test", At: time.Now()}
	}
	pay := func(in payment.Intent, outcome string) {
		t.Helper()
		sim, err := e.svc.SimulatePay(ctx, payment.Everything, payment.SimulatedPayment{PaymentID: in.ID, Outcome: outcome}, "")
		if err != nil || sim.CallbackStatus != 200 {
			t.Fatalf("SimulatePay(%s, %s) = %d %s, %v", in.ID, outcome, sim.CallbackStatus, sim.CallbackBody, err)
		}
	}

	// requested → failed → succeeded → partially refunded → partially
	// refunded → refunded, online.
	e.send(t, "w1", placed("w1", "online", 100_000, expires))
	w1 := e.intentOf(t, "w1")
	pay(w1, payment.ProviderFailed)
	e.waitState(t, w1.ID, payment.StateFailed)
	move(payment.StateRequested, payment.StateFailed)
	pay(w1, payment.ProviderPaid)
	e.waitState(t, w1.ID, payment.StateSucceeded)
	move(payment.StateFailed, payment.StateSucceeded)
	e.send(t, "w1", refund("r1a", "w1", 30_000))
	e.waitState(t, w1.ID, payment.StatePartiallyRefunded)
	move(payment.StateSucceeded, payment.StatePartiallyRefunded)
	e.send(t, "w1", refund("r1b", "w1", 30_000))
	e.send(t, "w1", refund("r1b", "w1", 30_000)) // approved twice: refunded once
	e.send(t, "w1", refund("r1c", "w1", 50_000)) // more than the 40,000 left
	e.send(t, "w1", refund("r1d", "w1", 40_000))
	got := e.waitState(t, w1.ID, payment.StateRefunded)
	move(payment.StatePartiallyRefunded, payment.StatePartiallyRefunded)
	move(payment.StatePartiallyRefunded, payment.StateRefunded)
	if got.Refunded != 100_000 {
		t.Errorf("w1 refunded %d, want 100000", got.Refunded)
	}
	e.waitTypes(t, "w1", "payment.requested,payment.failed,payment.succeeded,payment.refunded,payment.refunded,payment.failed,payment.refunded")

	// requested → expired → succeeded (late), then the ticketing service
	// rejects the late payment and it is refunded whole.
	e.send(t, "w2", placed("w2", "online", 80_000, expires))
	w2 := e.intentOf(t, "w2")
	e.send(t, "w2", closed(messages.TypeOrderExpired, "w2"))
	e.waitState(t, w2.ID, payment.StateExpired)
	move(payment.StateRequested, payment.StateExpired)
	pay(w2, payment.ProviderPaid)
	if got := e.waitState(t, w2.ID, payment.StateSucceeded); !got.Late {
		t.Errorf("w2 paid after expiry is not marked late")
	}
	move(payment.StateExpired, payment.StateSucceeded)
	e.send(t, "w2", messages.LatePaymentRejected{Type: messages.TypeLatePaymentRejected, OrderID: "w2", PaymentID: w2.ID, Amount: 80_000})
	e.waitState(t, w2.ID, payment.StateRefunded)
	move(payment.StateSucceeded, payment.StateRefunded)
	if rf, err := e.svc.Refund(ctx, payment.Everything, "late-"+w2.ID); err != nil || rf.State != payment.RefundRefunded {
		t.Errorf("late refund = %+v, %v; want refunded", rf, err)
	}

	// requested → canceled → succeeded (late); failed → expired; failed →
	// canceled.
	e.send(t, "w3", placed("w3", "online", 10_000, expires))
	w3 := e.intentOf(t, "w3")
	e.send(t, "w3", closed(messages.TypeOrderCanceled, "w3"))
	e.waitState(t, w3.ID, payment.StateCanceled)
	move(payment.StateRequested, payment.StateCanceled)
	pay(w3, payment.ProviderPaid)
	e.waitState(t, w3.ID, payment.StateSucceeded)
	move(payment.StateCanceled, payment.StateSucceeded)
	for _, c := range []struct{ order, typ, want string }{
		{"w4", messages.TypeOrderExpired, payment.StateExpired},
		{"w5", messages.TypeOrderCanceled, payment.StateCanceled},
	} {
		e.send(t, c.order, placed(c.order, "online", 10_000, expires))
		in := e.intentOf(t, c.order)
		pay(in, payment.ProviderFailed)
		e.waitState(t, in.ID, payment.StateFailed)
		e.send(t, c.order, closed(c.typ, c.order))
		e.waitState(t, in.ID, c.want)
		move(payment.StateFailed, c.want)
	}

	// Cash: requested → succeeded at the counter; a refund waits at the
	// counter, pending, until a cashier pays it out.
	e.send(t, "w6", placed("w6", "cash", 50_000, expires))
	w6 := e.intentOf(t, "w6")
	if _, err := e.svc.ConfirmCash(ctx, payment.Everything, w6.ID, payment.CashPayment{Received: 50_000, Cashier: "kasir"}); err != nil {
		t.Fatal(err)
	}
	move(payment.StateRequested, payment.StateSucceeded)
	e.send(t, "w6", refund("r6", "w6", 50_000))
	waitFor(t, "refund r6 pending", func() bool {
		rf, err := e.svc.Refund(ctx, payment.Everything, "r6")
		return err == nil && rf.State == payment.RefundPending
	})
	pending, _ := e.svc.Refunds(ctx, payment.Everything, payment.RefundQuery{State: payment.RefundPending})
	if len(pending) != 1 || pending[0].ID != "r6" {
		t.Errorf("pending refunds = %+v, want r6", pending)
	}
	if _, err := e.svc.CompleteRefund(ctx, payment.Everything, "r6", "kasir", "k-r6"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CompleteRefund(ctx, payment.Everything, "r6", "kasir", "k-r6"); err != nil {
		t.Errorf("CompleteRefund again with its key: %v, want the refund again", err)
	}
	if _, err := e.svc.CompleteRefund(ctx, payment.Everything, "r6", "kasir", "other"); !errors.Is(err, payment.ErrState) {
		t.Errorf("CompleteRefund with another key: %v, want ErrState", err)
	}
	e.waitState(t, w6.ID, payment.StateRefunded)
	e.waitTypes(t, "w6", "payment.requested,payment.succeeded,payment.refunded")

	// A cash intent that expires takes no cash afterwards.
	e.send(t, "w7", placed("w7", "cash", 50_000, expires))
	w7 := e.intentOf(t, "w7")
	e.send(t, "w7", closed(messages.TypeOrderExpired, "w7"))
	e.waitState(t, w7.ID, payment.StateExpired)
	if _, err := e.svc.ConfirmCash(ctx, payment.Everything, w7.ID, payment.CashPayment{Received: 50_000}); !errors.Is(err, payment.ErrState) {
		t.Errorf("ConfirmCash on an expired intent: %v, want ErrState", err)
	}

	// A cash intent whose hold ran out takes no cash even before the
	// order's expiry arrives, and is closed by the service itself when the
	// expiry never comes.
	e.send(t, "w9", placed("w9", "cash", 50_000, e.clock.now().Add(time.Minute)))
	w9 := e.intentOf(t, "w9")
	e.clock.add(2 * time.Minute)
	if _, err := e.svc.ConfirmCash(ctx, payment.Everything, w9.ID, payment.CashPayment{Received: 50_000}); !errors.Is(err, payment.ErrState) {
		t.Errorf("ConfirmCash after the hold ran out: %v, want ErrState", err)
	}
	if n, err := e.svc.CloseOverdue(ctx); err != nil || n != 0 {
		t.Errorf("CloseOverdue within the grace = %d, %v; want 0", n, err)
	}
	e.clock.add(time.Hour)
	if n, err := e.svc.CloseOverdue(ctx); err != nil || n != 1 {
		t.Errorf("CloseOverdue after the grace = %d, %v; want 1 (w9)", n, err)
	}
	e.waitState(t, w9.ID, payment.StateExpired)
	e.clock.add(-time.Hour - 2*time.Minute)

	// An order with a method not offered fails at once instead of waiting.
	e.send(t, "w8", placed("w8", "cheque", 50_000, expires))
	e.waitTypes(t, "w8", messages.TypePaymentFailed)

	for from, tos := range payment.Transitions {
		if !visited[from] {
			t.Errorf("state %s was never reached", from)
		}
		for _, to := range tos {
			if !seen[[2]string{from, to}] {
				t.Errorf("move %s → %s was never made", from, to)
			}
		}
	}
	for _, s := range slices.Sorted(maps.Keys(visited)) {
		if _, ok := payment.Transitions[s]; !ok {
			t.Errorf("state %s is missing from Transitions", s)
		}
	}
}
