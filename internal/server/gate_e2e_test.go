package server

import (
	"context"
	"encoding/json"
	"fmt"
	_ "image/png" // the e-ticket's QR codes
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/qrtest"
	"github.com/arus-platform/arus/ticketing/notify"
)

// customer creates a confirmed customer and a session of theirs; the
// returned header pairs sign a request in with it.
func (r *running) customer(t *testing.T, username string) []string {
	t.Helper()
	ctx := context.Background()
	u, err := r.auth.CreateUser(ctx, auth.NewUser{Username: username, Name: username, Email: username + "@example.co.id",
		Roles: []auth.Role{auth.RoleCustomer}, Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	sess, token, err := r.auth.CreateSession(ctx, u.ID, auth.SessionMeta{})
	if err != nil {
		t.Fatal(err)
	}
	return []string{"Cookie", auth.SessionCookie + "=" + token, api.CSRFHeader, sess.CSRFToken}
}

// A signed-in customer buys and pays; the e-ticket mailed to them carries
// the gate's signed pass, which scans in once and then is already
// redeemed. The buyer (and no one else) fetches the same pass from the
// gate API, and the ticketing order view shows it. A staff member added to
// the event on sale gets a pass over the topics that scans in their work
// window only.
func TestBoughtETicketScansAtTheGate(t *testing.T) {
	r := start(t, Config{PaymentSecret: testPaymentSecret})
	admin := r.key(t, "ticketing.admin", "ticketing.read", "ticketing.manage", "ticketing.staff", "ticketing.sell", "ticketing.buy",
		"payment.read", "payment.cash", "notify.read", "gate.read", "gate.manage")
	e := r.onSale(t, admin, "Merchant Gate", 10)
	rina := r.customer(t, "rina")

	body := fmt.Sprintf(`{"event_id":%q,"lines":[{"area_id":%q,"quantity":1}],"buyer":{"name":"Rina","email":"rina@example.co.id","lang":"en"},"method":"CASH"}`,
		e.ID, e.Areas[0].ID)
	rep := r.call(t, "POST", "/api/v1/ticketing/orders", "", body, append([]string{"Idempotency-Key", "rina-1"}, rina...)...)
	if rep.status != 201 {
		t.Fatalf("place order: %d %s", rep.status, rep.body)
	}
	var order struct {
		ID     string `json:"id"`
		Number string `json:"number"`
	}
	_ = json.Unmarshal([]byte(rep.body), &order)
	in := r.intentOf(t, admin, order.Number)
	if rep := r.call(t, "POST", "/api/v1/payment/intents/"+in.ID+"/cash", admin, fmt.Sprintf(`{"received":%d}`, in.Amount), "Idempotency-Key", "till-1"); rep.status != 200 {
		t.Fatalf("pay cash: %d %s", rep.status, rep.body)
	}

	list := decodeJSON[struct{ Messages []notify.Message }](t, r.eventually(t, "GET", "/api/v1/notify/messages?kind=e_ticket&order_id="+url.QueryEscape(order.ID), admin,
		func(rep reply) bool { return strings.Contains(rep.body, `"kind":"e_ticket"`) }))
	m := decodeJSON[notify.Message](t, r.call(t, "GET", "/api/v1/notify/messages/"+list.Messages[0].ID, admin, ""))
	if len(m.Parts) != 1 {
		t.Fatalf("e-ticket with %d QR codes, want 1", len(m.Parts))
	}
	qr := qrtest.Decode(t, m.Parts[0].Data)

	steward, _ := r.enrolDeviceAt(t, admin, e.ID, "main", "steward")
	// The event starts in 72 hours: scan at its start.
	at := time.Now().Add(72*time.Hour + time.Minute).UTC().Format(time.RFC3339)
	scan := func(secret string, at string) string {
		t.Helper()
		rep := r.call(t, "POST", "/api/v1/gate/events/"+e.ID+"/redeem", steward, fmt.Sprintf(`{"secret":%q,"gate_id":"main","direction":"entry","at":%q}`, secret, at))
		if rep.status != 200 {
			t.Fatalf("redeem: %d %s", rep.status, rep.body)
		}
		return rep.body
	}
	if got := scan(qr, at); !strings.Contains(got, `"ok":true`) {
		t.Fatalf("the mailed e-ticket at the gate: %s, want ok", got)
	}
	if got := scan(qr, at); !strings.Contains(got, `"reason":"already_redeemed"`) {
		t.Errorf("the mailed e-ticket again: %s, want already_redeemed", got)
	}

	// The buyer fetches the same pass; nobody else does.
	passesPath := "/api/v1/gate/orders/" + order.ID + "/passes"
	rep = r.call(t, "GET", passesPath, "", "", rina...)
	if rep.status != 200 || !strings.Contains(rep.body, `"qr":"`+qr+`"`) {
		t.Errorf("the buyer's passes: %d %s, want the mailed pass", rep.status, rep.body)
	}
	budi := r.customer(t, "budi")
	for name, rep := range map[string]reply{
		"another customer":  r.call(t, "GET", passesPath, "", "", budi...),
		"an operator's key": r.call(t, "GET", passesPath, admin, ""),
		"an unknown order":  r.call(t, "GET", "/api/v1/gate/orders/nope/passes", "", "", rina...),
	} {
		if rep.status != 404 || strings.Contains(rep.body, qr) {
			t.Errorf("%s: %d %s, want 404", name, rep.status, rep.body)
		}
	}
	r.eventually(t, "GET", "/api/v1/ticketing/orders/"+order.ID, admin, func(rep reply) bool {
		return strings.Contains(rep.body, `"pass":"`+qr+`"`)
	})

	// Staff added while on sale: a pass over the topics, scanning in the
	// work window only.
	now := time.Now().UTC()
	staffBody := fmt.Sprintf(`{"name":"Sari","email":"sari@example.co.id","work_starts":%q,"work_ends":%q,"status":"active"}`,
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	if rep := r.call(t, "POST", "/api/v1/ticketing/events/"+e.ID+"/staff", admin, staffBody); rep.status != 201 {
		t.Fatalf("add staff: %d %s", rep.status, rep.body)
	}
	staff := decodeJSON[struct {
		Staff []struct {
			Pass string `json:"pass"`
		} `json:"staff"`
	}](t, r.eventually(t, "GET", "/api/v1/ticketing/events/"+e.ID+"/staff", admin, func(rep reply) bool {
		return strings.Contains(rep.body, `"pass":"`)
	}))
	if len(staff.Staff) != 1 || staff.Staff[0].Pass == "" {
		t.Fatalf("staff %+v, want one with a pass", staff)
	}
	if got := scan(staff.Staff[0].Pass, now.Format(time.RFC3339)); !strings.Contains(got, `"ok":true`) || !strings.Contains(got, `"kind":"staff"`) {
		t.Errorf("staff in their window: %s, want ok", got)
	}
	if got := scan(staff.Staff[0].Pass, now.Add(3*time.Hour).Format(time.RFC3339)); !strings.Contains(got, `"reason":"outside_window"`) {
		t.Errorf("staff after their window: %s, want outside_window", got)
	}

	// A supervisor finds the staff pass by the staff member's name or
	// e-mail address, and the ticket by its buyer's address, in any case.
	supervisor, _ := r.enrolDeviceAt(t, admin, e.ID, "main", "supervisor")
	for q, want := range map[string]string{
		"sari":                `"kind":"staff","area_id":"*","status":"valid","inside":true,"staff_name":"Sari"`,
		"SARI@Example.co.id":  `"kind":"staff"`,
		"Rina@EXAMPLE.co.id":  `"order_number":"` + order.Number + `","buyer_name":"Rina"`,
		"rina@example.co.i":   `"passes":[]`,
		"sari@example.co.id ": `"staff_name":"Sari"`,
	} {
		rep := r.call(t, "GET", "/api/v1/gate/events/"+e.ID+"/passes?q="+url.QueryEscape(q), supervisor, "")
		if rep.status != 200 || !strings.Contains(rep.body, want) || strings.Contains(rep.body, "@") {
			t.Errorf("a supervisor's search of %q: %d %s, want %s and no e-mail address", q, rep.status, rep.body, want)
		}
	}
}
