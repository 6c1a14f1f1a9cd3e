package payment_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/payment"
)

func TestCashAtTheCounter(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	e.send(t, "o-cash", placed("o-cash", "CASH", 300_000, time.Now().Add(30*time.Minute)))
	// The same order placed again (a retried publish) opens no second intent.
	e.send(t, "o-cash", placed("o-cash", "cash", 300_000, time.Now().Add(30*time.Minute)))
	e.waitTypes(t, "o-cash", messages.TypePaymentRequested)
	in := e.intentOf(t, "o-cash")
	if in.State != payment.StateRequested || in.Method != messages.MethodCash || in.Amount != 300_000 {
		t.Fatalf("intent = %+v, want a requested cash intent of 300000", in)
	}
	req := e.payments(t, "o-cash")[0]
	if req["payment_id"] != in.ID || !strings.Contains(req["instructions"].(string), in.Number) {
		t.Errorf("PaymentRequested = %v, want payment %s and instructions naming order %s", req, in.ID, in.Number)
	}
	byNumber, err := e.svc.IntentByNumber(ctx, payment.Everything, in.Number)
	if err != nil || byNumber.ID != in.ID {
		t.Fatalf("IntentByNumber(%s) = %v, %v; want %s", in.Number, byNumber.ID, err, in.ID)
	}

	if _, err := e.svc.ConfirmCash(ctx, payment.Everything, in.ID, payment.CashPayment{Received: 299_999, Cashier: "kasir", Key: "k1"}); !errors.Is(err, payment.ErrInvalid) {
		t.Errorf("ConfirmCash(too little) error = %v, want ErrInvalid", err)
	}
	paid, err := e.svc.ConfirmCash(ctx, payment.Everything, in.ID, payment.CashPayment{Received: 500_000, Cashier: "kasir", Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if paid.State != payment.StateSucceeded || paid.Change != 200_000 || paid.PaidBy != "kasir" {
		t.Errorf("paid = %+v, want succeeded with 200000 change by kasir", paid)
	}
	again, err := e.svc.ConfirmCash(ctx, payment.Everything, in.ID, payment.CashPayment{Received: 500_000, Cashier: "kasir", Key: "k1"})
	if err != nil || again.State != payment.StateSucceeded {
		t.Errorf("ConfirmCash with the same key = %v, %v; want the paid intent again", again.State, err)
	}
	if _, err := e.svc.ConfirmCash(ctx, payment.Everything, in.ID, payment.CashPayment{Received: 500_000, Cashier: "kasir", Key: "k2"}); !errors.Is(err, payment.ErrState) {
		t.Errorf("ConfirmCash with another key error = %v, want ErrState", err)
	}
	e.waitTypes(t, "o-cash", messages.TypePaymentRequested+","+messages.TypePaymentSucceeded)
}

// callback posts a signed provider callback to the service as the provider
// would, signed at ts with key.
func callback(t *testing.T, e *env, key []byte, ts time.Time, ev payment.ProviderEvent) (int, payment.CallbackResult) {
	t.Helper()
	body, _ := json.Marshal(ev)
	return post(t, e, key, ts, body)
}

func post(t *testing.T, e *env, key []byte, ts time.Time, body []byte) (int, payment.CallbackResult) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.callback.URL, strings.NewReader(string(body)))
	req.Header.Set(payment.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(payment.HeaderSignature, payment.Sign(key, ts.Unix(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err) // not Fatal: senders run in their own goroutines
		return 0, payment.CallbackResult{}
	}
	defer resp.Body.Close()
	var res payment.CallbackResult
	_ = json.NewDecoder(resp.Body).Decode(&res)
	return resp.StatusCode, res
}

func TestOnlineCallbackReplayedHasOneEffect(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) { callbackReplayed(t, startOn(t, base)) })
}

