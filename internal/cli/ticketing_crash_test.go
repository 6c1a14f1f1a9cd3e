package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/arus-platform/arus/internal/client"
	"github.com/arus-platform/arus/internal/testenv"
	"github.com/arus-platform/arus/internal/ticketingapi"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/notify"
	"github.com/arus-platform/arus/ticketing/payment"
)

// The go-live saga and the order flow on the real binary, killed with
// kill -9 in the middle of each, on the embedded log, on Kafka (a kfake
// cluster the binary reaches over TCP) and on Redis. After each restart
// the clients repeat what was not answered, with the same idempotency
// keys; afterwards the event went on sale once, every acknowledged order
// exists once, every paid order has its tickets once, the gate granted
// each ticket once, notify mailed each message once, no hold is left and
// the audit is clean.
func TestTicketingCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it mid-flow; skipped with -short")
	}
	bin := buildArus(t)
	for _, engine := range []string{"embedded", "kafka", "redis"} {
		t.Run(engine, func(t *testing.T) {
			var broker []string
			switch engine {
			case "kafka":
				cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(cluster.Close)
				// A session shorter than the default 45 s, so that the group
				// gives the killed process's partitions to its successor soon.
				broker = []string{"--broker", "kafka://" + strings.Join(cluster.ListenAddrs(), ",") + "?session_timeout=6s&heartbeat_interval=1s"}
			case "redis":
				broker = []string{"--broker", fmt.Sprintf("redis://%s/0?prefix=tcrash%06d", testenv.Redis(t), rand.IntN(1_000_000))}
			}
			ticketingKillRun(t, bin, broker)
		})
	}
}

// shop is the clients' side of the test: the server's address and a key.
type shop struct {
	url, key string
	http     *http.Client
}

