package inventory_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/inventory"
)

var vip = inventory.AreaID{Event: "1001", Area: "vip"}

func TestLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		clk := newClock()
		p := openProcess(t, base, inventory.Config{HoldTTL: 10 * time.Minute, Now: clk.Now})
		inv := p.inv
		if _, err := inv.Hold(ctx, vip, "o1", 1); !errors.Is(err, inventory.ErrNoCapacity) {
			t.Fatalf("hold before capacity: got %v, want ErrNoCapacity", err)
		}
		if err := inv.SetCapacity(ctx, vip, 5); err != nil {
			t.Fatalf("set capacity: %v", err)
		}
		h, err := inv.Hold(ctx, vip, "o1", 3)
		if err != nil {
			t.Fatalf("hold: %v", err)
		}
		if want := clk.Now().Add(10 * time.Minute); h.Quantity != 3 || h.ExpiresAt.After(want) || h.ExpiresAt.Before(want.Add(-time.Second)) {
			t.Errorf("hold: got %+v, want 3 tickets until about %s", h, want)
		}
		if again, err := inv.Hold(ctx, vip, "o1", 3); err != nil || again != h {
			t.Errorf("repeated hold: got %+v %v, want the same hold", again, err)
		}
		if _, err := inv.Hold(ctx, vip, "o1", 2); !errors.Is(err, inventory.ErrOrderConflict) {
			t.Errorf("hold of another quantity for the same order: got %v, want ErrOrderConflict", err)
		}
		if _, err := inv.Hold(ctx, vip, "o2", 3); !errors.Is(err, inventory.ErrSoldOut) || !strings.Contains(err.Error(), "2 free, 3 asked") {
			t.Errorf("hold beyond capacity: got %v, want ErrSoldOut with 2 free, 3 asked", err)
		}
		if err := inv.SetCapacity(ctx, vip, 2); err == nil {
			t.Error("capacity below the held tickets: got no error")
		}
		sale, err := inv.Confirm(ctx, vip, "o1")
		if err != nil || sale.Outcome != inventory.Sold || sale.Quantity != 3 {
			t.Fatalf("confirm: got %+v %v, want 3 sold", sale, err)
		}
		if again, err := inv.Confirm(ctx, vip, "o1"); err != nil || again != sale {
			t.Errorf("repeated confirm: got %+v %v, want %+v", again, err, sale)
		}
		if _, err := inv.Confirm(ctx, vip, "nobody"); !errors.Is(err, inventory.ErrUnknownOrder) {
			t.Errorf("confirm without a hold: got %v, want ErrUnknownOrder", err)
		}
		if _, err := inv.Hold(ctx, vip, "o2", 2); err != nil {
			t.Fatalf("hold the last two: %v", err)
		}
		if err := inv.Release(ctx, vip, "o2"); err != nil {
			t.Fatalf("release: %v", err)
		}
		if err := inv.Return(ctx, vip, "o1", "r1", 4); !errors.Is(err, inventory.ErrUnknownOrder) {
			t.Errorf("return more than sold: got %v, want ErrUnknownOrder", err)
		}
		for range 2 { // the second is a retry: no effect
			if err := inv.Return(ctx, vip, "o1", "r1", 1); err != nil {
				t.Fatalf("return: %v", err)
			}
		}
		if err := inv.Return(ctx, vip, "o1", "r1", 2); !errors.Is(err, inventory.ErrOrderConflict) {
			t.Errorf("another return under a used refund id: got %v, want ErrOrderConflict", err)
		}
		got, err := inv.Availability(ctx, vip)
		if err != nil {
			t.Fatal(err)
		}
		if want := (inventory.Availability{Area: vip, Capacity: 5, Sold: 2, Held: 0, Free: 3, Version: 6}); got != want {
			t.Errorf("availability: got %+v, want %+v", got, want)
		}
		if _, err := inv.Project(ctx); err != nil {
			t.Fatal(err)
		}
		if read, err := inv.ReadAvailability(ctx, vip); err != nil || read != got {
			t.Errorf("read model availability: got %+v %v, want %+v", read, err, got)
		}
		floor := inventory.AreaID{Event: vip.Event, Area: "floor"}
		if err := inv.SetCapacity(ctx, floor, 100); err != nil {
			t.Fatal(err)
		}
		if _, err := inv.Project(ctx); err != nil {
			t.Fatal(err)
		}
		areas, err := inv.ReadEvent(ctx, vip.Event)
		if err != nil || len(areas) != 2 || areas[0].Area != floor || areas[0].Free != 100 || areas[1] != got {
			t.Errorf("read event: got %+v %v, want floor with 100 free, then %+v", areas, err, got)
		}
		mustAudit(t, inv)
	})
}

