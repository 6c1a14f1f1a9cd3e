package server

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/ticketing/payment"
)

// caller asks the server as one principal and says what its roles or
// scopes grant.
type caller struct {
	call func(method, path, body string) reply
	can  func(auth.Permission) bool
}

// keyPrincipal is a caller with a new API key of scopes, owned by owner
// ("" for a key of its own).
func (r *running) keyPrincipal(t *testing.T, owner string, scopes ...string) caller {
	t.Helper()
	_, secret, err := r.auth.CreateAPIKey(context.Background(), auth.NewAPIKey{Name: "caller", OwnerID: owner, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return caller{
		call: func(method, path, body string) reply { return r.call(t, method, path, secret, body) },
		can:  func(p auth.Permission) bool { return slices.Contains(scopes, string(p)) },
	}
}

// paymentsOfR are a merchant's payments: an intent waiting for cash, and a
// paid one with a cash refund waiting at the counter.
type paymentsOfR struct {
	r        *running
	pay      string // a key of the platform's, for checking
	waiting  payment.Intent
	paid     payment.Intent
	refundID string
}

// merchantPayments places two cash orders for the event on sale, pays the
// first and has it refunded in full, and waits until the payment service
// holds both intents and the refund.
func merchantPayments(t *testing.T, r *running, admin string, e eventJSON) paymentsOfR {
	t.Helper()
	p := paymentsOfR{r: r, pay: r.key(t, "ticketing.admin", "payment.read", "payment.cash")}
	var orders []struct {
		ID     string `json:"id"`
		Number string `json:"number"`
	}
	for i := range 2 {
		o := decode[struct {
			ID     string `json:"id"`
			Number string `json:"number"`
		}](t, r.call(t, "POST", "/api/v1/ticketing/orders", admin, fmt.Sprintf(
			`{"event_id":%q,"lines":[{"area_id":%q,"quantity":1}],"buyer":{"name":"Buyer %d","email":"b%d@example.com"},"method":"CASH"}`,
			e.ID, e.Areas[0].ID, i, i)), 201, "order")
		orders = append(orders, o)
	}
	p.paid, p.waiting = r.intentOf(t, p.pay, orders[0].Number), r.intentOf(t, p.pay, orders[1].Number)
	decode[payment.Intent](t, r.call(t, "POST", "/api/v1/payment/intents/"+p.paid.ID+"/cash", p.pay, `{"received":250000}`), 200, "cash")
	r.eventually(t, "GET", "/api/v1/ticketing/orders/"+orders[0].ID, admin, func(rep reply) bool {
		return strings.Contains(rep.body, `"paid":true`)
	})
	p.refundID = decode[idJSON](t, r.call(t, "POST", "/api/v1/ticketing/orders/"+orders[0].ID+"/refunds", admin,
		`{"kind":"full","reason":"cannot come"}`), 201, "refund").ID
	decode[idJSON](t, r.call(t, "POST", "/api/v1/ticketing/refunds/"+p.refundID+"/approve", admin, ``), 200, "approve")
	r.eventually(t, "GET", "/api/v1/payment/refunds/"+p.refundID, p.pay, func(rep reply) bool { return rep.status == 200 })
	return p
}

// target is where a payment route reaches the merchant's payments.
func (p paymentsOfR) target(pattern string) (path, body string, ok bool) {
	const pre = "/api/v1/payment"
	switch pattern {
	case "GET " + pre + "/intents", "GET " + pre + "/refunds":
		_, path, _ := strings.Cut(pattern, " ")
		return path, "", true
	case "GET " + pre + "/intents/{id}":
		return pre + "/intents/" + p.waiting.ID, "", true
	case "GET " + pre + "/orders/{number}":
		return pre + "/orders/" + url.PathEscape(p.waiting.Number), "", true
	case "POST " + pre + "/intents/{id}/cash":
		return pre + "/intents/" + p.waiting.ID + "/cash", `{"received":250000}`, true
	case "GET " + pre + "/refunds/{id}":
		return pre + "/refunds/" + p.refundID, "", true
	case "POST " + pre + "/refunds/{id}/complete":
		return pre + "/refunds/" + p.refundID + "/complete", "", true
	case "POST " + pre + "/provider/pay":
		return pre + "/provider/pay", fmt.Sprintf(`{"payment_id":%q}`, p.waiting.ID), true
	}
	return "", "", false
}

// askedBy asks every payment route about the merchant's payments as each
// caller, none of whom acts for the merchant: a route the caller's roles
// or scopes do not grant answers 403; one they grant answers 404, and a
// list leaves the merchant's payments out; only the platform's internal
// staff (ticketing.support) read them. Nothing of the merchant's changes.
func (p paymentsOfR) askedBy(t *testing.T, callers map[string]caller) {
	t.Helper()
	perms := documentedPermissions(t)
	listed := map[string][]string{"/api/v1/payment/intents": {p.waiting.ID, p.paid.ID}, "/api/v1/payment/refunds": {p.refundID}}
	asked := 0
	for _, pattern := range muxPatterns(t, p.r.mux) {
		if !strings.Contains(pattern, " /api/v1/payment/") || pattern == "POST /api/v1/payment/provider/callback" {
			continue // the callback's credential is the provider's signature, which names no caller
		}
		path, body, ok := p.target(pattern)
		if !ok {
			t.Errorf("route %s: the test does not know where it reaches a merchant's payments; add it to target", pattern)
			continue
		}
		method, _, _ := strings.Cut(pattern, " ")
		list := listed[path] != nil
		for name, c := range callers {
			asked++
			rep := c.call(method, path, body)
			reads := method == "GET" && c.can(auth.PermTicketingSupport)
			var want int
			switch {
			case !c.can(perms[pattern]):
				want = 403
			case list, reads:
				want = 200
			default:
				want = 404
			}
			if rep.status != want {
				t.Errorf("%s as %s, about another merchant's payment: %d %s, want %d", pattern, name, rep.status, rep.body, want)
				continue
			}
			if list && want == 200 {
				for _, id := range listed[path] {
					if shown := strings.Contains(rep.body, id); shown != reads {
						t.Errorf("%s as %s: lists %s: %v, want %v", pattern, name, id, shown, reads)
					}
				}
			}
		}
	}
	if asked < 7*len(callers) {
		t.Errorf("asked %d times; the walk missed payment routes", asked)
	}
	t.Logf("class tested: payment routes × %d callers of another merchant = %d requests", len(callers), asked)
	if in := decodeJSON[payment.Intent](t, p.r.call(t, "GET", "/api/v1/payment/intents/"+p.waiting.ID, p.pay, "")); in.State != payment.StateRequested {
		t.Errorf("the waiting intent after the refused calls: %s, want requested", in.State)
	}
	if rf := decodeJSON[payment.Refund](t, p.r.call(t, "GET", "/api/v1/payment/refunds/"+p.refundID, p.pay, "")); rf.State != payment.RefundPending {
		t.Errorf("the refund after the refused calls: %s, want pending", rf.State)
	}
}

// ownMerchantSees checks that a caller of the merchant itself (or of the
// platform) reads its payments and, when act, takes the cash and pays the
// refund out.
func (p paymentsOfR) ownMerchantSees(t *testing.T, c caller, name string, act bool) {
	t.Helper()
	for _, path := range []string{"/api/v1/payment/intents/" + p.waiting.ID, "/api/v1/payment/orders/" + url.PathEscape(p.waiting.Number),
		"/api/v1/payment/refunds/" + p.refundID} {
		if rep := c.call("GET", path, ""); rep.status != 200 {
			t.Errorf("GET %s as %s: %d %s, want 200", path, name, rep.status, rep.body)
		}
	}
	for path, id := range map[string]string{"/api/v1/payment/intents": p.waiting.ID, "/api/v1/payment/refunds": p.refundID} {
		if rep := c.call("GET", path, ""); rep.status != 200 || !strings.Contains(rep.body, id) {
			t.Errorf("GET %s as %s: %d, lists %s: %v; want it listed", path, name, rep.status, id, strings.Contains(rep.body, id))
		}
	}
	if !act {
		return
	}
	if rep := c.call("POST", "/api/v1/payment/intents/"+p.waiting.ID+"/cash", `{"received":250000}`); rep.status != 200 {
		t.Errorf("cash as %s: %d %s, want 200", name, rep.status, rep.body)
	}
	if rep := c.call("POST", "/api/v1/payment/refunds/"+p.refundID+"/complete", ``); rep.status != 200 {
		t.Errorf("paying the refund out as %s: %d %s, want 200", name, rep.status, rep.body)
	}
}

// customersSeeTheirOwnOrders has two signed-in customers place an order
// each, and asks the customer routes as each of them, a key of one of
// them, a key of its own and users of every other role: each sees
// exactly the orders they placed, never another customer's nor a guest's.
func customersSeeTheirOwnOrders(t *testing.T, r *running, admin string, e eventJSON, guestOrder string) {
	t.Helper()
	ctx := context.Background()
	type buyer struct {
		call  func(method, path string) reply
		owns  []string
		order string
	}
	buyers := map[string]*buyer{}
	for _, name := range []string{"cust-one", "cust-two"} {
		h := r.customer(t, name)
		b := &buyer{call: func(method, path string) reply { return r.call(t, method, path, "", "", h...) }}
		rep := r.call(t, "POST", "/api/v1/ticketing/orders", "", fmt.Sprintf(
			`{"event_id":%q,"lines":[{"area_id":%q,"quantity":1}],"buyer":{"name":%q,"email":"%s@example.co.id"},"method":"CASH"}`,
			e.ID, e.Areas[0].ID, name, name), h...)
		b.order = decode[idJSON](t, rep, 201, "order of "+name).ID
		b.owns = []string{b.order}
		buyers["customer "+name] = b
	}
	one, err := r.auth.UserByUsername(ctx, "cust-one")
	if err != nil {
		t.Fatal(err)
	}
	for name, owner := range map[string]string{"key of cust-one": one.ID, "key of its own": ""} {
		c := r.keyPrincipal(t, owner, "ticketing.buy")
		b := &buyer{call: func(method, path string) reply { return c.call(method, path, "") }}
		if owner != "" {
			b.owns = buyers["customer cust-one"].owns
		}
		buyers[name] = b
	}
	for _, role := range auth.Roles() {
		if !role.Can(auth.PermTicketingBuy) || role == auth.RoleCustomer {
			continue
		}
		u, err := r.auth.CreateUser(ctx, auth.NewUser{Username: "buys-" + strings.ReplaceAll(string(role), "_", "-"), Name: "B", Roles: []auth.Role{role}, Confirmed: true})
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := r.auth.CreateSession(ctx, u.ID, auth.SessionMeta{})
		if err != nil {
			t.Fatal(err)
		}
		buyers["user with role "+string(role)] = &buyer{call: func(method, path string) reply {
			return r.call(t, method, path, "", "", "Cookie", auth.SessionCookie+"="+token)
		}}
	}
	every := []string{guestOrder, buyers["customer cust-one"].order, buyers["customer cust-two"].order}
	for name, b := range buyers {
		list := decode[struct {
			Orders []idJSON `json:"orders"`
		}](t, b.call("GET", "/api/v1/ticketing/my/orders"), 200, "my orders as "+name)
		var got []string
		for _, o := range list.Orders {
			got = append(got, o.ID)
		}
		if !slices.Equal(got, b.owns) {
			t.Errorf("my orders as %s: %v, want %v", name, got, b.owns)
		}
		for _, id := range every {
			want := 404
			if slices.Contains(b.owns, id) {
				want = 200
			}
			if rep := b.call("GET", "/api/v1/ticketing/my/orders/"+id); rep.status != want {
				t.Errorf("my order %s as %s: %d, want %d", id, name, rep.status, want)
			} else if want == 404 {
				// Another's order is answered as one that does not exist.
				none := b.call("GET", "/api/v1/ticketing/my/orders/ord_00000000000000000000")
				if strings.ReplaceAll(rep.body, id, "ID") != strings.ReplaceAll(none.body, "ord_00000000000000000000", "ID") {
					t.Errorf("my order %s as %s is told apart from no order:\n%s\n%s", id, name, rep.body, none.body)
				}
			}
		}
	}
}
