package gate_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
)

func admit(t testing.TB, s *gate.Service, a gate.Admit) gate.Result {
	t.Helper()
	a.EventID = "ev1"
	if a.GateID == "" {
		a.GateID = "main"
	}
	if a.Direction == "" {
		a.Direction = gate.DirectionEntry
	}
	if a.At.IsZero() {
		a.At = t0.Add(time.Minute)
	}
	if a.Override == "" {
		a.Override = "phone cracked; name checked against the order"
	}
	res, err := s.Admit(context.Background(), a)
	if err != nil {
		t.Fatalf("admit %+v: %v", a, err)
	}
	return res
}

// A supervisor admits a pass by its id as a scan would let it through,
// flagged for review with the reason; whatever a scan would refuse, the
// admit refuses too, and a pass never issued is unknown.
func TestAdmitByID(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		s := openService(t, base)
		qrs := issue(t, s, "o1", "ga", 4)
		issue(t, s, "o2", "vip", 1)
		refusals(t, s)
		first := admit(t, s, gate.Admit{PassID: "o1-t0", DeviceID: "d1"})
		if !first.OK || first.Reason != gate.FlagAdmitted || first.PassID != "o1-t0" || first.AreaID != "ga" || first.Kind != "ticket" {
			t.Fatalf("admit got %+v, want ok, flagged admitted, pass o1-t0 in ga", first)
		}
		if sc := first.Scan; sc == nil || !sc.Counted || sc.Flag != gate.FlagAdmitted || sc.Override != "phone cracked; name checked against the order" || sc.DeviceID != "d1" {
			t.Errorf("the admit recorded %+v, want counted, flagged admitted, with the reason and the device", first.Scan)
		}
		for _, tc := range []struct {
			name   string
			a      gate.Admit
			reason string
		}{
			{"admitted again", gate.Admit{PassID: "o1-t0"}, gate.ReasonAlreadyRedeemed},
			{"refunded", gate.Admit{PassID: "o1-t1"}, gate.ReasonRevoked},
			{"canceled", gate.Admit{PassID: "o1-t2"}, gate.ReasonCanceled},
			{"blocked", gate.Admit{PassID: "o1-t3"}, gate.ReasonBlocked},
			{"vip at a ga gate", gate.Admit{PassID: "o2-t0", GateID: "north"}, gate.ReasonWrongArea},
			{"too late", gate.Admit{PassID: "o2-t0", At: t0.Add(48 * time.Hour)}, gate.ReasonOutsideWindow},
			{"unknown", gate.Admit{PassID: "nobody"}, gate.ReasonUnknown},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := admit(t, s, tc.a)
				if res.OK || res.Reason != tc.reason {
					t.Errorf("got ok=%v reason=%q, want refused %q", res.OK, res.Reason, tc.reason)
				}
			})
		}
		// A second admit is refused as a second scan is, naming the entry.
		again := admit(t, s, gate.Admit{PassID: "o1-t0"})
		if p := again.Scan.Previous; p == nil || p.GateID != "main" || !p.At.Equal(first.Scan.At) {
			t.Errorf("the refusal names the earlier entry %+v, want the admit at main", p)
		}
		if res := redeem(t, s, gate.Redeem{Secret: qrs["o1-t0"]}); res.OK || res.Reason != gate.ReasonAlreadyRedeemed {
			t.Errorf("a scan after the admit got %+v, want already_redeemed", res)
		}
		flagged, err := s.Flagged(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		if len(flagged) != 1 || flagged[0].Flag != gate.FlagAdmitted || flagged[0].PassID != "o1-t0" {
			t.Errorf("flagged %+v, want the one admit", flagged)
		}
		c, err := s.Counts(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		if c.Inside != 1 || c.Flagged != 1 || c.ByGate["main"].Entries != 1 {
			t.Errorf("counts %+v, want 1 inside, 1 flagged, 1 entry at main", c)
		}
	})
}

func TestAdmitNonceAndBadInput(t *testing.T) {
	s := openService(t, store.Config{Dir: t.TempDir()})
	ctx := context.Background()
	issue(t, s, "o1", "ga", 1)
	first := admit(t, s, gate.Admit{PassID: "o1-t0", Nonce: "n1"})
	again := admit(t, s, gate.Admit{PassID: "o1-t0", Nonce: "n1"})
	if !first.OK || !reflect.DeepEqual(first, again) {
		t.Errorf("retry got %+v, want the first answer %+v", again, first)
	}
	for _, tc := range []struct {
		a     gate.Admit
		field string
	}{
		{gate.Admit{PassID: "o1-t0", GateID: "main", Direction: "entry"}, "override"},
		{gate.Admit{PassID: "o1-t0", GateID: "main", Direction: "entry", Override: "   "}, "override"},
		{gate.Admit{GateID: "main", Direction: "entry", Override: "lost phone"}, "pass_id"},
		{gate.Admit{PassID: "o1-t0", GateID: "nope", Direction: "entry", Override: "lost phone"}, "gate_id"},
		{gate.Admit{PassID: "o1-t0", GateID: "main", Direction: "in", Override: "lost phone"}, "direction"},
	} {
		tc.a.EventID = "ev1"
		_, err := s.Admit(ctx, tc.a)
		var fe *invalid.Fields
		if !errors.As(err, &fe) || len(fe.List) != 1 || fe.List[0].Name != tc.field {
			t.Errorf("Admit(%+v): got %v, want an error naming %s", tc.a, err, tc.field)
		}
	}
	c, err := s.Counts(ctx, "ev1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Scans != 1 || c.Inside != 1 {
		t.Errorf("counts %+v, want the one admit recorded once", c)
	}
}
