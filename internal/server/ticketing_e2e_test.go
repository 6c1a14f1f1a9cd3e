package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/qrtest"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/notify"
	"github.com/arus-platform/arus/ticketing/payment"
)

const testPaymentSecret = "a-test-secret-of-thirty-two-bytes-at-least"

// inject produces a message on a topic, as another service would.
func (r *running) inject(t *testing.T, topic, key string, m any) {
	t.Helper()
	value, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.broker.Produce(context.Background(), &stream.Record{Topic: topic, Key: []byte(key), Value: value}); err != nil {
		t.Fatal(err)
	}
}

// eventually calls the route until want accepts the reply, for up to 20 s.
func (r *running) eventually(t *testing.T, method, path, key string, want func(reply) bool) reply {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rep := r.call(t, method, path, key, "")
		if want(rep) {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s never answered as wanted; last %d %s", method, path, rep.status, rep.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// paymentTypes returns the types of the messages on payment.events for an
// order, in order.
func (r *running) paymentTypes(t *testing.T, orderID string) []string {
	t.Helper()
	info, err := r.broker.DescribeTopic(context.Background(), messages.TopicPayments)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for p := range info.Partitions {
		recs, err := r.broker.Read(context.Background(), messages.TopicPayments, int32(p), 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if string(rec.Key) == orderID {
				typ, _ := messages.TypeOf(rec.Value)
				out = append(out, typ)
			}
		}
	}
	return out
}

func (r *running) waitPaymentTypes(t *testing.T, orderID string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := r.paymentTypes(t, orderID)
		if strings.Join(got, ",") == strings.Join(want, ",") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment.events for %s = %v, want %v", orderID, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func orderPlaced(id, method string, total int64) messages.OrderPlaced {
	return messages.OrderPlaced{Type: messages.TypeOrderPlaced, OrderID: id, Number: "2026-12-06-42-" + id, EventID: "ev-1",
		EventName: "Jazz Gunung", Buyer: messages.Buyer{Name: "Rina", Email: id + "@example.co.id", Lang: "en"},
		Lines: []messages.Line{{AreaID: "a", AreaName: "Festival", Quantity: 1, UnitPrice: total}},
		Total: total, Method: method, HoldExpires: time.Now().Add(15 * time.Minute), PlacedAt: time.Now()}
}

func decodeJSON[T any](t *testing.T, rep reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(rep.body), &v); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", rep.status, err, rep.body)
	}
	return v
}

// intentOf waits until the payment service has the order's intent.
func (r *running) intentOf(t *testing.T, key, number string) payment.Intent {
	t.Helper()
	rep := r.eventually(t, "GET", "/api/v1/payment/orders/"+url.PathEscape(number), key, func(rep reply) bool { return rep.status == 200 })
	return decodeJSON[payment.Intent](t, rep)
}

func TestCashPaymentThroughTheServer(t *testing.T) {
	r := start(t, Config{PaymentSecret: testPaymentSecret})
	cashier := r.key(t, "ticketing.admin", "payment.read", "payment.cash")
	staff := r.key(t, "notify.read")
	o := orderPlaced("o-cash", messages.MethodCash, 300_000)
	r.inject(t, messages.TopicOrders, o.OrderID, o)
	in := r.intentOf(t, cashier, o.Number)
	if in.State != payment.StateRequested || in.Amount != 300_000 {
		t.Fatalf("intent %+v, want requested for 300000", in)
	}
	path := "/api/v1/payment/intents/" + in.ID + "/cash"
	if rep := r.call(t, "POST", path, cashier, `{"received":200000}`, "Idempotency-Key", "till-1"); rep.status != 422 || !strings.Contains(rep.body, "received") {
		t.Errorf("too little cash: %d %s, want 422 naming received", rep.status, rep.body)
	}
	rep := r.call(t, "POST", path, cashier, `{"received":350000}`, "Idempotency-Key", "till-1")
	paid := decodeJSON[payment.Intent](t, rep)
	if rep.status != 200 || paid.State != payment.StateSucceeded || paid.Change != 50_000 || !strings.HasPrefix(paid.PaidBy, "key:") {
		t.Fatalf("cash: %d %s, want succeeded with 50000 change, paid by the key", rep.status, rep.body)
	}
	if again := r.call(t, "POST", path, cashier, `{"received":350000}`, "Idempotency-Key", "till-1"); again.status != 200 {
		t.Errorf("the same request again: %d %s, want 200", again.status, again.body)
	}
	if other := r.call(t, "POST", path, cashier, `{"received":350000}`, "Idempotency-Key", "till-2"); other.status != 409 {
		t.Errorf("paying twice: %d %s, want 409", other.status, other.body)
	}
	r.waitPaymentTypes(t, o.OrderID, messages.TypePaymentRequested, messages.TypePaymentSucceeded)
	// notify mailed the confirmation with the cash instructions.
	list := r.eventually(t, "GET", "/api/v1/notify/messages?order_id=o-cash&kind=order_confirmation", staff, func(rep reply) bool {
		return rep.status == 200 && strings.Contains(rep.body, `"subject"`)
	})
	if !strings.Contains(list.body, "complete your payment") {
		t.Errorf("mailbox: %s, want the English order confirmation", list.body)
	}
}

