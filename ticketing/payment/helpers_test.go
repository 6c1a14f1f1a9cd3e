package payment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/payment"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

type env struct {
	svc    *payment.Service
	broker stream.Broker
	clock  *clock
	// callback serves the service's callback route as the server does.
	callback *httptest.Server
}

// clock is a settable time for the service.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }

// start runs a payment service on an embedded broker and a SQLite store in
// a temporary directory until the test ends.
func start(t testing.TB) *env {
	t.Helper()
	return startOn(t, store.Config{Dir: t.TempDir()})
}

// startOn is start with the store base names (SQLite or PostgreSQL).
func startOn(t testing.TB, base store.Config) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), Options: stream.Options{Logger: log}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return startWith(t, base, b)
}

// startWith is startOn on a broker of the caller's, which closes it.
func startWith(t testing.TB, base store.Config, b stream.Broker) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	base.Component = "payment"
	db, err := store.Open(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{broker: b, clock: newClock(time.Now())}
	e.callback = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := e.svc.Callback(r.Context(), r.Header.Get(payment.HeaderTimestamp), r.Header.Get(payment.HeaderSignature), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	e.svc, err = payment.Open(ctx, payment.Config{DB: db, Broker: b, Secret: secret, Logger: log, Now: e.clock.now,
		CallbackURL: func() string { return e.callback.URL }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		e.callback.Close()
		db.Close()
	})
	return e
}

// send produces a message on ticketing.orders, keyed by its order id.
func (e *env) send(t testing.TB, orderID string, m any) {
	t.Helper()
	value, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.broker.Produce(t.Context(), &stream.Record{Topic: messages.TopicOrders, Key: []byte(orderID), Value: value}); err != nil {
		t.Fatal(err)
	}
}

func placed(orderID, method string, total int64, expires time.Time) messages.OrderPlaced {
	return messages.OrderPlaced{Type: messages.TypeOrderPlaced, OrderID: orderID, Number: "2026-12-06-1-" + orderID,
		EventID: "ev-1", EventName: "Jazz Gunung", Buyer: messages.Buyer{Name: "Rina", Email: "rina@example.co.id", Lang: "id"},
		Lines: []messages.Line{{AreaID: "a1", AreaName: "Festival", Quantity: 2, UnitPrice: total / 2}},
		Total: total, Method: method, HoldExpires: expires, PlacedAt: time.Now()}
}

// payments returns the messages on payment.events for an order, in order.
func (e *env) payments(t testing.TB, orderID string) []map[string]any {
	t.Helper()
	info, err := e.broker.DescribeTopic(t.Context(), messages.TopicPayments)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for p := range info.Partitions {
		recs, err := e.broker.Read(t.Context(), messages.TopicPayments, int32(p), 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if string(r.Key) != orderID {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(r.Value, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

// types returns the types of the order's payment messages.
func (e *env) types(t testing.TB, orderID string) string {
	var ts []string
	for _, m := range e.payments(t, orderID) {
		ts = append(ts, fmt.Sprint(m["type"]))
	}
	return strings.Join(ts, ",")
}

// waitFor polls cond until it holds or 20 s passed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitTypes waits until the order's payment messages are want.
func (e *env) waitTypes(t testing.TB, orderID, want string) {
	t.Helper()
	var got string
	waitFor(t, fmt.Sprintf("payment messages of %s to be %s (last %q)", orderID, want, got), func() bool {
		got = e.types(t, orderID)
		return got == want
	})
}

// intentOf waits for the intent of an order placed by placed() and
// returns it.
func (e *env) intentOf(t testing.TB, orderID string) payment.Intent {
	t.Helper()
	var in payment.Intent
	waitFor(t, "the intent of "+orderID, func() bool {
		var err error
		in, err = e.svc.IntentByNumber(t.Context(), payment.Everything, "2026-12-06-1-"+orderID)
		if err != nil && !errors.Is(err, payment.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	})
	return in
}

// waitState waits until the intent is in state.
func (e *env) waitState(t testing.TB, id, state string) payment.Intent {
	t.Helper()
	var in payment.Intent
	waitFor(t, fmt.Sprintf("intent %s to be %s", id, state), func() bool {
		var err error
		in, err = e.svc.Intent(t.Context(), payment.Everything, id)
		if err != nil {
			t.Fatal(err)
		}
		return in.State == state
	})
	return in
}
