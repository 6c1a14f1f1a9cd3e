package server

import (
	"strings"
	"testing"

	"github.com/arus-platform/arus/ticketing/messages"
)

// Every payment, mailbox and sign-up route answers bad input with a
// problem naming what was wrong: missing credentials 401, a key without
// the permission 403, malformed JSON 400, unknown fields and query
// parameters 422, unknown ids 404, oversized bodies 413, and a malformed
// Idempotency-Key 422.
func TestTicketingBadInputMatrix(t *testing.T) {
	r := start(t, Config{PaymentSecret: testPaymentSecret})
	all := r.key(t, "ticketing.admin", "payment.read", "payment.cash", "payment.simulate", "notify.read")
	other := r.key(t, "topics.read")
	o := orderPlaced("o-matrix", messages.MethodCash, 10_000)
	r.inject(t, messages.TopicOrders, o.OrderID, o)
	in := r.intentOf(t, all, o.Number)
	huge := `{"received":1,"x":"` + strings.Repeat("x", 70<<10) + `"}`

	endpoints := []struct {
		method, path string
		public       bool   // needs no credentials
		body         string // a body with an unknown field, for routes that take one
		missing      string // a path whose id does not exist
		idempotent   bool   // takes an Idempotency-Key
	}{
		{method: "GET", path: "/api/v1/payment/intents"},
		{method: "GET", path: "/api/v1/payment/intents/" + in.ID, missing: "/api/v1/payment/intents/pay_nothing"},
		{method: "GET", path: "/api/v1/payment/orders/" + o.Number, missing: "/api/v1/payment/orders/2000-01-01-1-0000"},
		{method: "POST", path: "/api/v1/payment/intents/" + in.ID + "/cash", body: `{"received":10000,"recieved":1}`,
			missing: "/api/v1/payment/intents/pay_nothing/cash", idempotent: true},
		{method: "GET", path: "/api/v1/payment/refunds"},
		{method: "GET", path: "/api/v1/payment/refunds/r-1", missing: "/api/v1/payment/refunds/r-nothing"},
		{method: "POST", path: "/api/v1/payment/refunds/r-1/complete", missing: "/api/v1/payment/refunds/r-nothing/complete", idempotent: true},
		{method: "POST", path: "/api/v1/payment/provider/pay", body: `{"payment_id":"` + in.ID + `","amonut":1}`, idempotent: true},
		{method: "GET", path: "/api/v1/notify/messages"},
		{method: "GET", path: "/api/v1/notify/messages/msg_x", missing: "/api/v1/notify/messages/msg_nothing"},
		{method: "GET", path: "/api/v1/notify/messages/msg_x/parts/p", missing: "/api/v1/notify/messages/msg_nothing/parts/p"},
		{method: "POST", path: "/api/v1/customers", public: true, body: `{"name":"A","email":"a@example.com","password":"a long enough password","emial":"x"}`},
		{method: "POST", path: "/api/v1/customers/confirm/resend", public: true, body: `{"email":"a@example.com","mail":"x"}`},
	}
	for _, ep := range endpoints {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			if !ep.public {
				if rep := r.call(t, ep.method, ep.path, "", ""); rep.status != 401 || rep.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("no credentials: %d %s, want a 401 problem", rep.status, rep.body)
				}
				if rep := r.call(t, ep.method, ep.path, other, ""); rep.status != 403 {
					t.Errorf("a key without the permission: %d %s, want 403", rep.status, rep.body)
				}
			}
			if rep := r.call(t, ep.method, ep.path+"?nonsense=1", all, ""); rep.status != 422 {
				t.Errorf("unknown query parameter: %d %s, want 422", rep.status, rep.body)
			}
			if ep.body != "" {
				if rep := r.call(t, ep.method, ep.path, all, `{"received":`); rep.status != 400 || !strings.Contains(rep.body, "malformed JSON") {
					t.Errorf("malformed JSON: %d %s, want 400", rep.status, rep.body)
				}
				if rep := r.call(t, ep.method, ep.path, all, ep.body); rep.status != 422 || !strings.Contains(rep.body, `"field"`) {
					t.Errorf("unknown field: %d %s, want 422 naming it", rep.status, rep.body)
				}
				if rep := r.call(t, ep.method, ep.path, all, huge); rep.status != 413 {
					t.Errorf("oversized body: %d %.200s, want 413", rep.status, rep.body)
				}
			}
			if ep.missing != "" {
				body := ""
				if ep.body != "" {
					body = `{"received":10000}`
				}
				if rep := r.call(t, ep.method, ep.missing, all, body); rep.status != 404 {
					t.Errorf("unknown id: %d %s, want 404", rep.status, rep.body)
				}
			}
			if ep.idempotent {
				if rep := r.call(t, ep.method, ep.path, all, `{}`, "Idempotency-Key", "has spaces"); rep.status != 422 || !strings.Contains(rep.body, "Idempotency-Key") {
					t.Errorf("bad Idempotency-Key: %d %s, want 422 naming it", rep.status, rep.body)
				}
			}
		})
	}

	// Field rules, route by route.
	for _, tt := range []struct {
		name, method, path, body, field string
		status                          int
	}{
		{"no cash", "POST", "/api/v1/payment/intents/" + in.ID + "/cash", `{}`, "received", 422},
		{"negative cash", "POST", "/api/v1/payment/intents/" + in.ID + "/cash", `{"received":-5}`, "received", 422},
		{"cash as text", "POST", "/api/v1/payment/intents/" + in.ID + "/cash", `{"received":"lots"}`, "received", 422},
		{"pay names nothing", "POST", "/api/v1/payment/provider/pay", `{}`, "payment_id", 422},
		{"pay names two", "POST", "/api/v1/payment/provider/pay", `{"payment_id":"a","qr":"b"}`, "payment_id", 422},
		{"pay bad outcome", "POST", "/api/v1/payment/provider/pay", `{"payment_id":"` + in.ID + `","outcome":"maybe"}`, "outcome", 422},
		{"pay bad QR", "POST", "/api/v1/payment/provider/pay", `{"qr":"not ours"}`, "qr", 422},
		{"pay a cash intent", "POST", "/api/v1/payment/provider/pay", `{"payment_id":"` + in.ID + `"}`, "", 409},
		{"intents bad state", "GET", "/api/v1/payment/intents?state=paid", "", "state", 422},
		{"intents bad limit", "GET", "/api/v1/payment/intents?limit=0", "", "limit", 422},
		{"refunds bad state", "GET", "/api/v1/payment/refunds?state=done", "", "state", 422},
		{"messages bad kind", "GET", "/api/v1/notify/messages?kind=spam", "", "kind", 422},
		{"messages bad limit", "GET", "/api/v1/notify/messages?limit=abc", "", "limit", 422},
		{"sign-up empty", "POST", "/api/v1/customers", `{}`, "email", 422},
		{"sign-up bad address", "POST", "/api/v1/customers", `{"name":"A","email":"nope","password":"a long enough password"}`, "email", 422},
		{"sign-up short password", "POST", "/api/v1/customers", `{"name":"A","email":"a@example.com","password":"short"}`, "password", 422},
		{"sign-up bad lang", "POST", "/api/v1/customers", `{"name":"A","email":"a@example.com","password":"a long enough password","lang":"fr"}`, "lang", 422},
		{"confirm without token", "GET", "/api/v1/customers/confirm", "", "token", 422},
		{"confirm forged token", "GET", "/api/v1/customers/confirm?token=0192f0b2-0000-7000-8000-000000000000.9999999999.AAAA", "", "token", 422},
		{"confirm two tokens", "GET", "/api/v1/customers/confirm?token=a&token=b", "", "token", 422},
		{"resend no address", "POST", "/api/v1/customers/confirm/resend", `{}`, "email", 422},
		{"callback unsigned", "POST", "/api/v1/payment/provider/callback", `{}`, "", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := r.call(t, tt.method, tt.path, all, tt.body)
			if rep.status != tt.status || rep.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%d %s, want a %d problem", rep.status, rep.body, tt.status)
			}
			if tt.field != "" && !strings.Contains(rep.body, `"field":"`+tt.field+`"`) {
				t.Errorf("%s, want an error naming field %s", rep.body, tt.field)
			}
		})
	}
}
