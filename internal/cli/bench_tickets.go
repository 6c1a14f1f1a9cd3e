package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-platform/arus/internal/ticketingapi"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/payment"
)

const benchTicketsAbout = `
"tickets" plays a flash sale against a running server:

  arus bench tickets
  arus bench tickets --attempts 2000 --tickets 200 --concurrency 16
  arus bench tickets --event EVENT --pay 0

It creates a merchant and an event with --areas areas sharing --tickets
tickets, submits and approves the event, and waits until the go-live saga
has put it on sale (or, with --event, sells an event already on sale).
Then --concurrency buyers make --attempts purchase attempts of one ticket
each (POST /api/v1/ticketing/orders with an Idempotency-Key), spread over
the areas in turn, until every attempt is answered: 201 a reservation (a
hold), 409 sold out, or another refusal, counted by its reason.

After the sale it pays --pay of the reservations through the payment API
(cash at the counter and the simulated online provider, in turn) and
cancels the rest, which releases their holds at once. It then waits, up to
--wait, until every paid order is validated with its ticket issued, no
order is pending and no hold is left in the inventory, and audits the
event (GET /api/v1/ticketing/events/{id}/audit, as arus tickets audit).

It reports reservations/s (reservations over the time until the last one
was answered), the latency of a reservation and of a refusal, sold and
refused per area, the holds left and the orders stuck after the wait, and
oversold twice: the reservations and the sold tickets of each area against
its capacity, and the audit's replay of the inventory. It exits with an
error when anything was oversold, stuck or not validated; speed is only
reported.

The key (ARUS_API_KEY or --api-key-file) needs ticketing.admin,
ticketing.manage, ticketing.buy, ticketing.sell and ticketing.read, and to
pay, payment.read, payment.cash and payment.simulate.`

// ticketBench is one flash sale against a server.
type ticketBench struct {
	base, key string
	client    *http.Client
	run       string // makes the idempotency keys of this run unique
}