// signed posts a provider callback body signed at ts with the secret.
func (r *running) signed(t *testing.T, secret string, ts time.Time, body []byte) reply {
	t.Helper()
	unix := strconv.FormatInt(ts.Unix(), 10)
	return r.call(t, "POST", "/api/v1/payment/provider/callback", "", string(body),
		payment.HeaderTimestamp, unix, payment.HeaderSignature, payment.Sign([]byte(secret), ts.Unix(), body))
}

func TestOnlinePaymentCallbacksThroughTheServer(t *testing.T) {
	r := start(t, Config{PaymentSecret: testPaymentSecret})
	key := r.key(t, "ticketing.admin", "payment.read", "payment.simulate")
	o := orderPlaced("o-online", messages.MethodOnline, 125_000)
	r.inject(t, messages.TopicOrders, o.OrderID, o)
	in := r.intentOf(t, key, o.Number)

	// The simulated provider signs and posts the callback itself.
	rep := r.call(t, "POST", "/api/v1/payment/provider/pay", key, `{"virtual_account":"`+in.VirtualAccount+`"}`, "Idempotency-Key", "bank-1")
	sim := decodeJSON[payment.Simulation](t, rep)
	if rep.status != 200 || sim.CallbackStatus != 200 || !strings.Contains(string(sim.CallbackBody), `"outcome":"succeeded"`) {
		t.Fatalf("simulated payment: %d %s", rep.status, rep.body)
	}
	body, _ := json.Marshal(sim.Event)
	for i := range 3 {
		rep := r.signed(t, testPaymentSecret, time.Now(), body)
		res := decodeJSON[payment.CallbackResult](t, rep)
		if rep.status != 200 || !res.Duplicate {
			t.Errorf("replay %d: %d %s, want 200 and a duplicate", i+1, rep.status, rep.body)
		}
	}
	r.waitPaymentTypes(t, o.OrderID, messages.TypePaymentRequested, messages.TypePaymentSucceeded)

	// A forged or stale signature is refused and changes nothing.
	o2 := orderPlaced("o-forged", messages.MethodOnline, 50_000)
	r.inject(t, messages.TopicOrders, o2.OrderID, o2)
	in2 := r.intentOf(t, key, o2.Number)
	r.waitPaymentTypes(t, o2.OrderID, messages.TypePaymentRequested)
	ev, _ := json.Marshal(payment.ProviderEvent{EventID: "evt-forged", PaymentID: in2.ID, Amount: 50_000, Status: payment.ProviderPaid, At: time.Now()})
	for name, rep := range map[string]reply{
		"forged": r.signed(t, "another-secret-of-thirty-two-bytes-at-least", time.Now(), ev),
		"stale":  r.signed(t, testPaymentSecret, time.Now().Add(-10*time.Minute), ev),
		"none":   r.call(t, "POST", "/api/v1/payment/provider/callback", "", string(ev)),
	} {
		if rep.status != 401 || rep.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s signature: %d %s, want a 401 problem", name, rep.status, rep.body)
		}
	}
	if got := decodeJSON[payment.Intent](t, r.call(t, "GET", "/api/v1/payment/intents/"+in2.ID, key, "")); got.State != payment.StateRequested {
		t.Errorf("after forged callbacks the intent is %s, want requested", got.State)
	}
	if got := r.paymentTypes(t, o2.OrderID); len(got) != 1 {
		t.Errorf("after forged callbacks payment.events holds %v for the order, want only the request", got)
	}
}

