package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

// decode reads a reply's JSON body, failing the test on a status other
// than want.
func decode[T any](t testing.TB, rep reply, want int, what string) T {
	t.Helper()
	if rep.status != want {
		t.Fatalf("%s: got %d %s, want %d", what, rep.status, rep.body, want)
	}
	var v T
	if err := json.Unmarshal([]byte(rep.body), &v); err != nil {
		t.Fatalf("%s: %v in %s", what, err, rep.body)
	}
	return v
}

type idJSON struct {
	ID string `json:"id"`
}

type eventJSON struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	StatusReason string `json:"status_reason"`
	GoLive       struct {
		State    string `json:"state"`
		GateStub bool   `json:"gate_stub"`
	} `json:"go_live"`
	Areas []idJSON `json:"areas"`
}

// onSale creates a merchant and an event with one area of capacity
// tickets through the API, has it approved, and waits until the go-live
// saga put it on sale.
func (r *running) onSale(t testing.TB, key, name string, capacity int) eventJSON {
	t.Helper()
	m := decode[idJSON](t, r.call(t, "POST", "/api/v1/ticketing/merchants", key, `{"name":"`+name+`","type":"organizer"}`), 201, "create merchant")
	now := time.Now().UTC()
	body := fmt.Sprintf(`{"merchant_id":%q,"name":"Java Jazz","venue":"JIExpo","address":"Kemayoran","starts":%q,"ends":%q,"sale_starts":%q,"sale_ends":%q}`,
		m.ID, now.Add(72*time.Hour).Format(time.RFC3339), now.Add(80*time.Hour).Format(time.RFC3339),
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(48*time.Hour).Format(time.RFC3339))
	e := decode[eventJSON](t, r.call(t, "POST", "/api/v1/ticketing/events", key, body), 201, "create event")
	decode[idJSON](t, r.call(t, "POST", "/api/v1/ticketing/events/"+e.ID+"/areas", key, fmt.Sprintf(`{"name":"VIP","capacity":%d,"price":250000}`, capacity)), 201, "add area")
	decode[eventJSON](t, r.call(t, "POST", "/api/v1/ticketing/events/"+e.ID+"/submit", key, ``), 200, "submit")
	decode[eventJSON](t, r.call(t, "POST", "/api/v1/ticketing/events/"+e.ID+"/approve", key, ``), 200, "approve")
	deadline := time.Now().Add(30 * time.Second)
	for {
		e = decode[eventJSON](t, r.call(t, "GET", "/api/v1/ticketing/events/"+e.ID, key, ``), 200, "get event")
		if e.Status == "on_sale" && e.GoLive.State == "completed" {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("event not on sale after 30s: %+v", e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The go-live saga runs end to end in the server: the event goes on sale
// through the five topics, and says that its gate is the stub.
func TestTicketingGoLiveInServer(t *testing.T) {
	r := start(t, Config{})
	admin := r.key(t, "ticketing.admin", "ticketing.read", "ticketing.manage", "ticketing.sell", "ticketing.buy")
	e := r.onSale(t, admin, "Merchant A", 10)
	if e.GoLive.GateStub {
		t.Errorf("gate_stub: got true, want false: the gate service answered")
	}
	read := r.key(t, "topics.read", "schemas.read")
	for _, topic := range messages.Topics {
		if rep := r.call(t, "GET", "/api/v1/topics/"+topic, read, ""); rep.status != 200 {
			t.Errorf("topic %s: got %d, want 200", topic, rep.status)
		}
		if _, err := r.schemas.Version(context.Background(), topic+"-value", schema.Latest); err != nil {
			t.Errorf("schema of %s: %v", topic, err)
		}
	}
}

// A merchant's user sees only their merchant's events.
func TestTicketingMerchantScope(t *testing.T) {
	r := start(t, Config{})
	ctx := context.Background()
	admin := r.key(t, "ticketing.admin", "ticketing.read", "ticketing.manage")
	a := decode[idJSON](t, r.call(t, "POST", "/api/v1/ticketing/merchants", admin, `{"name":"A","type":"organizer"}`), 201, "merchant A")
	decode[idJSON](t, r.call(t, "POST", "/api/v1/ticketing/merchants", admin, `{"name":"B","type":"venue"}`), 201, "merchant B")
	u, err := r.auth.CreateUser(ctx, auth.NewUser{Username: "budi", Name: "Budi", Roles: []auth.Role{auth.RoleMerchantAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	decode[map[string]any](t, r.call(t, "PUT", "/api/v1/ticketing/merchants/"+a.ID+"/members", admin, `{"usernames":["budi"]}`), 200, "members")
	_, key, err := r.auth.CreateAPIKey(ctx, auth.NewAPIKey{Name: "budi", OwnerID: u.ID, Scopes: []string{"ticketing.read", "ticketing.manage"}})
	if err != nil {
		t.Fatal(err)
	}
	list := decode[struct {
		Merchants []idJSON `json:"merchants"`
	}](t, r.call(t, "GET", "/api/v1/ticketing/merchants", key, ""), 200, "merchants as budi")
	if len(list.Merchants) != 1 || list.Merchants[0].ID != a.ID {
		t.Errorf("budi's merchants: got %+v, want only %s", list.Merchants, a.ID)
	}
	if rep := r.call(t, "POST", "/api/v1/ticketing/merchants", key, `{"name":"C","type":"venue"}`); rep.status != 403 {
		t.Errorf("budi creates a merchant: got %d, want 403", rep.status)
	}
}

// 100 buyers at once for 10 tickets through the HTTP API, three times, on
// SQLite and PostgreSQL: exactly 10 orders are placed each time, the rest
// are told the area is sold out, and when the 10 are paid the audit of the
// area's events agrees with the read model.
func TestTicketingHundredBuyersTenTickets(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		r := start(t, Config{DB: base.DSN})
		key := r.key(t, "ticketing.admin", "ticketing.read", "ticketing.manage", "ticketing.sell", "ticketing.buy")
		for round := range 3 {
			e := r.onSale(t, key, fmt.Sprintf("Merchant %d", round), 10)
			var mu sync.Mutex
			statuses := map[int]int{}
			var placed []string
			var wg sync.WaitGroup
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := fmt.Sprintf(`{"event_id":%q,"lines":[{"area_id":%q,"quantity":1}],"buyer":{"name":"Buyer %d","email":"b%d@example.com"},"method":"CASH"}`,
						e.ID, e.Areas[0].ID, i, i)
					rep := r.call(t, "POST", "/api/v1/ticketing/orders", key, body, "Idempotency-Key", fmt.Sprintf("round-%d-buyer-%d", round, i))
					mu.Lock()
					defer mu.Unlock()
					statuses[rep.status]++
					if rep.status == 201 {
						var o struct {
							ID    string `json:"id"`
							Total int64  `json:"total"`
						}
						_ = json.Unmarshal([]byte(rep.body), &o)
						placed = append(placed, o.ID)
					} else if !strings.Contains(rep.body, "sold-out") {
						t.Errorf("buyer %d: got %d %s, want 201 or a sold-out problem", i, rep.status, rep.body)
					}
				}()
			}
			wg.Wait()
			if statuses[201] != 10 || statuses[409] != 90 {
				t.Fatalf("round %d: got %v, want 10 × 201 and 90 × 409", round, statuses)
			}
			for _, id := range placed {
				v, _ := json.Marshal(messages.PaymentResult{Type: messages.TypePaymentSucceeded, PaymentID: "pay-" + id, OrderID: id, Amount: 250000, At: time.Now()})
				if err := r.broker.Produce(context.Background(), &stream.Record{Topic: messages.TopicPayments, Key: []byte(id), Value: v}); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				list := decode[struct {
					Orders []struct{ Status string } `json:"orders"`
				}](t, r.call(t, "GET", "/api/v1/ticketing/orders?status=validated&event_id="+e.ID, key, ""), 200, "orders")
				if len(list.Orders) == 10 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("round %d: %d orders validated after 30s, want 10", round, len(list.Orders))
				}
				time.Sleep(20 * time.Millisecond)
			}
			audit := decode[struct {
				OK    bool `json:"ok"`
				Areas []struct {
					Sold     int      `json:"sold"`
					Problems []string `json:"problems"`
				} `json:"areas"`
			}](t, r.call(t, "GET", "/api/v1/ticketing/events/"+e.ID+"/audit", key, ""), 200, "audit")
			if !audit.OK || len(audit.Areas) != 1 || audit.Areas[0].Sold != 10 {
				t.Errorf("round %d audit: got %+v, want ok with 10 sold", round, audit)
			}
		}
	})
}