// call sends a JSON request and decodes a JSON answer into out when the
// status is want; another status is an error with the problem's detail.
func (b *ticketBench) call(ctx context.Context, method, path string, body any, want int, out any, header ...string) error {
	status, msg, err := b.send(ctx, method, path, body, header...)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: %d %s: %s", method, path, status, http.StatusText(status), problemDetail(msg))
	}
	if out != nil {
		if err := json.Unmarshal(msg, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// send sends a JSON request and returns the status and body of the answer.
func (b *ticketBench) send(ctx context.Context, method, path string, body any, header ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, msg, err
}

func (b *ticketBench) event(ctx context.Context, id string) (ticketing.Event, error) {
	var e ticketing.Event
	err := b.call(ctx, "GET", ticketingapi.Prefix+"/events/"+url.PathEscape(id), nil, http.StatusOK, &e)
	return e, err
}

// setUp creates a merchant, an event with areas sharing tickets, and takes
// it on sale through the go-live saga; it returns the event and how long
// the saga took.
func (b *ticketBench) setUp(ctx context.Context, tickets, areas int, timeout time.Duration) (ticketing.Event, time.Duration, error) {
	var m ticketing.Merchant
	if err := b.call(ctx, "POST", ticketingapi.Prefix+"/merchants", map[string]string{"name": "Bench " + b.run, "type": "organizer"}, http.StatusCreated, &m); err != nil {
		return ticketing.Event{}, 0, err
	}
	now := time.Now().UTC()
	var e ticketing.Event
	in := ticketing.EventInput{MerchantID: m.ID, Name: "Flash sale " + b.run, Venue: "Bench Arena", Address: "Jakarta",
		Starts: now.Add(30 * 24 * time.Hour), Ends: now.Add(30*24*time.Hour + 4*time.Hour),
		SaleStarts: now.Add(-time.Minute), SaleEnds: now.Add(7 * 24 * time.Hour)}
	if err := b.call(ctx, "POST", ticketingapi.Prefix+"/events", in, http.StatusCreated, &e); err != nil {
		return ticketing.Event{}, 0, err
	}
	path := ticketingapi.Prefix + "/events/" + url.PathEscape(e.ID)
	for i := range areas {
		capacity := tickets / areas
		if i < tickets%areas {
			capacity++
		}
		a := map[string]any{"name": fmt.Sprintf("Area %d", i+1), "capacity": capacity, "price": 100_000 * (i + 1)}
		if err := b.call(ctx, "POST", path+"/areas", a, http.StatusCreated, nil); err != nil {
			return ticketing.Event{}, 0, err
		}
	}
	if err := b.call(ctx, "POST", path+"/submit", nil, http.StatusOK, nil); err != nil {
		return ticketing.Event{}, 0, err
	}
	started := time.Now()
	if err := b.call(ctx, "POST", path+"/approve", nil, http.StatusOK, nil); err != nil {
		return ticketing.Event{}, 0, err
	}
	for deadline := started.Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		e, err := b.event(ctx, e.ID)
		switch {
		case err != nil:
			return e, 0, err
		case e.Status == ticketing.StatusOnSale:
			return e, time.Since(started), nil
		case e.GoLive.State == "compensated" || e.GoLive.State == "failed":
			return e, 0, fmt.Errorf("bench: the go-live saga of event %s ended %s: %s", e.ID, e.GoLive.State, e.StatusReason)
		case time.Now().After(deadline):
			return e, 0, fmt.Errorf("bench: event %s is not on sale %s after its approval (status %s, go-live %s)", e.ID, timeout, e.Status, e.GoLive.State)
		}
	}
}

// saleResult is what the buyers got.
type saleResult struct {
	elapsed, toLastReservation time.Duration
	reserved                   []ticketing.Order
	perArea                    map[string]int // reservations per area id
	refused                    map[string]int64
	refusedPerArea             map[string]int64
	errors                     int64
	firstErr                   string
	okLat, refusedLat          []time.Duration
}

// sell makes attempts purchases of one ticket each from conc buyers.
func (b *ticketBench) sell(ctx context.Context, e ticketing.Event, attempts, conc int) *saleResult {
	res := &saleResult{perArea: map[string]int{}, refused: map[string]int64{}, refusedPerArea: map[string]int64{}}
	var (
		mu      sync.Mutex
		next    atomic.Int64
		wg      sync.WaitGroup
		started = time.Now()
		last    time.Time
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var okLat, refLat []time.Duration
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= attempts {
					break
				}
				a := e.Areas[i%len(e.Areas)]
				in := map[string]any{"event_id": e.ID, "method": []string{"CASH", "ONLINE"}[i%2],
					"lines": []map[string]any{{"area_id": a.ID, "quantity": 1}},
					"buyer": map[string]string{"name": fmt.Sprintf("Buyer %d", i), "email": fmt.Sprintf("buyer%d@bench.example", i), "lang": "en"}}
				t0 := time.Now()
				status, msg, err := b.send(ctx, "POST", ticketingapi.Prefix+"/orders", in, "Idempotency-Key", fmt.Sprintf("bench-%s-%d", b.run, i))
				took := time.Since(t0)
				var o ticketing.Order
				reason := ""
				switch {
				case err != nil:
				case status == http.StatusCreated:
					err = json.Unmarshal(msg, &o)
				default:
					var p struct{ Type, Detail string }
					_ = json.Unmarshal(msg, &p)
					reason = fmt.Sprintf("%d %s", status, p.Type[strings.LastIndex(p.Type, ":")+1:])
					if p.Type != ticketingapi.TypeSoldOut && status != http.StatusServiceUnavailable {
						err = fmt.Errorf("%d %s: %s", status, http.StatusText(status), problemDetail(msg))
					}
				}
				mu.Lock()
				switch {
				case err != nil:
					res.errors++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
				case reason != "":
					res.refused[reason]++
					res.refusedPerArea[a.ID]++
					refLat = append(refLat, took)
				default:
					res.reserved = append(res.reserved, o)
					res.perArea[a.ID]++
					okLat = append(okLat, took)
					if now := time.Now(); now.After(last) {
						last = now
					}
				}
				mu.Unlock()
			}
			mu.Lock()
			res.okLat = append(res.okLat, okLat...)
			res.refusedLat = append(res.refusedLat, refLat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(started)
	res.toLastReservation = last.Sub(started)
	slices.Sort(res.okLat)
	slices.Sort(res.refusedLat)
	return res
}

// settle pays every n-th reservation as share says (cash and online in
// turn, by the order's method) and cancels the others. It returns the
// orders paid.
func (b *ticketBench) settle(ctx context.Context, orders []ticketing.Order, share float64, conc int, timeout time.Duration) (map[string]bool, error) {
	paid := map[string]bool{}
	var mu sync.Mutex
	var firstErr error
	work := make(chan int)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				o := orders[i]
				pay := int(float64(i+1)*share) > int(float64(i)*share)
				var err error
				if pay {
					err = b.pay(ctx, o, timeout)
				} else {
					err = b.call(ctx, "POST", ticketingapi.Prefix+"/orders/"+url.PathEscape(o.ID)+"/cancel", map[string]string{"reason": "bench: not paid"}, http.StatusOK, nil)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil && pay {
					paid[o.ID] = true
				}
				mu.Unlock()
			}
		}()
	}
	for i := range orders {
		work <- i
	}
	close(work)
	wg.Wait()
	return paid, firstErr
}

