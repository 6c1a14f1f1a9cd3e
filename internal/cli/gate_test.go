package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

// The gate commands against arus serve: an enrolment code, the counts
// after a scan, a device listed and revoked, a rotation and a rebuild.
func TestGateCommands(t *testing.T) {
	data := t.TempDir()
	url, _ := serve(t, nil, "--data", data, "--components", "backbone,gate")
	ctx := context.Background()
	// The event's server, as the go-live saga would have prepared it.
	db, err := store.Open(ctx, store.Config{Dir: data, Component: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g, err := gate.Open(ctx, gate.Config{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateServer(ctx, messages.CreateACLServer{EventID: "ev1", Areas: []messages.Area{{AreaID: "ga"}},
		Starts: time.Now().Add(-time.Hour), Ends: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	a, err := g.IssueTickets(ctx, messages.TicketsIssued{OrderID: "o1", EventID: "ev1", Tickets: []messages.Ticket{{TicketID: "t1", AreaID: "ga"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := g.Redeem(ctx, gate.Redeem{EventID: "ev1", Secret: a.Passes[0].QR, GateID: "main", Direction: gate.DirectionEntry}); err != nil || !res.OK {
		t.Fatalf("redeem: %+v %v", res, err)
	}
	env := map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": mustKey(t, data, "ticketing.admin", "gate.read", "gate.manage")}

	if r := must(t, env, "", "gate", "counts", "ev1"); !strings.Contains(r.stdout, "inside\t1") || !strings.Contains(r.stdout, "gate main\t1 in, 0 out") {
		t.Errorf("counts:\n%s", r.stdout)
	}
	code := strings.TrimSpace(must(t, env, "", "gate", "enrol", "ev1", "--name", "Lane 1").stdout)
	d, err := g.Enrol(ctx, code)
	if err != nil {
		t.Fatalf("the printed code %q does not enrol: %v", code, err)
	}
	if r := must(t, env, "", "gate", "devices", "ev1"); !strings.Contains(r.stdout, d.DeviceID) {
		t.Errorf("devices does not list %s:\n%s", d.DeviceID, r.stdout)
	}
	must(t, env, "", "gate", "revoke", "ev1", d.DeviceID)
	if got, err := g.Device(ctx, d.DeviceID); err != nil || !got.Revoked {
		t.Errorf("after revoke: %+v %v", got, err)
	}
	if r := must(t, env, "", "gate", "rotate", "ev1"); !strings.Contains(r.stdout, "key 2 is active") {
		t.Errorf("rotate: %s", r.stdout)
	}
	if r := must(t, env, "", "gate", "rebuild"); !strings.Contains(r.stdout, "rebuilt from") {
		t.Errorf("rebuild: %s", r.stdout)
	}
	if r := must(t, env, "", "gate", "rebuild", "ev1"); !strings.Contains(r.stdout, "rebuilt from 2 events") {
		t.Errorf("rebuild ev1: %s, want 2 events (issued, scanned)", r.stdout)
	}
	for _, args := range [][]string{
		{"gate", "counts"},
		{"gate", "counts", "nope"},
		{"gate", "enrol", "ev1"},
		{"gate", "enrol", "ev1", "--name", "x", "--role", "boss"},
		{"gate", "revoke", "ev1"},
		{"gate", "rebuild", "ev1", "ev2"},
		{"gate", "rebuild", "nope"},
		{"gate", "counts", "ev1", "--format", "yaml"},
	} {
		if r := arus(t, env, "", args...); r.err == nil {
			t.Errorf("arus %s succeeded, want an error", strings.Join(args, " "))
		}
	}
}