func TestLatePaymentIsRefundedThroughTheServer(t *testing.T) {
	r := start(t, Config{PaymentSecret: testPaymentSecret})
	key := r.key(t, "ticketing.admin", "payment.read", "payment.simulate")
	staff := r.key(t, "notify.read")
	o := orderPlaced("o-late", messages.MethodOnline, 80_000)
	r.inject(t, messages.TopicOrders, o.OrderID, o)
	in := r.intentOf(t, key, o.Number)
	r.inject(t, messages.TopicOrders, o.OrderID, messages.OrderClosed{Type: messages.TypeOrderExpired, OrderID: o.OrderID, Number: o.Number, Buyer: o.Buyer, At: time.Now()})
	r.eventually(t, "GET", "/api/v1/payment/intents/"+in.ID, key, func(rep reply) bool { return strings.Contains(rep.body, `"state":"expired"`) })
	if rep := r.call(t, "POST", "/api/v1/payment/provider/pay", key, `{"payment_id":"`+in.ID+`"}`); rep.status != 200 {
		t.Fatalf("late payment: %d %s", rep.status, rep.body)
	}
	r.waitPaymentTypes(t, o.OrderID, messages.TypePaymentRequested, messages.TypePaymentSucceeded)
	// The ticketing service found the tickets gone.
	r.inject(t, messages.TopicOrders, o.OrderID, messages.LatePaymentRejected{Type: messages.TypeLatePaymentRejected, OrderID: o.OrderID,
		Number: o.Number, PaymentID: in.ID, Amount: 80_000, Buyer: o.Buyer, At: time.Now()})
	r.waitPaymentTypes(t, o.OrderID, messages.TypePaymentRequested, messages.TypePaymentSucceeded, messages.TypePaymentRefunded)
	rep := r.call(t, "GET", "/api/v1/payment/refunds?order_id=o-late", key, "")
	if !strings.Contains(rep.body, `"state":"refunded"`) || !strings.Contains(rep.body, `"amount":80000`) {
		t.Errorf("refunds: %d %s, want 80000 refunded", rep.status, rep.body)
	}
	r.eventually(t, "GET", "/api/v1/notify/messages?order_id=o-late&kind=late_payment_refund", staff, func(rep reply) bool {
		return strings.Contains(rep.body, "is refunded")
	})
}

func TestETicketInTheMailboxThroughTheServer(t *testing.T) {
	r := start(t, Config{PaymentSecret: testPaymentSecret})
	staff := r.key(t, "notify.read")
	code := "ARUS1.tk-1.c2lnbmVkIGJ5IHRoZSBnYXRl"
	r.inject(t, messages.TopicOrders, "o-tix", messages.TicketsIssued{Type: messages.TypeTicketsIssued, OrderID: "o-tix",
		Number: "2026-12-06-9-0001", EventID: "ev-1", EventName: "Jazz Gunung",
		Buyer:   messages.Buyer{Name: "Rina", Email: "rina@example.co.id", Lang: "id"},
		Tickets: []messages.Ticket{{TicketID: "tk-1", AreaID: "a", AreaName: "Festival", Code: code}},
		Starts:  time.Now().Add(48 * time.Hour), TimeZone: "Asia/Jakarta", At: time.Now()})
	// With the gate running, the e-ticket waits for its signed passes.
	r.inject(t, messages.TopicAccess, "o-tix", messages.Access{Type: messages.TypeAccessGranted, OrderID: "o-tix", EventID: "ev-1",
		TicketIDs: []string{"tk-1"}, Passes: []messages.Pass{{TicketID: "tk-1", QR: code}}})
	list := decodeJSON[struct{ Messages []notify.Message }](t, r.eventually(t, "GET", "/api/v1/notify/messages?order_id=o-tix&kind=e_ticket", staff,
		func(rep reply) bool { return strings.Contains(rep.body, `"kind":"e_ticket"`) }))
	rep := r.call(t, "GET", "/api/v1/notify/messages/"+list.Messages[0].ID, staff, "")
	m := decodeJSON[notify.Message](t, rep)
	if len(m.Parts) != 1 || !strings.Contains(m.Subject, "E-tiket") {
		t.Fatalf("e-ticket: %d parts, subject %q; want one QR code, in Indonesian", len(m.Parts), m.Subject)
	}
	png := r.call(t, "GET", "/api/v1/notify/messages/"+m.ID+"/parts/"+m.Parts[0].ContentID, staff, "")
	if png.status != 200 || png.header.Get("Content-Type") != "image/png" || png.body != string(m.Parts[0].Data) {
		t.Fatalf("part: %d %s, want the PNG", png.status, png.header.Get("Content-Type"))
	}
	if got := qrtest.Decode(t, []byte(png.body)); got != code {
		t.Errorf("the QR code decodes to %q, want %q", got, code)
	}
}

