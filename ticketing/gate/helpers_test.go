package gate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

var t0 = time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)

// openService opens a gate service on a fresh database of base with an
// event "ev1" (areas ga and vip, 18:00 to 23:00) on a clock at 18:00.
func openService(t testing.TB, base store.Config) *gate.Service {
	t.Helper()
	base.Component = "gate"
	base.MaxOpenConns = 20
	db, err := store.Open(context.Background(), base)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := gate.Open(context.Background(), gate.Config{DB: db, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatalf("open gate: %v", err)
	}
	if _, err := s.CreateServer(context.Background(), messages.CreateACLServer{EventID: "ev1", MerchantID: "m1",
		Areas: []messages.Area{{AreaID: "ga", Name: "GA"}, {AreaID: "vip", Name: "VIP"}}, Starts: t0, Ends: t0.Add(5 * time.Hour)}); err != nil {
		t.Fatalf("create server: %v", err)
	}
	return s
}

// issue issues n tickets of area in an order and returns their QR payloads by
// ticket id.
func issue(t testing.TB, s *gate.Service, order, area string, n int) map[string]string {
	t.Helper()
	m := messages.TicketsIssued{Type: messages.TypeTicketsIssued, OrderID: order, EventID: "ev1", Starts: t0, Ends: t0.Add(5 * time.Hour), At: t0}
	for i := range n {
		m.Tickets = append(m.Tickets, messages.Ticket{TicketID: fmt.Sprintf("%s-t%d", order, i), AreaID: area, Code: "secret"})
	}
	a, err := s.IssueTickets(context.Background(), m)
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	out := map[string]string{}
	for _, p := range a.Passes {
		out[p.TicketID] = p.QR
	}
	if len(out) != n {
		t.Fatalf("issued %d passes, want %d", len(out), n)
	}
	return out
}

func redeem(t testing.TB, s *gate.Service, r gate.Redeem) gate.Result {
	t.Helper()
	if r.EventID == "" {
		r.EventID = "ev1"
	}
	if r.GateID == "" {
		r.GateID = "main"
	}
	if r.Direction == "" {
		r.Direction = gate.DirectionEntry
	}
	if r.At.IsZero() {
		r.At = t0.Add(time.Minute)
	}
	res, err := s.Redeem(context.Background(), r)
	if err != nil {
		t.Fatalf("redeem %+v: %v", r, err)
	}
	return res
}

func project(t testing.TB, s *gate.Service) {
	t.Helper()
	if _, err := s.Project(context.Background()); err != nil {
		t.Fatalf("project: %v", err)
	}
}

// refusals sets up what a scan of order o1's tickets is refused for: o1-t1
// refunded, o1-t2 canceled, o1-t3 blocked, and a gate north into ga alone.
func refusals(t testing.TB, s *gate.Service) {
	t.Helper()
	ctx := context.Background()
	if err := s.PutGate(ctx, gate.Gate{EventID: "ev1", GateID: "north", Name: "North", Areas: []string{"ga"}, Direction: gate.DirectionBoth}); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeTickets(ctx, messages.TicketsRevoked{OrderID: "o1", EventID: "ev1", TicketIDs: []string{"o1-t1"}, Reason: "refund"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeTickets(ctx, messages.TicketsRevoked{OrderID: "o1", EventID: "ev1", TicketIDs: []string{"o1-t2"}, Reason: "order canceled"}); err != nil {
		t.Fatal(err)
	}
	project(t, s)
	if err := s.Block(ctx, "ev1", "o1-t3", "lost"); err != nil {
		t.Fatal(err)
	}
}