func callbackReplayed(t *testing.T, e *env) {
	e.send(t, "o-va", placed("o-va", "online", 150_000, time.Now().Add(15*time.Minute)))
	e.waitTypes(t, "o-va", messages.TypePaymentRequested)
	in := e.intentOf(t, "o-va")
	if len(in.VirtualAccount) != 16 || !strings.HasPrefix(in.QR, "ARUSPAY|") {
		t.Fatalf("intent VA %q QR %q, want a 16-digit VA and a QR string", in.VirtualAccount, in.QR)
	}
	sim, err := e.svc.SimulatePay(t.Context(), payment.Everything, payment.SimulatedPayment{VirtualAccount: in.VirtualAccount}, "idem-1")
	if err != nil {
		t.Fatal(err)
	}
	if sim.CallbackStatus != http.StatusOK {
		t.Fatalf("callback answered %d %s, want 200", sim.CallbackStatus, sim.CallbackBody)
	}
	for i := range 3 {
		status, res := callback(t, e, secret, e.clock.now(), sim.Event)
		if status != http.StatusOK || !res.Duplicate || res.Outcome != payment.StateSucceeded {
			t.Errorf("replay %d: %d %+v, want 200, a duplicate that had succeeded", i, status, res)
		}
	}
	// The simulation sent again with the same key sends the same event.
	again, err := e.svc.SimulatePay(t.Context(), payment.Everything, payment.SimulatedPayment{QR: in.QR}, "idem-1")
	if err != nil || again.Event.EventID != sim.Event.EventID {
		t.Errorf("simulation again: event %s, %v; want event %s", again.Event.EventID, err, sim.Event.EventID)
	}
	e.waitTypes(t, "o-va", messages.TypePaymentRequested+","+messages.TypePaymentSucceeded)
	got := e.waitState(t, in.ID, payment.StateSucceeded)
	if got.ProviderEvent != sim.Event.EventID || got.Late {
		t.Errorf("intent provider event %q late %v, want %q on time", got.ProviderEvent, got.Late, sim.Event.EventID)
	}
}

func TestCallbackRefusesForgedAndStaleSignatures(t *testing.T) {
	e := start(t)
	e.send(t, "o-f", placed("o-f", "online", 90_000, time.Now().Add(15*time.Minute)))
	in := e.intentOf(t, "o-f")
	ev := payment.ProviderEvent{EventID: "evt-forged", PaymentID: in.ID, Amount: in.Amount, Status: payment.ProviderPaid, At: time.Now()}
	body, _ := json.Marshal(ev)
	now := e.clock.now()
	for _, tt := range []struct {
		name    string
		key     []byte
		ts      time.Time
		body    []byte
		headers map[string]string
	}{
		{name: "wrong secret", key: []byte("not-the-secret-not-the-secret-!!"), ts: now, body: body},
		{name: "six minutes old", key: secret, ts: now.Add(-6 * time.Minute), body: body},
		{name: "six minutes ahead", key: secret, ts: now.Add(6 * time.Minute), body: body},
		{name: "body changed after signing", key: secret, ts: now, body: body, headers: map[string]string{"tamper": "1"}},
		{name: "no signature", ts: now, body: body, headers: map[string]string{payment.HeaderSignature: ""}},
		{name: "signature not hex", ts: now, body: body, headers: map[string]string{payment.HeaderSignature: "zz"}},
		{name: "no timestamp", key: secret, ts: now, body: body, headers: map[string]string{payment.HeaderTimestamp: ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sig := payment.Sign(tt.key, tt.ts.Unix(), tt.body)
			ts := strconv.FormatInt(tt.ts.Unix(), 10)
			sent := tt.body
			if _, ok := tt.headers["tamper"]; ok {
				sent = []byte(strings.Replace(string(body), "90000", "1", 1))
			}
			if v, ok := tt.headers[payment.HeaderSignature]; ok {
				sig = v
			}
			if v, ok := tt.headers[payment.HeaderTimestamp]; ok {
				ts = v
			}
			_, err := e.svc.Callback(t.Context(), ts, sig, sent)
			if !errors.Is(err, payment.ErrSignature) {
				t.Errorf("Callback error = %v, want ErrSignature", err)
			}
		})
	}
	if got, _ := e.svc.Intent(t.Context(), payment.Everything, in.ID); got.State != payment.StateRequested {
		t.Errorf("intent after forged callbacks is %s, want requested", got.State)
	}
	// A good signature on the same event is still handled: the forged
	// attempts recorded nothing under its id.
	if status, res := callback(t, e, secret, now, ev); status != http.StatusOK || res.Duplicate {
		t.Errorf("genuine callback: %d %+v, want 200, not a duplicate", status, res)
	}
	// The genuine callback, captured and sent again six minutes later, is
	// refused for its age before anything else is looked at.
	e.clock.add(6 * time.Minute)
	if _, err := e.svc.Callback(t.Context(), strconv.FormatInt(now.Unix(), 10), payment.Sign(secret, now.Unix(), body), body); !errors.Is(err, payment.ErrSignature) {
		t.Errorf("a callback replayed six minutes later: %v, want ErrSignature", err)
	}
}

