package ticketing_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gatestub"
	"github.com/arus-platform/arus/ticketing/messages"
)

// clock is a test clock that moves only when told to.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// harness is a ticketing service with its saga orchestrator, a gate stub
// and a recorder of the orders topic, on the embedded log.
type harness struct {
	svc    *ticketing.Service
	broker stream.Broker
	sagas  *saga.Orchestrator
	clock  *clock
	orders *recorder
	// stores reopens the service's stores, as a restarted process would.
	stores func(t testing.TB) (db, inventory *store.DB)
	db     *store.DB // the ticketing store
}

// harnessKey signs the waiting room's admission tokens of every harness,
// as processes sharing a store share their key.
var harnessKey = []byte("0123456789abcdef0123456789abcdef")

type harnessConfig struct {
	refuse  string
	holdTTL time.Duration
	// broker, when set, is the backend to run on instead of the embedded
	// log.
	broker stream.Broker
}

func start(t testing.TB, base store.Config, hc harnessConfig) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	b := hc.broker
	if b == nil {
		var err error
		if b, err = backbone.Open(ctx, "embedded", filepath.Join(dir, "stream"), stream.Options{Logger: log, DefaultPartitions: 2}); err != nil {
			t.Fatalf("open broker: %v", err)
		}
	}
	if err := ticketing.CreateTopics(ctx, b, 2); err != nil {
		t.Fatalf("create topics: %v", err)
	}
	open := func(component string) *store.DB {
		cfg := base
		cfg.Component = component
		if cfg.DSN == "" {
			cfg.Dir = dir
		}
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("open store %s: %v", component, err)
		}
		return db
	}
	db, invDB := open("ticketing"), open("ticketing_inventory")
	sagaCfg := saga.Config{DSN: base.DSN, Dir: dir, Component: "sagas", PollInterval: 50 * time.Millisecond, Logger: log}
	o, err := saga.New(ctx, sagaCfg, b, ticketing.GoLive)
	if err != nil {
		t.Fatalf("saga orchestrator: %v", err)
	}
	h := &harness{broker: b, sagas: o, clock: newClock(), db: db}
	h.stores = func(t testing.TB) (*store.DB, *store.DB) {
		db, inv := open("ticketing"), open("ticketing_inventory")
		t.Cleanup(func() { db.Close(); inv.Close() })
		return db, inv
	}
	h.svc, err = ticketing.Open(ctx, ticketing.Config{DB: db, InventoryDB: invDB, Broker: b, Sagas: o, HoldTTL: hc.holdTTL,
		SweepEvery: 50 * time.Millisecond, Logger: log, Now: h.clock.Now, WaitroomKey: harnessKey})
	if err != nil {
		t.Fatalf("open service: %v", err)
	}
	stub, err := gatestub.New(b, gatestub.Config{Refuse: hc.refuse, Logger: log})
	if err != nil {
		t.Fatalf("gate stub: %v", err)
	}
	h.orders = newRecorder()
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{h.svc.Run, o.Run, stub.Run, h.orders.run(b)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("a part of the harness stopped: %v", err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		o.Close()
		b.Close()
		db.Close()
		invDB.Close()
	})
	return h
}

// recorder keeps the messages of the orders topic by order id, in order.
type recorder struct {
	mu   sync.Mutex
	msgs map[string][]string
	raw  map[string][][]byte
}

func newRecorder() *recorder {
	return &recorder{msgs: map[string][]string{}, raw: map[string][][]byte{}}
}

func (rc *recorder) run(b stream.Broker) func(context.Context) error {
	return func(ctx context.Context) error {
		rt, err := consume.New(b, consume.Config{Group: "test.recorder", Topics: []string{messages.TopicOrders}})
		if err != nil {
			return err
		}
		err = rt.Run(ctx, func(ctx context.Context, r *stream.Record) error {
			typ, err := messages.TypeOf(r.Value)
			if err != nil {
				return err
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			rc.msgs[string(r.Key)] = append(rc.msgs[string(r.Key)], typ)
			rc.raw[string(r.Key)] = append(rc.raw[string(r.Key)], r.Value)
			return nil
		})
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
}

func (rc *recorder) of(order string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.msgs[order]...)
}

func (rc *recorder) find(order, typ string, v any) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i, t := range rc.msgs[order] {
		if t == typ {
			return json.Unmarshal(rc.raw[order][i], v) == nil
		}
	}
	return false
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// onSaleEvent creates a merchant and an event with the given areas, has
// it approved and waits until the go-live saga put it on sale.
func (h *harness) onSaleEvent(t testing.TB, areas ...ticketing.AreaInput) ticketing.Event {
	t.Helper()
	e := h.approvedEvent(t, areas...)
	waitFor(t, "event on sale", func() (bool, error) {
		got, err := h.svc.Event(context.Background(), ticketing.Everything, e.ID)
		return got.Status == ticketing.StatusOnSale && got.GoLive.State == string(saga.StateCompleted), err
	})
	got, err := h.svc.Event(context.Background(), ticketing.Everything, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var merchantN atomic.Int64

func (h *harness) approvedEvent(t testing.TB, areas ...ticketing.AreaInput) ticketing.Event {
	t.Helper()
	ctx := context.Background()
	m, err := h.svc.CreateMerchant(ctx, ticketing.MerchantInput{Name: "Merchant " + time.Now().Format("150405.000000") + string(rune('a'+merchantN.Add(1)%26)), Type: "organizer"})
	if err != nil {
		t.Fatalf("create merchant: %v", err)
	}
	now := h.clock.Now()
	e, err := h.svc.CreateEvent(ctx, ticketing.Everything, ticketing.EventInput{MerchantID: m.ID, Name: "Java Jazz", Venue: "JIExpo",
		Address: "Kemayoran, Jakarta", Starts: now.Add(30 * 24 * time.Hour), Ends: now.Add(31 * 24 * time.Hour),
		SaleStarts: now.Add(-time.Hour), SaleEnds: now.Add(29 * 24 * time.Hour)})
	if err != nil {
		t.Fatalf("create event: %v", err)
	}
	for _, a := range areas {
		if _, err := h.svc.AddArea(ctx, ticketing.Everything, e.ID, a); err != nil {
			t.Fatalf("add area: %v", err)
		}
	}
	if _, err := h.svc.SubmitEvent(ctx, ticketing.Everything, e.ID); err != nil {
		t.Fatalf("submit: %v", err)
	}
	e, err = h.svc.ApproveEvent(ctx, e.ID, "admin")
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	return e
}

// pay injects a payment message on payment.events, as the payment service
// would produce it, with a given record id.
func (h *harness) pay(t *testing.T, id string, m messages.PaymentResult) {
	t.Helper()
	if m.At.IsZero() {
		m.At = time.Now().UTC()
	}
	v, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r := &stream.Record{Topic: messages.TopicPayments, Key: []byte(m.OrderID), Value: v}
	r.SetHeader(stream.HeaderID, []byte(id))
	if err := h.broker.Produce(context.Background(), r); err != nil {
		t.Fatalf("produce payment: %v", err)
	}
}

func (h *harness) order(t *testing.T, id string) ticketing.Order {
	t.Helper()
	o, err := h.svc.Order(context.Background(), ticketing.Everything, id)
	if err != nil {
		t.Fatalf("order %s: %v", id, err)
	}
	return o
}

func buyer(n int) messages.Buyer {
	return messages.Buyer{Name: "Buyer", Email: "buyer" + string(rune('a'+n%26)) + "@example.com"}
}
