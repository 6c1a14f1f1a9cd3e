package ticketing_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/inventory"
)

// roomEvent puts an event on sale with one area and its waiting room on at
// rate admissions per second.
func (h *harness) roomEvent(t *testing.T, rate, capacity int) ticketing.Event {
	t.Helper()
	e := h.onSaleEvent(t, ticketing.AreaInput{Name: "Festival", Capacity: capacity, Price: 100_000})
	w, err := h.svc.SetWaitingRoom(context.Background(), ticketing.Everything, e.ID, ticketing.WaitroomInput{Enabled: true, Rate: rate, TokenTTLSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Enabled || w.Rate != rate {
		t.Fatalf("room: got %+v", w)
	}
	return e
}

// joinAll has n buyers join at once through the services given in turn.
func joinAll(t *testing.T, n int, event string, svcs ...*ticketing.Service) []ticketing.QueueTicket {
	t.Helper()
	out := make([]ticketing.QueueTicket, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			q, err := svcs[i%len(svcs)].JoinWaitingRoom(context.Background(), event)
			if err != nil {
				t.Errorf("join %d: %v", i, err)
			}
			out[i] = q
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// statuses asks every ticket's status at once, through the services in
// turn, and returns them by position.
func statuses(t *testing.T, event string, qs []ticketing.QueueTicket, svcs ...*ticketing.Service) map[int64]ticketing.QueueTicket {
	t.Helper()
	out := map[int64]ticketing.QueueTicket{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Go(func() {
			st, err := svcs[i%len(svcs)].WaitingRoomStatus(context.Background(), event, q.Ticket)
			if err != nil {
				t.Errorf("status of %d: %v", q.Position, err)
				return
			}
			mu.Lock()
			out[st.Position] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// admittedPrefix checks that the admitted tickets are exactly positions 1
// to k, and returns k.
func admittedPrefix(t *testing.T, sts map[int64]ticketing.QueueTicket) int64 {
	t.Helper()
	var k int64
	for p := int64(1); p <= int64(len(sts)); p++ {
		st := sts[p]
		admitted := st.Status != ticketing.QueueWaiting
		if admitted && k != p-1 {
			t.Fatalf("position %d admitted while position %d waits: not first come, first served", p, k+1)
		}
		if admitted {
			k = p
			if st.Status == ticketing.QueueAdmitted && st.AdmissionToken == "" {
				t.Errorf("position %d admitted without a token", p)
			}
			continue
		}
		if st.AdmissionToken != "" || st.Ahead != p-k-1 {
			t.Errorf("position %d waiting: token %q, ahead %d; want none, %d", p, st.AdmissionToken, st.Ahead, p-k-1)
		}
	}
	return k
}

// Buyers who join together get the positions 1..n once each; buyers who
// join after them get later ones; and admission takes positions strictly
// in order, at the rate: the count admitted follows the injected clock,
// never more than rate×(elapsed+1).
func TestWaitingRoomFirstComeFirstServedAtTheRate(t *testing.T) {
	h := start(t, store.Config{}, harnessConfig{})
	// The sweeper admits too; it sees the same clock.
	e := h.roomEvent(t, 5, 1000)
	first := joinAll(t, 60, e.ID, h.svc)
	second := joinAll(t, 40, e.ID, h.svc)
	var got []int64
	for _, q := range first {
		got = append(got, q.Position)
		if q.Ticket == "" || q.EventID != e.ID {
			t.Fatalf("join answered %+v", q)
		}
	}
	slices.Sort(got)
	for i, p := range got {
		if p != int64(i+1) {
			t.Fatalf("the first 60 got positions %v, want 1..60 once each", got)
		}
	}
	for _, q := range second {
		if q.Position <= 60 || q.Position > 100 {
			t.Errorf("a buyer who came after the first 60 got position %d", q.Position)
		}
	}
	all := append(first, second...)
	steps := []struct {
		advance time.Duration
		want    int64
	}{
		{0, 5},                        // a second's burst at once
		{0, 5},                        // asking again admits nobody more
		{200 * time.Millisecond, 6},   // one interval later, one more
		{time.Second, 11},             // a second later, five more
		{10 * time.Second, 16},        // idle time is not saved up
		{1500 * time.Millisecond, 21}, // at most a second's worth at once
	}
	start := h.clock.Now()
	for i, s := range steps {
		h.clock.Advance(s.advance)
		k := admittedPrefix(t, statuses(t, e.ID, all, h.svc))
		if k != s.want {
			t.Fatalf("step %d (%s after the start): %d admitted, want %d", i, h.clock.Now().Sub(start), k, s.want)
		}
		if limit := 5 + int64(5*h.clock.Now().Sub(start).Seconds()); k > limit {
			t.Fatalf("step %d: %d admitted, above the rate's %d", i, k, limit)
		}
	}
	w, err := h.svc.WaitingRoom(context.Background(), ticketing.Everything, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if w.Joined != 100 || w.Admitted != 21 || w.Waiting != 79 {
		t.Errorf("room: joined %d, admitted %d, waiting %d; want 100, 21, 79", w.Joined, w.Admitted, w.Waiting)
	}
	// The estimate of the last in line: 79 to go at 5 a second, the
	// first five of them a second from now.
	last := statuses(t, e.ID, all, h.svc)[100]
	if last.EstimatedWaitSeconds != 16 {
		t.Errorf("estimated wait of position 100: %ds, want 16", last.EstimatedWaitSeconds)
	}
}

// A restarted service (a new one over the same store and key) answers the
// same positions, admits from where admission stood, honours the tokens
// given before, and gives the next position to the next buyer.
func TestWaitingRoomSurvivesARestart(t *testing.T) {
	h := start(t, store.Config{}, harnessConfig{})
	e := h.roomEvent(t, 2, 100)
	qs := joinAll(t, 5, e.ID, h.svc)
	before := statuses(t, e.ID, qs, h.svc)
	if k := admittedPrefix(t, before); k != 2 {
		t.Fatalf("%d admitted before the restart, want 2", k)
	}
	db, inv := h.stores(t)
	again, err := ticketing.Open(context.Background(), ticketing.Config{DB: db, InventoryDB: inv, Broker: h.broker, Sagas: h.sagas,
		Logger: slog.New(slog.DiscardHandler), Now: h.clock.Now, WaitroomKey: harnessKey})
	if err != nil {
		t.Fatal(err)
	}
	after := statuses(t, e.ID, qs, again)
	for p, st := range before {
		if after[p].Status != st.Status || after[p].AdmissionToken != st.AdmissionToken {
			t.Errorf("position %d after the restart: %s %q, want %s %q", p, after[p].Status, after[p].AdmissionToken, st.Status, st.AdmissionToken)
		}
	}
	o, _, err := again.PlaceOrder(context.Background(), orderWith(e, before[1].AdmissionToken))
	if err != nil {
		t.Fatalf("order with a token given before the restart: %v", err)
	}
	if o.Status != ticketing.OrderPending {
		t.Errorf("order: %s", o.Status)
	}
	h.clock.Advance(time.Second)
	if k := admittedPrefix(t, statuses(t, e.ID, qs, again)); k != 4 {
		t.Errorf("%d admitted a second after, want 4", k)
	}
	next, err := again.JoinWaitingRoom(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if next.Position != 6 {
		t.Errorf("the next buyer after the restart got position %d, want 6", next.Position)
	}
}

func orderWith(e ticketing.Event, token string) ticketing.OrderInput {
	return ticketing.OrderInput{EventID: e.ID, Lines: []ticketing.LineInput{{AreaID: e.Areas[0].ID, Quantity: 1}},
		Buyer: buyer(1), Method: ticketing.MethodCash, AdmissionToken: token}
}

// wantTokenRefused checks that err is an invalid-input error naming
// admission_token with a message containing want.
func wantTokenRefused(t *testing.T, what string, err error, want string) {
	t.Helper()
	var f *invalid.Fields
	if !errors.Is(err, ticketing.ErrInvalid) || !errors.As(err, &f) || len(f.List) != 1 || f.List[0].Name != "admission_token" {
		t.Fatalf("%s: got %v, want an invalid admission_token", what, err)
	}
	if !strings.Contains(f.List[0].Message, want) {
		t.Errorf("%s: admission_token %q, want it to say %q", what, f.List[0].Message, want)
	}
}

// While the room is on, an order needs a token of the room: none, a
// forged one, one signed with another key, one of another event, an
// expired one and one already used are each refused, naming
// admission_token and why, holding nothing; a token used by many orders at once, through
// two processes, places one. Once the room is off, orders need no token.
// On SQLite and PostgreSQL.
func TestWaitingRoomAdmissionTokens(t *testing.T) {
	storetest.Run(t, testAdmissionTokens)
}

func testAdmissionTokens(t *testing.T, base store.Config) {
	h := start(t, base, harnessConfig{})
	ctx := context.Background()
	e := h.roomEvent(t, 100, 50)
	other := h.roomEvent(t, 100, 50)
	qs := joinAll(t, 3, e.ID, h.svc)
	sts := statuses(t, e.ID, qs, h.svc)
	token := sts[1].AdmissionToken
	otherQ := joinAll(t, 1, other.ID, h.svc)[0]
	otherSt, err := h.svc.WaitingRoomStatus(ctx, other.ID, otherQ.Ticket)
	if err != nil {
		t.Fatal(err)
	}

	_, _, err = h.svc.PlaceOrder(ctx, orderWith(e, ""))
	wantTokenRefused(t, "no token", err, "is required")
	i := len(token) - 10
	forged := token[:i] + map[bool]string{true: "A", false: "B"}[token[i] != 'A'] + token[i+1:]
	_, _, err = h.svc.PlaceOrder(ctx, orderWith(e, forged))
	wantTokenRefused(t, "forged signature", err, "not an admission token this server signed")
	_, _, err = h.svc.PlaceOrder(ctx, orderWith(e, "wra1.not.atoken"))
	wantTokenRefused(t, "garbage", err, "not an admission token")
	_, _, err = h.svc.PlaceOrder(ctx, orderWith(e, otherSt.AdmissionToken))
	wantTokenRefused(t, "another event's token", err, "was given for event "+other.ID)

	db, inv := h.stores(t)
	stranger, err := ticketing.Open(ctx, ticketing.Config{DB: db, InventoryDB: inv, Broker: h.broker, Sagas: h.sagas,
		Logger: slog.New(slog.DiscardHandler), Now: h.clock.Now, WaitroomKey: []byte("another key, another key, another")})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := stranger.WaitingRoomStatus(ctx, e.ID, qs[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = h.svc.PlaceOrder(ctx, orderWith(e, foreign.AdmissionToken))
	wantTokenRefused(t, "a token signed with another key", err, "not an admission token this server signed")

	// One token, ten orders at once through two services sharing the
	// store and the key, as two processes: one is placed.
	db2, inv2 := h.stores(t)
	twin, err := ticketing.Open(ctx, ticketing.Config{DB: db2, InventoryDB: inv2, Broker: h.broker, Sagas: h.sagas,
		Logger: slog.New(slog.DiscardHandler), Now: h.clock.Now, WaitroomKey: harnessKey})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	placed, refused := 0, 0
	for i := range 10 {
		wg.Go(func() {
			_, _, err := []*ticketing.Service{h.svc, twin}[i%2].PlaceOrder(ctx, orderWith(e, token))
			mu.Lock()
			defer mu.Unlock()
			var f *invalid.Fields
			switch {
			case err == nil:
				placed++
			case errors.As(err, &f) && f.List[0].Name == "admission_token" && strings.Contains(f.List[0].Message, "used"):
				refused++
			default:
				t.Errorf("order with a shared token: %v", err)
			}
		})
	}
	wg.Wait()
	if placed != 1 || refused != 9 {
		t.Fatalf("one token, ten orders: %d placed, %d refused as used; want 1, 9", placed, refused)
	}
	// The refused orders gave back what they held: one ticket is held.
	if av, err := h.svc.Inventory().Availability(ctx, inventory.AreaID{Event: e.ID, Area: e.Areas[0].ID}); err != nil || av.Held != 1 {
		t.Errorf("after one order and nine refused: %+v, %v; want 1 held", av, err)
	}
	_, _, err = h.svc.PlaceOrder(ctx, orderWith(e, token))
	wantTokenRefused(t, "a replayed token", err, "was used by order")
	if st := statuses(t, e.ID, qs, h.svc)[1]; st.Status != ticketing.QueueUsed || st.AdmissionToken != "" {
		t.Errorf("the used place: %s with token %q, want used and none", st.Status, st.AdmissionToken)
	}

	h.clock.Advance(61 * time.Second)
	_, _, err = h.svc.PlaceOrder(ctx, orderWith(e, sts[2].AdmissionToken))
	wantTokenRefused(t, "an expired token", err, "expired at")
	if st := statuses(t, e.ID, qs, h.svc)[2]; st.Status != ticketing.QueueExpired || st.AdmissionToken != "" {
		t.Errorf("an expired place: %s with token %q", st.Status, st.AdmissionToken)
	}
	if _, err := h.svc.SetWaitingRoom(ctx, ticketing.Everything, e.ID, ticketing.WaitroomInput{Enabled: false}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.svc.PlaceOrder(ctx, orderWith(e, "")); err != nil {
		t.Errorf("order without a token once the room is off: %v", err)
	}
	if _, err := h.svc.JoinWaitingRoom(ctx, e.ID); !errors.Is(err, ticketing.ErrConflict) {
		t.Errorf("joining a room that is off: %v, want ErrConflict", err)
	}
}

// Two services, as two processes, share one PostgreSQL store: 200 buyers
// join through both at once and get 200 distinct positions; every buyer
// asks through both at once, and admission never goes beyond the one rate
// of the room, nor skips a position.
func TestWaitingRoomTwoProcessesDoNotOverAdmit(t *testing.T) {
	base := store.Config{DSN: storetest.PostgresSchema(t)}
	h := start(t, base, harnessConfig{})
	db, inv := h.stores(t)
	other, err := ticketing.Open(context.Background(), ticketing.Config{DB: db, InventoryDB: inv, Broker: h.broker, Sagas: h.sagas,
		Logger: slog.New(slog.DiscardHandler), Now: h.clock.Now, WaitroomKey: harnessKey})
	if err != nil {
		t.Fatal(err)
	}
	e := h.roomEvent(t, 7, 1000)
	qs := joinAll(t, 200, e.ID, h.svc, other)
	seen := map[int64]bool{}
	for _, q := range qs {
		if seen[q.Position] || q.Position < 1 || q.Position > 200 {
			t.Fatalf("position %d given twice or out of 1..200", q.Position)
		}
		seen[q.Position] = true
	}
	for i, want := range []int64{7, 7, 14, 21} {
		if i >= 2 {
			h.clock.Advance(time.Second)
		}
		// Everyone asks at once, three times, through both processes.
		for range 3 {
			if k := admittedPrefix(t, statuses(t, e.ID, qs, other, h.svc)); k != want {
				t.Fatalf("round %d: %d admitted, want %d", i, k, want)
			}
		}
	}
}