// The same callback sent many times at once, as a provider retrying on a
// timeout does, has one effect.
func TestConcurrentCallbacksHaveOneEffect(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		e := startOn(t, base)
		e.send(t, "o-race", placed("o-race", "online", 70_000, time.Now().Add(15*time.Minute)))
		in := e.intentOf(t, "o-race")
		ev := payment.ProviderEvent{EventID: "evt-race", PaymentID: in.ID, Amount: in.Amount, Status: payment.ProviderPaid, At: time.Now()}
		const senders = 8
		type answer struct {
			status int
			res    payment.CallbackResult
		}
		answers := make(chan answer, senders)
		for range senders {
			go func() {
				status, res := callback(t, e, secret, e.clock.now(), ev)
				answers <- answer{status, res}
			}()
		}
		firsts := 0
		for range senders {
			a := <-answers
			if a.status != http.StatusOK || a.res.Outcome != payment.StateSucceeded {
				t.Errorf("callback answered %d %+v, want 200 and succeeded", a.status, a.res)
			}
			if !a.res.Duplicate {
				firsts++
			}
		}
		if firsts != 1 {
			t.Errorf("%d callbacks took effect, want 1", firsts)
		}
		e.waitTypes(t, "o-race", messages.TypePaymentRequested+","+messages.TypePaymentSucceeded)
	})
}

// The service runs the same on every backend: a cash payment, an online
// one through its callback, and a refund.
func TestEveryBackend(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, b stream.Broker) {
		e := startWith(t, store.Config{Dir: t.TempDir()}, b)
		e.send(t, "b-cash", placed("b-cash", "cash", 20_000, time.Now().Add(time.Hour)))
		e.send(t, "b-va", placed("b-va", "online", 30_000, time.Now().Add(time.Hour)))
		cash := e.intentOf(t, "b-cash")
		if _, err := e.svc.ConfirmCash(t.Context(), payment.Everything, cash.ID, payment.CashPayment{Received: 20_000}); err != nil {
			t.Fatal(err)
		}
		va := e.intentOf(t, "b-va")
		if sim, err := e.svc.SimulatePay(t.Context(), payment.Everything, payment.SimulatedPayment{PaymentID: va.ID}, "k"); err != nil || sim.CallbackStatus != 200 {
			t.Fatalf("SimulatePay: %d %s, %v", sim.CallbackStatus, sim.CallbackBody, err)
		}
		e.waitState(t, va.ID, payment.StateSucceeded)
		e.send(t, "b-va", messages.RefundApproved{Type: messages.TypeRefundApproved, RefundID: "rb", OrderID: "b-va", Amount: 30_000})
		e.waitTypes(t, "b-cash", "payment.requested,payment.succeeded")
		e.waitTypes(t, "b-va", "payment.requested,payment.succeeded,payment.refunded")
	})
}