func TestRejects(t *testing.T) {
	p := openProcess(t, store.Config{Dir: t.TempDir()}, inventory.Config{})
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"empty event", func() error { return p.inv.SetCapacity(ctx, inventory.AreaID{Area: "a"}, 1) }, "event id"},
		{"slash in area", func() error { return p.inv.SetCapacity(ctx, inventory.AreaID{Event: "e", Area: "a/b"}, 1) }, "area id"},
		{"negative capacity", func() error { return p.inv.SetCapacity(ctx, vip, -1) }, "capacity -1"},
		{"empty order", func() error { _, err := p.inv.Hold(ctx, vip, "", 1); return err }, "order id"},
		{"zero quantity", func() error { _, err := p.inv.Hold(ctx, vip, "o", 0); return err }, "quantity 0"},
		{"bad refund id", func() error { return p.inv.Return(ctx, vip, "o", "", 1) }, "refund id"},
		{"zero return", func() error { return p.inv.Return(ctx, vip, "o", "r", 0) }, "quantity 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error about %q", err, tt.want)
			}
		})
	}
	for _, cfg := range []inventory.Config{{HoldTTL: -1}, {MaxAttempts: -1}, {SnapshotEvery: -1}, {Topic: "bad topic!"}} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("config %+v: got no error", cfg)
		}
	}
}

// Expiry needs no sweeper for availability; the sweep writes it down. A
// late payment takes the tickets when they are free, and is refused when
// they are gone.
func TestExpiryAndLatePayment(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		clk := newClock()
		inv := openProcess(t, base, inventory.Config{HoldTTL: time.Minute, Now: clk.Now}).inv
		if err := inv.SetCapacity(ctx, vip, 2); err != nil {
			t.Fatal(err)
		}
		for _, o := range []string{"a", "b"} {
			if _, err := inv.Hold(ctx, vip, o, 1); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := inv.Hold(ctx, vip, "c", 1); !errors.Is(err, inventory.ErrSoldOut) {
			t.Fatalf("hold with every ticket held: got %v, want ErrSoldOut", err)
		}
		clk.Advance(2 * time.Minute)
		if av, _ := inv.Availability(ctx, vip); av.Free != 2 || av.Held != 0 {
			t.Errorf("availability after expiry, before a sweep: got %+v, want 2 free", av)
		}
		if _, err := inv.Project(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := inv.SweepExpired(ctx); err != nil || n != 2 {
			t.Fatalf("sweep: got %d %v, want 2", n, err)
		}
		if n, err := inv.Sweep(ctx, vip); err != nil || n != 0 {
			t.Fatalf("second sweep: got %d %v, want 0", n, err)
		}
		if _, err := inv.Hold(ctx, vip, "c", 1); err != nil {
			t.Fatalf("hold after expiry: %v", err)
		}
		// a pays late: one ticket is still free.
		if s, err := inv.Confirm(ctx, vip, "a"); err != nil || s.Outcome != inventory.SoldLate {
			t.Fatalf("late payment with a free ticket: got %+v %v, want sold_late", s, err)
		}
		// b pays late: c holds the last ticket.
		if s, err := inv.Confirm(ctx, vip, "b"); err != nil || s.Outcome != inventory.Refund || s.Quantity != 1 {
			t.Fatalf("late payment without a free ticket: got %+v %v, want refund of 1", s, err)
		}
		if s, err := inv.Confirm(ctx, vip, "b"); err != nil || s.Outcome != inventory.Refund {
			t.Fatalf("repeated late payment: got %+v %v, want refund again", s, err)
		}
		if _, err := inv.Hold(ctx, vip, "b", 1); !errors.Is(err, inventory.ErrOrderConflict) {
			t.Fatalf("hold for an order whose payment was refused: got %v, want ErrOrderConflict", err)
		}
		if s, err := inv.Confirm(ctx, vip, "c"); err != nil || s.Outcome != inventory.Sold {
			t.Fatalf("payment in time: got %+v %v, want sold", s, err)
		}
		if s, err := inv.Confirm(ctx, vip, "a"); err != nil || s.Outcome != inventory.SoldLate {
			t.Fatalf("repeated late payment that was accepted: got %+v %v, want sold_late again", s, err)
		}
		// An unswept expired hold paid late is expired explicitly first.
		if err := inv.Return(ctx, vip, "c", "refund-c", 1); err != nil {
			t.Fatal(err)
		}
		if s, err := inv.Confirm(ctx, vip, "c"); err != nil || s.Outcome != inventory.Sold || s.Quantity != 1 {
			t.Fatalf("payment repeated after its tickets were returned: got %+v %v, want the first outcome, sold 1", s, err)
		}
		if _, err := inv.Hold(ctx, vip, "c", 1); !errors.Is(err, inventory.ErrOrderConflict) {
			t.Fatalf("hold for an order that was paid: got %v, want ErrOrderConflict", err)
		}
		if _, err := inv.Hold(ctx, vip, "d", 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute)
		if s, err := inv.Confirm(ctx, vip, "d"); err != nil || s.Outcome != inventory.SoldLate {
			t.Fatalf("late payment on an unswept hold: got %+v %v, want sold_late", s, err)
		}
		events, err := openProcess(t, base, inventory.Config{}).es.Load(ctx, "area/1001/vip", 0)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range events {
			types = append(types, e.Type)
		}
		want := "capacity_set held held hold_expired hold_expired held sold payment_refused sold returned held hold_expired sold"
		if got := strings.Join(types, " "); got != want {
			t.Errorf("area stream:\n got %s\nwant %s", got, want)
		}
		mustAudit(t, inv)
	})
}