func TestCustomerSignUpThroughTheServer(t *testing.T) {
	for _, bad := range []string{"ftp://arus.test", "arus.test", "https://", "https://arus.test/?a=b"} {
		c := Config{PublicURL: bad}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "public-url") {
			t.Errorf("Validate(public URL %q) = %v, want an error naming public-url", bad, err)
		}
	}
	r := start(t, Config{PaymentSecret: testPaymentSecret, PublicURL: "https://tiket.arus.test/"})
	staff := r.key(t, "notify.read")
	rep := r.call(t, "POST", "/api/v1/customers", "", `{"name":"Budi","email":"budi@example.com","password":"a long enough password","lang":"en"}`)
	if rep.status != 201 || !strings.Contains(rep.body, `"confirmed":false`) {
		t.Fatalf("sign-up: %d %s", rep.status, rep.body)
	}
	if again := r.call(t, "POST", "/api/v1/customers", "", `{"name":"Budi","email":"BUDI@example.com","password":"a long enough password"}`); again.status != 409 {
		t.Errorf("second sign-up: %d %s, want 409", again.status, again.body)
	}
	list := decodeJSON[struct{ Messages []notify.Message }](t, r.eventually(t, "GET", "/api/v1/notify/messages?to=budi@example.com", staff,
		func(rep reply) bool { return strings.Contains(rep.body, notify.KindCustomerConfirmation) }))
	m := decodeJSON[notify.Message](t, r.call(t, "GET", "/api/v1/notify/messages/"+list.Messages[0].ID, staff, ""))
	i := strings.Index(m.Text, "/api/v1/customers/confirm?token=")
	if i < 0 {
		t.Fatalf("the confirmation message holds no link:\n%s", m.Text)
	}
	if !strings.Contains(m.Text, "https://tiket.arus.test/api/v1/customers/confirm?token=") {
		t.Errorf("the link does not start with the public URL:\n%s", m.Text)
	}
	link := strings.Fields(m.Text[i:])[0]
	// Until the address is confirmed, the customer cannot sign in.
	c := newConsole(t, r)
	c.do("GET", "/login", nil)
	resp, page := c.do("POST", "/login", url.Values{"csrf_token": {c.tok}, "username": {"budi.example.com"}, "password": {"a long enough password"}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "Confirm your e-mail address first") {
		t.Errorf("sign-in before confirming: status %d, want 403 asking to confirm", resp.StatusCode)
	}
	if bad := r.call(t, "GET", link+"x", "", ""); bad.status != 422 {
		t.Errorf("a changed token: %d %s, want 422", bad.status, bad.body)
	}
	ok := r.call(t, "GET", link, "", "")
	if ok.status != 200 || !strings.Contains(ok.body, `"confirmed":true`) {
		t.Errorf("confirm: %d %s, want confirmed", ok.status, ok.body)
	}
	u, err := r.auth.UserByUsername(context.Background(), "budi.example.com")
	if err != nil || !u.Confirmed {
		t.Errorf("user after confirmation: %+v, %v", u, err)
	}
	if resp := newConsole(t, r).signIn("budi.example.com", "a long enough password"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-in once confirmed: status %d, want 303", resp.StatusCode)
	}
}

// Sign-up works in a process that runs neither payment nor notify, with
// topics created only on purpose (--strict).
func TestCustomerSignUpWithoutTheServicesInStrictMode(t *testing.T) {
	r := start(t, Config{Components: []string{"backbone"}, Stream: stream.Options{Strict: true}})
	rep := r.call(t, "POST", "/api/v1/customers", "", `{"name":"Sari","email":"sari@example.com","password":"a long enough password"}`)
	if rep.status != 201 {
		t.Fatalf("sign-up: %d %s, want 201", rep.status, rep.body)
	}
	if rep := r.call(t, "GET", "/api/v1/payment/intents", r.key(t, "payment.read"), ""); rep.status != 404 {
		t.Errorf("payment route in a process without payment: %d, want 404", rep.status)
	}
}
