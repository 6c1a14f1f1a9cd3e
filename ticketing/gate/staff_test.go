package gate_test

import (
	"context"
	"testing"
	"time"

	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

// A staff member fed from the ticketing service's staff scans in at any
// gate within their work window and is refused outside it; a changed
// window takes effect on the pass already printed; finished or removed
// staff are revoked.
func TestStaffPassesFollowTheWorkWindow(t *testing.T) {
	ctx := context.Background()
	s := openService(t, store.Config{Dir: t.TempDir()})
	if err := s.PutGate(ctx, gate.Gate{EventID: "ev1", GateID: "vipdoor", Name: "VIP door", Areas: []string{"vip"}, Direction: gate.DirectionBoth}); err != nil {
		t.Fatal(err)
	}
	change := func(typ, status string, from, to time.Time) messages.StaffAccess {
		t.Helper()
		a, err := s.ChangeStaff(ctx, messages.StaffChanged{Type: typ, EventID: "ev1", StaffID: "stf1", WorkStarts: from, WorkEnds: to, Status: status})
		if err != nil {
			t.Fatalf("change staff: %v", err)
		}
		return a
	}
	a := change(messages.TypeStaffAssigned, "active", t0.Add(-2*time.Hour), t0.Add(2*time.Hour))
	if a.Type != messages.TypeStaffGranted || a.QR == "" {
		t.Fatalf("answer %+v, want a granted pass", a)
	}
	qr := a.QR
	for _, tc := range []struct {
		name   string
		at     time.Time
		gateID string
		dir    string
		ok     bool
		reason string
	}{
		{"before the window", t0.Add(-3 * time.Hour), "main", gate.DirectionEntry, false, gate.ReasonOutsideWindow},
		{"in the window", t0, "main", gate.DirectionEntry, true, ""},
		{"out again", t0.Add(time.Minute), "main", gate.DirectionExit, true, ""},
		{"at the VIP door too", t0.Add(2 * time.Minute), "vipdoor", gate.DirectionEntry, true, ""},
		{"out by the VIP door", t0.Add(3 * time.Minute), "vipdoor", gate.DirectionExit, true, ""},
		{"after the window", t0.Add(3 * time.Hour), "main", gate.DirectionEntry, false, gate.ReasonOutsideWindow},
	} {
		res := redeem(t, s, gate.Redeem{Secret: qr, GateID: tc.gateID, Direction: tc.dir, At: tc.at})
		if res.OK != tc.ok || (!tc.ok && res.Reason != tc.reason) || res.Kind != "staff" {
			t.Errorf("%s: %+v, want ok %v reason %q", tc.name, res, tc.ok, tc.reason)
		}
	}

	// The window moves later: the printed pass follows it.
	change(messages.TypeStaffAssigned, "on_break", t0.Add(2*time.Hour), t0.Add(6*time.Hour))
	if res := redeem(t, s, gate.Redeem{Secret: qr, At: t0.Add(time.Hour), Direction: gate.DirectionEntry}); res.OK || res.Reason != gate.ReasonOutsideWindow {
		t.Errorf("before the new window: %+v, want outside_window", res)
	}
	if res := redeem(t, s, gate.Redeem{Secret: qr, At: t0.Add(3 * time.Hour), Direction: gate.DirectionEntry}); !res.OK {
		t.Errorf("in the new window, with the first pass: %+v", res)
	}

	// Finished: revoked; active again: valid; removed: revoked.
	if a := change(messages.TypeStaffAssigned, gate.StaffFinished, t0.Add(2*time.Hour), t0.Add(6*time.Hour)); a.Type != messages.TypeStaffRevoked || a.QR != "" {
		t.Errorf("finished: %+v, want revoked", a)
	}
	if res := redeem(t, s, gate.Redeem{Secret: qr, At: t0.Add(4 * time.Hour), Direction: gate.DirectionExit}); res.OK || res.Reason != gate.ReasonRevoked {
		t.Errorf("finished staff: %+v, want revoked", res)
	}
	change(messages.TypeStaffAssigned, "active", t0.Add(2*time.Hour), t0.Add(6*time.Hour))
	if res := redeem(t, s, gate.Redeem{Secret: qr, At: t0.Add(4 * time.Hour), Direction: gate.DirectionExit}); !res.OK {
		t.Errorf("active again: %+v", res)
	}
	change(messages.TypeStaffRemoved, "", time.Time{}, time.Time{})
	if res := redeem(t, s, gate.Redeem{Secret: qr, At: t0.Add(4 * time.Hour), Direction: gate.DirectionEntry}); res.OK || res.Reason != gate.ReasonRevoked {
		t.Errorf("removed staff: %+v, want revoked", res)
	}

	// Bad changes name the field; a ticket's id is not a staff id.
	issue(t, s, "o1", "ga", 1)
	for _, m := range []messages.StaffChanged{
		{Type: messages.TypeStaffAssigned, EventID: "ev1", StaffID: "stf2"},
		{Type: messages.TypeStaffAssigned, EventID: "ev1", StaffID: "stf2", WorkStarts: t0, WorkEnds: t0.Add(-time.Hour)},
		{Type: messages.TypeStaffAssigned, EventID: "ev1", StaffID: "no/slash", WorkStarts: t0, WorkEnds: t0.Add(time.Hour)},
		{Type: messages.TypeStaffAssigned, EventID: "ev1", StaffID: "o1-t0", WorkStarts: t0, WorkEnds: t0.Add(time.Hour)},
	} {
		if _, err := s.ChangeStaff(ctx, m); err == nil {
			t.Errorf("change %+v accepted", m)
		}
	}
	project(t, s)
	c, err := s.Counts(ctx, "ev1")
	if err != nil {
		t.Fatal(err)
	}
	re, err := s.Recount(ctx, "ev1")
	if err != nil || re.Inside != c.Inside {
		t.Errorf("recount %+v %v, counts %+v", re, err, c)
	}
}
