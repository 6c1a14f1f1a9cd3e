package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/payment"
)

// tkFixture is the console with the ticketing, payment and gate services
// running on the embedded log, as arus serve runs them.
type tkFixture struct {
	*fixture
	svc  *ticketing.Service
	pay  *payment.Service
	gate *gate.Service
}

const tkPassword = "a long enough password"

func newTicketingFixture(t testing.TB) *tkFixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	b, err := backbone.Open(ctx, "embedded", filepath.Join(dir, "stream"), stream.Options{Logger: log, DefaultPartitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := ticketing.CreateTopics(ctx, b, 2); err != nil {
		t.Fatal(err)
	}
	open := func(component string) *store.DB {
		db, err := store.Open(ctx, store.Config{Dir: dir, Component: component})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	o, err := saga.New(ctx, saga.Config{Dir: dir, Component: "sagas", PollInterval: 50 * time.Millisecond, Logger: log}, b, ticketing.GoLive)
	if err != nil {
		t.Fatal(err)
	}
	tf := &tkFixture{}
	if tf.svc, err = ticketing.Open(ctx, ticketing.Config{DB: open("ticketing"), InventoryDB: open("ticketing_inventory"), Broker: b, Sagas: o,
		SweepEvery: 100 * time.Millisecond, Logger: log}); err != nil {
		t.Fatal(err)
	}
	if tf.pay, err = payment.Open(ctx, payment.Config{DB: open("payment"), Broker: b, Secret: []byte(strings.Repeat("k", 32)), Partitions: 2,
		CallbackURL: func() string { return "http://127.0.0.1:1/unused" }, Logger: log}); err != nil {
		t.Fatal(err)
	}
	if tf.gate, err = gate.Open(ctx, gate.Config{DB: open("gate"), Logger: log}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{tf.svc.Run, o.Run, tf.pay.Run, func(ctx context.Context) error { return tf.gate.Run(ctx, b) }} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("a service stopped: %v", err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		o.Close()
		b.Close()
	})
	tf.fixture = newFixtureWithConfig(t, func(c *Config) {
		c.Broker, c.Sagas, c.Ticketing, c.Payments, c.Gate = b, o, tf.svc, tf.pay, tf.gate
		c.LiveEvery = 200 * time.Millisecond
		c.Scanner = true
	})
	return tf
}

// user creates a user with roles and a password of their own.
func (tf *tkFixture) user(t testing.TB, name string, roles ...auth.Role) auth.User {
	t.Helper()
	u, err := tf.auth.CreateUser(context.Background(), auth.NewUser{Username: name, Name: strings.ToUpper(name[:1]) + name[1:], Email: name + "@example.com",
		Password: tkPassword, Roles: roles, Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// waitUntil polls cond until it holds or 30 s pass.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after 30 s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// tkWorld is two merchants, each with an on-sale event, its staff and
// schedule, a paid and a pending order, a requested refund, and the people
// of every role.
type tkWorld struct {
	events   [2]ticketing.Event
	staff    [2]ticketing.Staff
	schedule [2]ticketing.Schedule
	paid     [2]ticketing.Order
	pending  [2]ticketing.Order
	refund   [2]ticketing.Refund
	method   ticketing.PaymentMethod
	users    map[string]auth.User
}

func (tf *tkFixture) world(t testing.TB) tkWorld {
	t.Helper()
	ctx := context.Background()
	s := tf.svc
	w := tkWorld{users: map[string]auth.User{}}
	for name, roles := range map[string][]auth.Role{
		"ana": {auth.RoleMerchantAdmin}, "budi": {auth.RoleMerchantAdmin}, "citra": {auth.RoleCashier},
		"dewi": {auth.RoleCoordinator}, "eko": {auth.RoleInternalStaff}, "fajar": {auth.RoleViewer}, "gita": {auth.RoleCustomer},
	} {
		w.users[name] = tf.user(t, name, roles...)
	}
	now := time.Now()
	for i, member := range []string{"ana", "budi"} {
		m, err := s.CreateMerchant(ctx, ticketing.MerchantInput{Name: []string{"Java Jazz", "Bali Beats"}[i], Type: "organizer"})
		if err != nil {
			t.Fatal(err)
		}
		members := []string{member}
		if i == 0 {
			members = append(members, "citra", "dewi")
		}
		if err := s.SetMembers(ctx, m.ID, members); err != nil {
			t.Fatal(err)
		}
		e, err := s.CreateEvent(ctx, ticketing.Everything, ticketing.EventInput{MerchantID: m.ID, Name: []string{"Jazz Night", "Beach Beats"}[i], Venue: "JIExpo",
			Address: "Kemayoran, Jakarta", Starts: now.Add(72 * time.Hour), Ends: now.Add(76 * time.Hour), SaleStarts: now.Add(-time.Hour), SaleEnds: now.Add(70 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		area, err := s.AddArea(ctx, ticketing.Everything, e.ID, ticketing.AreaInput{Name: "Festival", Capacity: 100, Price: 250000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SubmitEvent(ctx, ticketing.Everything, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApproveEvent(ctx, e.ID, "admin"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "event on sale", func() bool {
			got, err := s.Event(ctx, ticketing.Everything, e.ID)
			return err == nil && got.Status == ticketing.StatusOnSale
		})
		if w.events[i], err = s.Event(ctx, ticketing.Everything, e.ID); err != nil {
			t.Fatal(err)
		}
		if w.staff[i], err = s.AddStaff(ctx, ticketing.Everything, e.ID, ticketing.StaffInput{Name: "Rina", Email: "rina@example.com",
			WorkStarts: now.Add(70 * time.Hour), WorkEnds: now.Add(77 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if w.schedule[i], err = s.AddSchedule(ctx, ticketing.Everything, e.ID, ticketing.ScheduleInput{Name: "Gate shift", Approver: "Nazar",
			Starts: now.Add(70 * time.Hour), Ends: now.Add(74 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		place := func(key string) ticketing.Order {
			o, _, err := s.PlaceOrder(ctx, ticketing.OrderInput{EventID: e.ID, Method: ticketing.MethodCash, IdempotencyKey: key,
				Lines: []ticketing.LineInput{{AreaID: area.ID, Quantity: 2}}, Buyer: messages.Buyer{Name: "Ayu", Email: "ayu@example.com"}})
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		w.paid[i], w.pending[i] = place(e.ID+"-paid"), place(e.ID+"-pending")
		var in payment.Intent
		waitUntil(t, "payment intent", func() bool {
			in, err = tf.pay.IntentByNumber(ctx, payment.Everything, w.paid[i].Number)
			return err == nil
		})
		if _, err := tf.pay.ConfirmCash(ctx, payment.Everything, in.ID, payment.CashPayment{Received: in.Amount, Cashier: "citra", Key: "k" + in.ID}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "order paid", func() bool {
			o, err := s.Order(ctx, ticketing.Everything, w.paid[i].ID)
			w.paid[i] = o
			return err == nil && o.Paid && len(o.Tickets) == 2
		})
		if w.refund[i], err = s.RequestRefund(ctx, ticketing.Everything, w.paid[i].ID, "admin", ticketing.RefundInput{Kind: ticketing.RefundPartial, Amount: 1000, Reason: "late start"}); err != nil {
			t.Fatal(err)
		}
		if err := tf.gate.PutGate(ctx, gate.Gate{EventID: e.ID, GateID: "north", Name: "North gate", Areas: []string{area.ID}, Direction: "both"}); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := s.PaymentMethods(ctx)
	if err != nil || len(ms) == 0 {
		t.Fatalf("payment methods %v, %v", ms, err)
	}
	w.method = ms[0]
	return w
}

// Every ticketing page × every role: allowed (200), not allowed (403), or,
// for the other merchant's data, not found (404); internal staff read every
// merchant's; and without a session, the sign-in page.
func TestTicketingPagesEveryRole(t *testing.T) {
	tf := newTicketingFixture(t)
	w := tf.world(t)
	a, b := 0, 1 // merchant A (ana, citra, dewi) and merchant B (budi)
	e := func(i int) string { return w.events[i].ID }
	type page struct {
		path string
		// who may open it: "admin" only, "read" (anyone with
		// ticketing.read), "cash", "gate"; merchant-specific pages
		// belong to merchant mine.
		perm string
		mine int // -1: not merchant-specific
	}
	pages := []page{
		{"/ticketing", "admin", -1},
		{"/ticketing/merchants", "read", -1},
		{"/ticketing/events", "read", -1},
		{"/ticketing/events/new", "manage", -1},
		{"/ticketing/schedules", "read", -1},
		{"/ticketing/staff", "read", -1},
		{"/ticketing/orders", "read", -1},
		{"/ticketing/refunds", "read", -1},
		{"/ticketing/payment-methods", "read", -1},
		{"/ticketing/counter", "cash", -1},
		{"/ticketing/gates", "gate", -1},
		{"/ticketing/dashboard/events", "admin", -1},
	}
	for i := range 2 {
		ms, _ := tf.svc.Merchants(context.Background(), ticketing.Everything)
		var mid string
		for _, m := range ms {
			if m.ID == w.events[i].MerchantID {
				mid = m.ID
			}
		}
		pages = append(pages,
			page{"/ticketing/merchants/" + mid, "read", i},
			page{"/ticketing/events/" + e(i), "read", i},
			page{"/ticketing/events/" + e(i) + "/edit", "manage", i},
			page{"/ticketing/events/" + e(i) + "/staff", "read", i},
			page{"/ticketing/events/" + e(i) + "/staff/" + w.staff[i].ID, "read", i},
			page{"/ticketing/orders/" + w.paid[i].ID, "read", i},
			page{"/ticketing/orders/" + w.paid[i].Number, "read", i},
			page{"/ticketing/counter/" + w.paid[i].ID + "/tickets", "cash", i},
			page{"/ticketing/gates/" + e(i), "gate", i},
			page{"/ticketing/events/" + e(i) + "/live", "read", i},
			page{"/ticketing/gates/" + e(i) + "/events", "gate", i},
		)
	}
	// What each role may do and which merchant it belongs to (-1: all).
	roles := []struct {
		user     string
		perms    []string
		merchant int
	}{
		{"admin", []string{"admin", "read", "manage", "cash", "gate"}, -1},
		{"ana", []string{"read", "manage"}, a},
		{"budi", []string{"read", "manage"}, b},
		{"citra", []string{"read", "cash"}, a},
		{"dewi", []string{"read"}, a},
		{"eko", []string{"read"}, -1}, // internal staff: a member of no merchant, reads every merchant's
		{"fajar", nil, -2},
		{"gita", nil, -2},
	}
	for _, rl := range roles {
		t.Run(rl.user, func(t *testing.T) {
			br := tf.browser()
			pw := tkPassword
			if rl.user == "admin" {
				pw = adminPassword
			}
			br.login(rl.user, pw)
			for _, pg := range pages {
				allowed := false
				for _, p := range rl.perms {
					allowed = allowed || p == pg.perm
				}
				want := http.StatusOK
				switch {
				case !allowed:
					want = http.StatusForbidden
				case pg.mine >= 0 && rl.merchant != -1 && rl.merchant != pg.mine:
					want = http.StatusNotFound
				}
				if strings.HasSuffix(pg.path, "/events") || strings.HasSuffix(pg.path, "/live") {
					// A live stream: the status comes with the
					// first values; the stream is left at that.
					resp, err := br.c.Get(br.base + pg.path)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != want {
						t.Errorf("%s GET %s: status %d, want %d", rl.user, pg.path, resp.StatusCode, want)
					}
					continue
				}
				resp, body := br.get(pg.path)
				if resp.StatusCode != want {
					t.Errorf("%s GET %s: status %d, want %d\n%s", rl.user, pg.path, resp.StatusCode, want, truncate(body, 300))
				}
			}
		})
	}
	t.Run("internal staff read every merchant's data", func(t *testing.T) {
		br := tf.browser()
		br.login("eko", tkPassword)
		br.lang("en")
		reads := map[string][]string{
			"/ticketing/merchants":      {"Java Jazz", "Bali Beats"},
			"/ticketing/events":         {"Jazz Night", "Beach Beats", "Events of every merchant"},
			"/ticketing/orders":         {w.paid[a].Number, w.paid[b].Number, "Orders of every merchant"},
			"/ticketing/refunds":        {w.paid[a].Number, w.paid[b].Number},
			"/ticketing/schedules":      {"/ticketing/events/" + e(a), "/ticketing/events/" + e(b)},
			"/ticketing/staff":          {"ana", "budi", "citra"},
			"/ticketing/events/" + e(b): {"Beach Beats", "Festival"},
			"/ticketing/events/" + e(b) + "/staff/" + w.staff[b].ID: {"Rina"},
			// The payment's own steps: internal staff hold payment.read.
			"/ticketing/orders/" + w.paid[b].ID: {"Payment requested", "Payment succeeded"},
		}
		for path, wants := range reads {
			resp, body := br.get(path)
			wantStatus(t, "eko GET "+path, resp, http.StatusOK)
			for _, want := range wants {
				if !strings.Contains(body, want) {
					t.Errorf("eko GET %s lacks %q", path, want)
				}
			}
			// Reading only: no form that would change something.
			if strings.Contains(body, `method="post" action="/ticketing/`) {
				t.Errorf("eko GET %s offers a ticketing form:\n%s", path, truncate(body, 300))
			}
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		br := tf.browser()
		for _, pg := range pages {
			resp, err := br.c.Get(br.base + pg.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Errorf("anonymous GET %s: %d to %q, want the sign-in page", pg.path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})
}

// Every ticketing form × every role: a change is done only by those
// allowed, and the other merchant's data answers 404 and stays as it was.
func TestTicketingActionsEveryRole(t *testing.T) {
	tf := newTicketingFixture(t)
	w := tf.world(t)
	ctx := context.Background()
	type action struct {
		path string
		form url.Values
		perm string
		mine int
	}
	var actions []action
	for i := range 2 {
		e := w.events[i].ID
		actions = append(actions,
			action{"/ticketing/events/" + e + "/staff", url.Values{"name": {"Tono"}, "email": {"tono@example.com"}, "work_starts": {"2030-01-01T10:00"}, "work_ends": {"2030-01-01T18:00"}}, "manage", i},
			action{"/ticketing/events/" + e + "/schedules", url.Values{"name": {"Shift"}, "starts": {"2030-01-01T10:00"}, "ends": {"2030-01-01T18:00"}}, "manage", i},
			action{"/ticketing/orders/" + w.pending[i].ID + "/refunds", url.Values{"kind": {"partial"}, "amount": {"1"}, "reason": {"x"}}, "sell", i},
			action{"/ticketing/refunds/" + w.refund[i].ID + "/reject", url.Values{"reason": {"no"}}, "manage", i},
			action{"/ticketing/events/" + e + "/approve", url.Values{}, "admin", i},
			action{"/ticketing/events/" + e + "/cancel", url.Values{}, "admin", i}, // the review, not the cancellation
			action{"/ticketing/gates/" + e + "/enrolments", url.Values{"gate_id": {"north"}, "role": {"steward"}, "name": {"phone"}}, "gatemanage", i},
		)
	}
	actions = append(actions,
		action{"/ticketing/merchants", url.Values{"name": {"New"}, "type": {"venue"}}, "admin", -1},
		action{"/ticketing/payment-methods", url.Values{"name": {"QRIS"}}, "admin", -1},
	)
	roles := []struct {
		user     string
		perms    []string
		merchant int
	}{
		{"ana", []string{"read", "manage", "sell"}, 0},
		{"budi", []string{"read", "manage", "sell"}, 1},
		{"citra", []string{"read", "sell"}, 0},
		{"dewi", []string{"read"}, 0},
		{"fajar", nil, -2},
	}
	for _, rl := range roles {
		br := tf.browser()
		csrf := br.login(rl.user, tkPassword)
		for _, ac := range actions {
			allowed := false
			for _, p := range rl.perms {
				allowed = allowed || p == ac.perm
			}
			form := url.Values{"csrf_token": {csrf}}
			for k, v := range ac.form {
				form[k] = v
			}
			resp, body := br.post(ac.path, form)
			switch {
			case !allowed:
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s POST %s: status %d, want 403", rl.user, ac.path, resp.StatusCode)
				}
			case ac.mine >= 0 && rl.merchant != ac.mine:
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s POST %s (another merchant's): status %d, want 404\n%s", rl.user, ac.path, resp.StatusCode, truncate(body, 300))
				}
			default:
				// Allowed: done (a redirect), or refused by the
				// state (409) or the input (422), never 403/404.
				if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 {
					t.Errorf("%s POST %s: status %d, want it allowed\n%s", rl.user, ac.path, resp.StatusCode, truncate(body, 300))
				}
			}
		}
	}
	// Budi (merchant B) could change nothing of merchant A.
	staff, err := tf.svc.StaffOf(ctx, ticketing.Everything, w.events[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := countNamed(staff, "Tono"); n != 1 {
		t.Errorf("merchant A's event has %d staff named Tono, want 1 (added by its own merchant admin only)", n)
	}
	rf, err := tf.svc.Refund(ctx, ticketing.Everything, w.refund[1].ID)
	if err != nil || rf.Status != ticketing.RefundRejected || rf.DecidedBy != "budi" {
		t.Errorf("merchant B's refund %+v, %v: want rejected by Budi alone", rf, err)
	}
}

func countNamed(staff []ticketing.Staff, name string) int {
	n := 0
	for _, s := range staff {
		if s.Name == name {
			n++
		}
	}
	return n
}

// Every ticketing form (every POST route the console registers) × every
// role: a role without the route's permission is refused (403), a merchant
// acting on another merchant's event, order, staff, schedule or refund
// finds nothing (404), and neither changes anything. Internal staff read
// every merchant's data but change none: eko, internal staff alone, holds
// no form's permission; hana, internal staff who is also a merchant admin
// and a cashier of no merchant, reads merchant A's event and finds nothing
// to change.
func TestTicketingEveryFormRefusesWhoMayNot(t *testing.T) {
	tf := newTicketingFixture(t)
	w := tf.world(t)
	ctx := context.Background()
	a := w.events[0]
	area := a.Areas[0]
	// path fills in a route's parameters with merchant A's objects; mine
	// is whether the route acts on one merchant's data.
	path := func(pattern string) (p string, mine bool) {
		p = strings.TrimPrefix(pattern, "POST ")
		r := strings.NewReplacer("{area}", area.ID, "{staff}", w.staff[0].ID, "{schedule}", w.schedule[0].ID,
			"{order}", w.pending[0].ID, "{event}", a.ID, "{user}", w.users["dewi"].ID)
		switch {
		case strings.HasPrefix(p, "/ticketing/merchants/{id}"):
			p, mine = strings.Replace(p, "{id}", a.MerchantID, 1), true
		case strings.HasPrefix(p, "/ticketing/events/{id}"):
			p, mine = strings.Replace(p, "{id}", a.ID, 1), true
		case strings.HasPrefix(p, "/ticketing/orders/{id}"):
			p, mine = strings.Replace(p, "{id}", w.paid[0].ID, 1), true
		case strings.HasPrefix(p, "/ticketing/refunds/{id}"):
			p, mine = strings.Replace(p, "{id}", w.refund[0].ID, 1), true
		case strings.HasPrefix(p, "/ticketing/payment-methods/{id}"):
			p = strings.Replace(p, "{id}", w.method.ID, 1)
		case strings.Contains(p, "{order}"), strings.Contains(p, "{event}"):
			mine = true
		}
		return r.Replace(p), mine
	}
	form := url.Values{"name": {"X"}, "reason": {"because"}, "kind": {"partial"}, "amount": {"1"}, "received": {"500000"}, "key": {"k"},
		"gate_id": {"north"}, "role": {"steward"}, "members": {"budi"}, "type": {"venue"}, "capacity": {"5"}, "price": {"1"},
		"email": {"x@example.com"}, "work_starts": {"2030-01-01T10:00"}, "work_ends": {"2030-01-01T12:00"},
		"starts": {"2030-01-01T10:00"}, "ends": {"2030-01-01T12:00"}, "status": {"done"}, "confirmed": {"yes"}, "as_cashier": {"on"}}
	var posts []tkRoute
	for _, rt := range tf.handler.ticketingRoutes() {
		if strings.HasPrefix(rt.pattern, "POST ") {
			posts = append(posts, rt)
		}
	}
	if len(posts) < 25 {
		t.Fatalf("only %d ticketing forms found", len(posts))
	}
	w.users["hana"] = tf.user(t, "hana", auth.RoleInternalStaff, auth.RoleMerchantAdmin, auth.RoleCashier)
	for _, user := range []string{"budi", "citra", "dewi", "eko", "fajar", "gita", "hana"} {
		u := w.users[user]
		p := &auth.Principal{User: u}
		br := tf.browser()
		csrf := br.login(user, tkPassword)
		if p.Can(auth.PermTicketingSupport, "") {
			resp, body := br.get("/ticketing/events/" + a.ID)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, a.Name) {
				t.Errorf("%s (internal staff) GET merchant A's event: status %d, want 200 with %q\n%s", user, resp.StatusCode, a.Name, truncate(body, 300))
			}
		}
		for _, rt := range posts {
			target, mine := path(rt.pattern)
			f := url.Values{"csrf_token": {csrf}}
			for k, v := range form {
				f[k] = v
			}
			resp, body := br.post(target, f)
			switch {
			case !p.Can(rt.perm, ""):
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s (without %s) POST %s: status %d, want 403", user, rt.perm, target, resp.StatusCode)
				}
			case mine && (user == "budi" || user == "hana"): // merchant B, or no merchant, on merchant A's data
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s POST %s (merchant A's): status %d, want 404\n%s", user, target, resp.StatusCode, truncate(body, 300))
				}
			}
			if p.Can(auth.PermTicketingSupport, "") && resp.StatusCode < 400 {
				t.Errorf("%s (internal staff) POST %s: status %d, want it refused", user, target, resp.StatusCode)
			}
		}
	}
	// Nothing of merchant A's changed.
	e, err := tf.svc.Event(ctx, ticketing.Everything, a.ID)
	if err != nil || e.Status != ticketing.StatusOnSale || len(e.Areas) != 1 {
		t.Errorf("merchant A's event is %+v, %v; want it on sale with its one area, as before", e, err)
	}
	if st, err := tf.svc.StaffOf(ctx, ticketing.Everything, a.ID); err != nil || len(st) != 1 || st[0].Name != "Rina" {
		t.Errorf("merchant A's staff %+v, %v; want Rina alone, unchanged", st, err)
	}
	// Citra, merchant A's cashier, may take cash for its pending order,
	// and did; nobody else could.
	if in, err := tf.pay.IntentByNumber(ctx, payment.Everything, w.pending[0].Number); err != nil || in.PaidBy != "citra" {
		t.Errorf("merchant A's pending order paid by %q, %v; want citra, its cashier", in.PaidBy, err)
	}
	if rf, err := tf.svc.Refund(ctx, ticketing.Everything, w.refund[0].ID); err != nil || rf.Status != ticketing.RefundRequested {
		t.Errorf("merchant A's refund %+v, %v; want it requested still", rf.Status, err)
	}
	if ms, _ := tf.svc.Members(ctx, a.MerchantID); len(ms) != 3 {
		t.Errorf("merchant A's members %v, want the 3 of before", ms)
	}
	if u, _ := tf.auth.User(ctx, w.users["dewi"].ID); len(u.Roles) != 1 || u.Roles[0] != auth.RoleCoordinator {
		t.Errorf("dewi's roles %v, want coordinator alone", u.Roles)
	}
}