// send sends a request once and returns the status and body of the answer.
func (s *shop) send(method, path, body string, header ...string) (int, []byte, error) {
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// errGone marks an answer the client must repeat: none (the server is
// down) or a server error.
var errGone = errors.New("no answer")

// until repeats a request while the server is down or failing, until it
// answers one of the statuses wanted, for up to a minute, and decodes the
// answer into out.
func (s *shop) until(method, path, body string, out any, want []int, header ...string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		status, b, err := s.send(method, path, body, header...)
		if err == nil && status < 500 {
			for _, w := range want {
				if status == w {
					if out != nil {
						return json.Unmarshal(b, out)
					}
					return nil
				}
			}
			return fmt.Errorf("%s %s: %d %s", method, path, status, b)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s %s: %w after a minute: %d %s %v", method, path, errGone, status, b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *shop) must(t *testing.T, method, path, body string, out any, want ...int) {
	t.Helper()
	if err := s.until(method, path, body, out, want); err != nil {
		t.Fatal(err)
	}
}

// ticketingKillRun runs the scenario on one broker (none: embedded).
func ticketingKillRun(t *testing.T, bin string, broker []string) {
	data := t.TempDir()
	args := []string{"keys", "create", "--data", data, "--name", "crash"}
	for _, sc := range []string{"ticketing.admin", "ticketing.manage", "ticketing.buy", "ticketing.sell", "ticketing.read",
		"payment.read", "payment.cash", "payment.simulate", "notify.read", "groups.read", "topics.read", "records.read"} {
		args = append(args, "--scope", sc)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("arus keys create: %v", err)
	}
	key := strings.TrimSpace(string(out))
	serve := append([]string{"--components", "backbone,ticketing,gate,payment,notify",
		"--payment-secret", "a-crash-test-secret-of-thirty-two-bytes"}, broker...)
	p := startArus(t, bin, data, serve...)
	restart := func() {
		t.Helper()
		p.kill(t)
		p = startArus(t, bin, data, append(serve, "--listen", strings.TrimPrefix(p.url, "http://"))...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the last lines of the server's log:\n%s", p.log())
		}
	})
	s := &shop{url: p.url, key: key, http: &http.Client{Timeout: 10 * time.Second}}

	// The go-live saga, killed right after the approval started it.
	var m ticketing.Merchant
	s.must(t, "POST", ticketingapi.Prefix+"/merchants", `{"name":"Crash","type":"venue"}`, &m, 201)
	now := time.Now().UTC()
	var ev ticketing.Event
	s.must(t, "POST", ticketingapi.Prefix+"/events", fmt.Sprintf(`{"merchant_id":%q,"name":"Konser","venue":"GBK","address":"Senayan","starts":%q,"ends":%q,"sale_starts":%q,"sale_ends":%q}`,
		m.ID, now.Add(72*time.Hour).Format(time.RFC3339), now.Add(80*time.Hour).Format(time.RFC3339),
		now.Add(-time.Minute).Format(time.RFC3339), now.Add(48*time.Hour).Format(time.RFC3339)), &ev, 201)
	evPath := ticketingapi.Prefix + "/events/" + ev.ID
	for i, price := range []int{50_000, 75_000} {
		s.must(t, "POST", evPath+"/areas", fmt.Sprintf(`{"name":"Area %d","capacity":1000,"price":%d}`, i+1, price), nil, 201)
	}
	s.must(t, "POST", evPath+"/submit", "", nil, 200)
	s.must(t, "POST", evPath+"/approve", "", nil, 200)
	time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond) // the kill point, not a wait
	restart()
	for deadline := time.Now().Add(time.Minute); ev.GoLive.State != "completed"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the go-live saga did not complete a minute after the restart: the event is %s, go-live %+v (%s)", ev.Status, ev.GoLive, ev.StatusReason)
		}
		s.must(t, "GET", evPath, "", &ev, 200)
	}
	if ev.Status != ticketing.StatusOnSale || ev.GoLive.Attempts != 1 {
		t.Errorf("after the restart the event is %s, go-live %+v; want on sale after one attempt", ev.Status, ev.GoLive)
	}
	var sagas struct {
		Sagas []struct{ ID, State string } `json:"sagas"`
	}
	s.must(t, "GET", "/api/v1/sagas?saga=ticketing.go_live", "", &sagas, 200)
	if len(sagas.Sagas) != 1 || sagas.Sagas[0].State != "completed" {
		t.Errorf("go-live sagas: %+v, want one, completed", sagas.Sagas)
	}

	// The orders, placed and paid by concurrent clients, killed at a random
	// point; each step is repeated with its idempotency key until answered.
	const orders, clients = 80, 6
	type placed struct {
		id, number, method string
		quantity           int
	}
	acked := make([]placed, orders)
	var (
		steps atomic.Int64
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
	)
	work := func(i int) error {
		area := ev.Areas[i%2]
		q, method := 1+(i/2)%2, []string{"CASH", "ONLINE"}[(i/4)%2]
		body := fmt.Sprintf(`{"event_id":%q,"method":%q,"lines":[{"area_id":%q,"quantity":%d}],"buyer":{"name":"Buyer %d","email":"buyer%d@example.com","lang":"en"}}`,
			ev.ID, method, area.ID, q, i, i)
		var o ticketing.Order
		if err := s.until("POST", ticketingapi.Prefix+"/orders", body, &o, []int{200, 201}, "Idempotency-Key", fmt.Sprintf("crash-order-%d", i)); err != nil {
			return err
		}
		acked[i] = placed{id: o.ID, number: o.Number, method: method, quantity: q}
		steps.Add(1)
		var in payment.Intent
		if err := s.until("GET", "/api/v1/payment/orders/"+url.PathEscape(o.Number), "", &in, []int{200, 404}); err != nil {
			return err
		}
		for deadline := time.Now().Add(time.Minute); in.ID == ""; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				return fmt.Errorf("order %s has no payment intent after a minute", o.Number)
			}
			if err := s.until("GET", "/api/v1/payment/orders/"+url.PathEscape(o.Number), "", &in, []int{200, 404}); err != nil {
				return err
			}
		}
		if method == "CASH" {
			err := s.until("POST", "/api/v1/payment/intents/"+in.ID+"/cash", fmt.Sprintf(`{"received":%d}`, in.Amount), nil, []int{200},
				"Idempotency-Key", fmt.Sprintf("crash-cash-%d", i))
			steps.Add(1)
			return err
		}
		for {
			var sim payment.Simulation
			err := s.until("POST", "/api/v1/payment/provider/pay", fmt.Sprintf(`{"payment_id":%q}`, in.ID), &sim, []int{200},
				"Idempotency-Key", fmt.Sprintf("crash-pay-%d", i))
			if err != nil {
				return err
			}
			if sim.CallbackStatus == 200 {
				steps.Add(1)
				return nil
			}
			// The callback reached a server that was going down: the
			// provider sends the same event again.
		}
	}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < orders; i = int(next.Add(1)) - 1 {
				if err := work(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	killAt := int64(orders/3 + rand.IntN(orders))
	waitUntil(t, "the kill point", time.Minute, func() bool { return steps.Load() >= killAt })
	restart()
	t.Logf("killed after %d of %d steps", killAt, 2*orders)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("clients failed: %v", errors.Join(errs...))
	}

	// Every acknowledged order exists once, paid, with its tickets once.
	var list struct{ Orders []ticketing.Order }
	waitUntil(t, "every order to be validated", time.Minute, func() bool {
		if s.until("GET", ticketingapi.Prefix+"/orders?limit=1000&event_id="+ev.ID, "", &list, []int{200}) != nil {
			return false
		}
		for _, o := range list.Orders {
			if o.Status != ticketing.OrderValidated {
				return false
			}
		}
		return len(list.Orders) >= orders
	})
	if len(list.Orders) != orders {
		t.Fatalf("%d orders for %d acknowledged", len(list.Orders), orders)
	}
	byID := map[string]bool{}
	for _, o := range list.Orders {
		byID[o.ID] = true
	}
	tickets := map[string]string{} // ticket id → order id
	codes := map[string]bool{}
	sold := map[string]int{}
	for i, a := range acked {
		if !byID[a.id] {
			t.Fatalf("acknowledged order %d (%s) is not among the orders", i, a.id)
		}
		var o ticketing.Order
		s.must(t, "GET", ticketingapi.Prefix+"/orders/"+a.id, "", &o, 200)
		if len(o.Tickets) != a.quantity || !o.Paid {
			t.Errorf("order %s: paid %v with %d tickets, want %d", o.Number, o.Paid, len(o.Tickets), a.quantity)
		}
		for _, tk := range o.Tickets {
			if tickets[tk.ID] != "" || codes[tk.Code] {
				t.Errorf("ticket %s issued twice", tk.ID)
			}
			tickets[tk.ID], codes[tk.Code] = o.ID, true
			sold[tk.AreaID]++
		}
		var in payment.Intent
		s.must(t, "GET", "/api/v1/payment/orders/"+url.PathEscape(a.number), "", &in, 200)
		if in.State != payment.StateSucceeded || in.Refunded != 0 {
			t.Errorf("the payment of order %s is %s with %d refunded, want succeeded", a.number, in.State, in.Refunded)
		}
	}

	// The gate granted each ticket once (one message, whatever the
	// redeliveries), and notify mailed each order's messages once.
	c := newTestClient(t, s.url, key)
	waitUntil(t, "the gate to grant every ticket", time.Minute, func() bool {
		granted, err := grantedTickets(c)
		if err != nil {
			return false
		}
		for id, n := range granted {
			if n != 1 {
				t.Fatalf("ticket %s granted by %d messages", id, n)
			}
			if tickets[id] == "" {
				t.Fatalf("access granted to ticket %s, which no order has", id)
			}
		}
		return len(granted) == len(tickets)
	})
	for _, a := range acked {
		var mail struct{ Messages []notify.Message }
		waitUntil(t, "the e-ticket of order "+a.number, time.Minute, func() bool {
			s.must(t, "GET", "/api/v1/notify/messages?limit=500&order_id="+a.id, "", &mail, 200)
			for _, m := range mail.Messages {
				if m.Kind == notify.KindETicket {
					return true
				}
			}
			return false
		})
		kinds := map[string]int{}
		for _, m := range mail.Messages {
			kinds[m.Kind]++
		}
		if len(kinds) != 2 || kinds[notify.KindOrderConfirmation] != 1 || kinds[notify.KindETicket] != 1 {
			t.Errorf("order %s: mailed %v, want one confirmation and one e-ticket", a.number, kinds)
		}
	}

	// No hold is left, each area sold what the orders hold, and the
	// audit's replay agrees.
	var audit ticketingapi.Audit
	s.must(t, "GET", evPath+"/audit", "", &audit, 200)
	for _, a := range audit.Areas {
		if a.Holds != 0 || a.Sold != sold[a.AreaID] || len(a.Problems) > 0 {
			t.Errorf("area %s: %d held, %d sold, problems %v; want 0 held, %d sold", a.Name, a.Holds, a.Sold, a.Problems, sold[a.AreaID])
		}
	}
	cmd := exec.Command(bin, "tickets", "audit", ev.ID, "--server", s.url)
	cmd.Env = append(os.Environ(), "ARUS_API_KEY="+key)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("arus tickets audit: %v\n%s", err, out)
	}
}

// grantedTickets counts, per ticket, the distinct AccessGranted messages
// on acl.access (a record delivered twice carries one id).
func grantedTickets(c *client.Client) (map[string]int, error) {
	ctx := context.Background()
	info, err := c.DescribeTopic(ctx, messages.TopicAccess)
	if err != nil {
		return nil, err
	}
	seen := map[string]map[string]bool{} // ticket → message ids
	for _, po := range info.Offsets {
		for off := po.Start; off < po.End; {
			recs, err := c.Read(ctx, messages.TopicAccess, po.Partition, off, 1000)
			if err != nil {
				return nil, err
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				off = r.Offset + 1
				var a messages.Access
				if err := json.Unmarshal(r.Value, &a); err != nil || a.Type != messages.TypeAccessGranted {
					continue
				}
				for _, id := range a.TicketIDs {
					if seen[id] == nil {
						seen[id] = map[string]bool{}
					}
					seen[id][r.ID()] = true
				}
			}
		}
	}
	out := map[string]int{}
	for id, ms := range seen {
		out[id] = len(ms)
	}
	return out, nil
}