// pay pays an order through the payment API: cash at the counter or the
// simulated online provider, each with an idempotency key.
func (b *ticketBench) pay(ctx context.Context, o ticketing.Order, timeout time.Duration) error {
	var in payment.Intent
	path := "/api/v1/payment/orders/" + url.PathEscape(o.Number)
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		err := b.call(ctx, "GET", path, nil, http.StatusOK, &in)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), " 404 ") {
			return fmt.Errorf("bench: the payment of order %s: %w", o.Number, err)
		}
	}
	key := "Idempotency-Key"
	if o.Method == "CASH" {
		return b.call(ctx, "POST", "/api/v1/payment/intents/"+url.PathEscape(in.ID)+"/cash", map[string]int64{"received": in.Amount},
			http.StatusOK, nil, key, "bench-pay-"+o.ID)
	}
	var sim payment.Simulation
	if err := b.call(ctx, "POST", "/api/v1/payment/provider/pay", map[string]string{"payment_id": in.ID}, http.StatusOK, &sim, key, "bench-pay-"+o.ID); err != nil {
		return err
	}
	if sim.CallbackStatus != http.StatusOK {
		return fmt.Errorf("bench: the provider's callback for order %s answered %d: %s", o.Number, sim.CallbackStatus, sim.CallbackBody)
	}
	return nil
}

// settled is the state of the orders and holds after the sale.
type settled struct {
	pending, notValidated, wrongTickets int
	holds, sold                         map[string]int
	audit                               ticketingapi.Audit
	took                                time.Duration
}

func (s settled) done() bool {
	n := 0
	for _, h := range s.holds {
		n += h
	}
	return s.pending == 0 && s.notValidated == 0 && s.wrongTickets == 0 && n == 0
}

// check reads every reserved order and the event's audit once.
func (b *ticketBench) check(ctx context.Context, eventID string, orders []ticketing.Order, paid map[string]bool, conc int) (settled, error) {
	s := settled{holds: map[string]int{}, sold: map[string]int{}}
	var mu sync.Mutex
	var firstErr error
	work := make(chan ticketing.Order)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				var got ticketing.Order
				err := b.call(ctx, "GET", ticketingapi.Prefix+"/orders/"+url.PathEscape(o.ID), nil, http.StatusOK, &got)
				mu.Lock()
				switch {
				case err != nil:
					firstErr = cmp.Or(firstErr, err)
				case got.Status == ticketing.OrderPending:
					s.pending++
				case paid[o.ID] && got.Status != ticketing.OrderValidated:
					s.notValidated++
				case paid[o.ID] && len(got.Tickets) != 1:
					s.wrongTickets++
				}
				mu.Unlock()
			}
		}()
	}
	for _, o := range orders {
		work <- o
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return s, firstErr
	}
	if err := b.call(ctx, "GET", ticketingapi.Prefix+"/events/"+url.PathEscape(eventID)+"/audit", nil, http.StatusOK, &s.audit); err != nil {
		return s, err
	}
	for _, a := range s.audit.Areas {
		s.holds[a.AreaID], s.sold[a.AreaID] = a.Holds, a.Sold
	}
	return s, nil
}