// The audit finds a read model that disagrees with the events, and events
// that sold what was not free.
func TestAuditFindsProblems(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		p := openProcess(t, base, inventory.Config{})
		if err := p.inv.SetCapacity(ctx, vip, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := p.inv.Hold(ctx, vip, "a", 1); err != nil {
			t.Fatal(err)
		}
		before := mustAudit(t, p.inv)
		if len(before.Areas) != 1 || before.Areas[0].Holds != 1 || before.Areas[0].Capacity != 1 {
			t.Errorf("audit: got %+v, want one area of capacity 1 with one hold", before.Areas)
		}
		if _, err := p.db.ExecContext(ctx, `UPDATE inventory_areas SET sold = 7`); err != nil {
			t.Fatal(err)
		}
		r, err := p.inv.Audit(ctx)
		if err != nil || r.OK() || !strings.Contains(strings.Join(r.Areas[0].Problems, ";"), "sold 7") {
			t.Fatalf("audit of a wrong read model: got %+v %v, want a problem naming sold 7", r, err)
		}
		if _, err := p.inv.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		mustAudit(t, p.inv)
		// A writer that bypasses the inventory sells a ticket nobody held.
		if _, err := p.es.Append(ctx, "area/1001/vip", eventsource.AnyVersion,
			eventsource.Event{Type: inventory.TypeSold, Data: []byte(`{"order":"x","quantity":1}`)}); err != nil {
			t.Fatal(err)
		}
		r, err = p.inv.Audit(ctx)
		if err != nil || r.OK() {
			t.Fatalf("audit of an oversold area: got %+v %v, want problems", r, err)
		}
		got := strings.Join(r.Areas[0].Problems, ";")
		for _, want := range []string{"sale to order x without a hold", "1 tickets sold and 1 held over a capacity of 1"} {
			if !strings.Contains(got, want) {
				t.Errorf("audit problems %q: want %q among them", got, want)
			}
		}
	})
}

// A process that starts later loads a busy area from its snapshot and
// agrees with the writer; area events reach the outbox with them.
func TestSnapshotAndOutbox(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		first := openProcess(t, base, inventory.Config{})
		ob, err := outbox.Open(ctx, first.db, outbox.Config{})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := inventory.Open(ctx, first.es, inventory.Config{SnapshotEvery: 4, Outbox: ob})
		if err != nil {
			t.Fatal(err)
		}
		if err := inv.SetCapacity(ctx, vip, 100); err != nil {
			t.Fatal(err)
		}
		for _, o := range []string{"a", "b", "c", "d", "e", "f", "g"} {
			if _, err := inv.Hold(ctx, vip, o, 2); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := inv.Confirm(ctx, vip, "c"); err != nil {
			t.Fatal(err)
		}
		snap, after, ok, err := first.es.LoadSnapshot(ctx, "area/1001/vip")
		if err != nil || !ok || snap.Version != 8 || len(after) != 1 {
			t.Fatalf("snapshot: got ok=%v version %d and %d events after %v, want version 8 and 1 event", ok, snap.Version, len(after), err)
		}
		later := openProcess(t, base, inventory.Config{})
		a, err1 := inv.Availability(ctx, vip)
		b, err2 := later.inv.Availability(ctx, vip)
		if err1 != nil || err2 != nil || a != b || b.Sold != 2 || b.Held != 12 {
			t.Errorf("availability: writer %+v %v, later process %+v %v, want equal with 2 sold and 12 held", a, err1, b, err2)
		}
		if n, _, err := ob.Pending(ctx); err != nil || n != 9 {
			t.Errorf("outbox records: got %d %v, want one per event, 9", n, err)
		}
	})
}
