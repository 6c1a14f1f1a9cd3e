package payment_test

import (
	"errors"

	"slices"
	"testing"
	"time"

	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/payment"
)

// A payment belongs to the merchant of its order, from OrderPlaced: every
// read and action of the service, asked in a scope of other merchants,
// answers not found and changes nothing, and the lists leave it out. An
// order placed without a merchant (an OrderPlaced from before merchants
// were sent) is read, and its intent opened, but only Everything covers it.
func TestPaymentsKeepToTheirMerchant(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	expires := time.Now().Add(time.Hour)
	for id, merchant := range map[string]string{"oa": "mA", "ob": "mB", "old": ""} {
		m := placed(id, messages.MethodCash, 100_000, expires)
		m.MerchantID = merchant
		e.send(t, id, m)
	}
	a, b, old := e.intentOf(t, "oa"), e.intentOf(t, "ob"), e.intentOf(t, "old")
	if a.MerchantID != "mA" || b.MerchantID != "mB" || old.MerchantID != "" {
		t.Fatalf("merchants of the intents: %q %q %q, want mA mB and none", a.MerchantID, b.MerchantID, old.MerchantID)
	}
	// Cash for b, then a refund of it waiting at the counter.
	if _, err := e.svc.ConfirmCash(ctx, payment.Everything, b.ID, payment.CashPayment{Received: 100_000, Key: "kb"}); err != nil {
		t.Fatal(err)
	}
	e.send(t, "ob", messages.RefundApproved{Type: messages.TypeRefundApproved, RefundID: "rb", OrderID: "ob", PaymentID: b.ID, Amount: 10_000, Reason: "x"})
	var rb payment.Refund
	waitFor(t, "refund rb", func() bool {
		var err error
		rb, err = e.svc.Refund(ctx, payment.Everything, "rb")
		return err == nil
	})
	if rb.MerchantID != "mB" {
		t.Fatalf("refund rb: merchant %q, want mB", rb.MerchantID)
	}

	scopeA := payment.Scope{Merchants: []string{"mA"}}
	for _, sc := range []payment.Scope{scopeA, {}, {Merchants: []string{""}}} {
		for _, intent := range []payment.Intent{b, old} {
			calls := map[string]func() error{
				"Intent":         func() error { _, err := e.svc.Intent(ctx, sc, intent.ID); return err },
				"IntentByNumber": func() error { _, err := e.svc.IntentByNumber(ctx, sc, intent.Number); return err },
				"ConfirmCash": func() error {
					_, err := e.svc.ConfirmCash(ctx, sc, intent.ID, payment.CashPayment{Received: 100_000})
					return err
				},
				"SimulatePay": func() error {
					_, err := e.svc.SimulatePay(ctx, sc, payment.SimulatedPayment{PaymentID: intent.ID}, "")
					return err
				},
				"Refund":         func() error { _, err := e.svc.Refund(ctx, sc, "rb"); return err },
				"CompleteRefund": func() error { _, err := e.svc.CompleteRefund(ctx, sc, "rb", "kasir", ""); return err },
			}
			for name, call := range calls {
				if err := call(); !errors.Is(err, payment.ErrNotFound) {
					t.Errorf("%s of %s's payment in scope %v: %v, want not found", name, intent.OrderID, sc, err)
				}
			}
		}
		intents, err := e.svc.Intents(ctx, sc, payment.IntentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		refunds, err := e.svc.Refunds(ctx, sc, payment.RefundQuery{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{}
		if slices.Contains(sc.Merchants, "mA") {
			want = []string{"oa"}
		}
		if got := orders(intents); !slices.Equal(got, want) || len(refunds) != 0 {
			t.Errorf("scope %v lists intents of %v and %d refunds, want %v and none", sc, got, len(refunds), want)
		}
	}
	if in, _ := e.svc.Intent(ctx, payment.Everything, b.ID); in.Refunded != 0 || in.State != payment.StateSucceeded {
		t.Errorf("b after the refused calls: %s, refunded %d; want succeeded, nothing refunded", in.State, in.Refunded)
	}
	if rf, _ := e.svc.Refund(ctx, payment.Everything, "rb"); rf.State != payment.RefundPending {
		t.Errorf("rb after the refused calls: %s, want pending", rf.State)
	}
	if in, _ := e.svc.Intent(ctx, payment.Everything, old.ID); in.State != payment.StateRequested {
		t.Errorf("the old intent after the refused calls: %s, want requested", in.State)
	}

	// In its own merchant's scope, the same calls go through.
	if _, err := e.svc.ConfirmCash(ctx, scopeA, a.ID, payment.CashPayment{Received: 100_000}); err != nil {
		t.Errorf("cash for mA's own payment in mA's scope: %v", err)
	}
	all, err := e.svc.Intents(ctx, payment.Everything, payment.IntentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got := orders(all); len(got) != 3 {
		t.Errorf("Everything lists %v, want all three", got)
	}
}

func orders(list []payment.Intent) []string {
	out := []string{}
	for _, in := range list {
		out = append(out, in.OrderID)
	}
	slices.Sort(out)
	return out
}