func benchTickets(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "bench tickets", "arus bench tickets [flags]", benchTicketsAbout)
	server := f.String("server", defaultServer, "`URL` of the server")
	f.twin("server", "ARUS_SERVER")
	apiKey := new(string)
	addAPIKey(f, apiKey)
	attempts := f.Int("attempts", 100_000, "purchase `attempts` of one ticket each")
	tickets := f.Int("tickets", 10_000, "tickets on sale, shared by the areas")
	areas := f.Int("areas", 4, "`areas` of the event")
	conc := f.Int("concurrency", 64, "concurrent `buyers`")
	eventID := f.String("event", "", "sell this `event`, already on sale, instead of creating one (its holds and sales before the run count in the audit)")
	share := f.Float64("pay", 0.5, "`share` of the reservations to pay (0 to 1); the others are canceled")
	wait := f.Duration("wait", 2*time.Minute, "how long to wait for the go-live saga, for each payment's intent, and for the orders to settle")
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return f.fail("unexpected argument %q", rest[0])
	case *attempts < 1 || *attempts > 10_000_000:
		return f.fail("--attempts %d: use 1 to 10000000", *attempts)
	case *eventID == "" && (*areas < 1 || *areas > 100):
		return f.fail("--areas %d: use 1 to 100", *areas)
	case *eventID == "" && (*tickets < *areas || *tickets > 10_000_000):
		return f.fail("--tickets %d: use at least one per area, at most 10000000", *tickets)
	case *conc < 1 || *conc > 4096:
		return f.fail("--concurrency %d: use 1 to 4096", *conc)
	case *share < 0 || *share > 1:
		return f.fail("--pay %g: use a share from 0 to 1", *share)
	case *wait <= 0:
		return f.fail("--wait %s: use a positive duration", *wait)
	case *apiKey == "":
		return f.fail("an API key is required, in ARUS_API_KEY or --api-key-file: see arus bench --help for its scopes")
	}
	b := &ticketBench{base: strings.TrimRight(*server, "/"), key: *apiKey, run: time.Now().UTC().Format("20060102T150405.000"),
		client: &http.Client{Transport: &http.Transport{MaxIdleConns: *conc, MaxIdleConnsPerHost: *conc}, Timeout: 30 * time.Second}}
	w := e.stdout
	var ev ticketing.Event
	if *eventID == "" {
		var took time.Duration
		if ev, took, err = b.setUp(ctx, *tickets, *areas, *wait); err != nil {
			return err
		}
		fmt.Fprintf(w, "event %s: %d tickets in %d areas, on sale %s after its approval (go-live saga)\n", ev.ID, *tickets, *areas, took.Round(time.Millisecond))
	} else {
		if ev, err = b.event(ctx, *eventID); err != nil {
			return err
		}
		if ev.Status != ticketing.StatusOnSale || len(ev.Areas) == 0 {
			return fmt.Errorf("bench: event %s is %s with %d areas; it must be on sale with areas", ev.ID, ev.Status, len(ev.Areas))
		}
		fmt.Fprintf(w, "event %s: %d areas, on sale\n", ev.ID, len(ev.Areas))
	}

	sale := b.sell(ctx, ev, *attempts, *conc)
	if err := ctx.Err(); err != nil {
		return err
	}
	secs := sale.toLastReservation.Seconds()
	fmt.Fprintf(w, "sale: %s attempts by %d buyers in %.2fs (%s attempts/s)\n", thousands(int64(*attempts)), *conc,
		sale.elapsed.Seconds(), thousands(int64(float64(*attempts)/sale.elapsed.Seconds())))
	fmt.Fprintf(w, "reservations: %s in %.2fs (%s reservations/s until the last one)\n", thousands(int64(len(sale.reserved))), secs,
		thousands(int64(float64(len(sale.reserved))/max(secs, 1e-9))))
	fmt.Fprintf(w, "latency of a reservation: %s\n", quantiles(sale.okLat))
	fmt.Fprintf(w, "latency of a refusal:     %s\n", quantiles(sale.refusedLat))
	reasons := make([]string, 0, len(sale.refused))
	for r, n := range sale.refused {
		reasons = append(reasons, fmt.Sprintf("%s: %s", r, thousands(n)))
	}
	slices.Sort(reasons)
	fmt.Fprintf(w, "refused: %s\n", cmp.Or(strings.Join(reasons, "; "), "none"))
	if sale.errors > 0 {
		fmt.Fprintf(w, "errors: %s; first: %s\n", thousands(sale.errors), sale.firstErr)
	}

	paid, err := b.settle(ctx, sale.reserved, *share, *conc, *wait)
	if err != nil {
		return fmt.Errorf("bench: settling the reservations: %w", err)
	}
	settleStart := time.Now()
	var st settled
	for deadline := settleStart.Add(*wait); ; time.Sleep(200 * time.Millisecond) {
		if st, err = b.check(ctx, ev.ID, sale.reserved, paid, *conc); err != nil {
			return err
		}
		if st.done() || time.Now().After(deadline) {
			break
		}
	}
	st.took = time.Since(settleStart)
	fmt.Fprintf(w, "paid %s reservations, canceled %s; settled %s later\n", thousands(int64(len(paid))),
		thousands(int64(len(sale.reserved)-len(paid))), st.took.Round(time.Millisecond))

	tw := newTable(w, "AREA\tCAPACITY\tRESERVED\tSOLD\tREFUSED\tHOLDS LEFT\tOVERSOLD")
	oversold, holds, sold := 0, 0, 0
	for _, a := range ev.Areas {
		over := max(0, sale.perArea[a.ID]-a.Capacity, st.sold[a.ID]-a.Capacity)
		oversold += over
		holds += st.holds[a.ID]
		sold += st.sold[a.ID]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", a.Name, a.Capacity, sale.perArea[a.ID], st.sold[a.ID], sale.refusedPerArea[a.ID], st.holds[a.ID], over)
	}
	tw.Flush()
	var problems []string
	for _, a := range st.audit.Areas {
		for _, p := range a.Problems {
			problems = append(problems, a.Name+": "+p)
		}
	}
	auditWord := "ok"
	if !st.audit.OK {
		auditWord = fmt.Sprintf("FAILED (%s)", strings.Join(problems, "; "))
	}
	fmt.Fprintf(w, "sold: %d of %d tickets\n", sold, capacity(ev))
	fmt.Fprintf(w, "oversold: %d (reserved and sold against capacity); audit: %s\n", oversold, auditWord)
	fmt.Fprintf(w, "left after the run: %d holds, %d orders pending, %d paid orders not validated, %d with other than one ticket\n",
		holds, st.pending, st.notValidated, st.wrongTickets)
	switch {
	case oversold > 0 || !st.audit.OK:
		return errors.New("bench: tickets were oversold or the audit failed")
	case *eventID == "" && sold != len(paid):
		return fmt.Errorf("bench: %d tickets sold for %d orders paid", sold, len(paid))
	case !st.done():
		return fmt.Errorf("bench: orders or holds are stuck %s after the sale", *wait)
	case len(sale.reserved) == 0:
		return fmt.Errorf("bench: no reservation succeeded; first error: %s", sale.firstErr)
	}
	return nil
}

// quantiles formats p50, p99 and max of sorted latencies.
func quantiles(l []time.Duration) string {
	n := len(l)
	if n == 0 {
		return "-"
	}
	q := func(p float64) time.Duration { return l[min(n-1, int(p*float64(n)))].Round(10 * time.Microsecond) }
	return fmt.Sprintf("p50 %s  p99 %s  max %s", q(0.50), q(0.99), l[n-1].Round(10*time.Microsecond))
}

func capacity(e ticketing.Event) int {
	n := 0
	for _, a := range e.Areas {
		n += a.Capacity
	}
	return n
}
