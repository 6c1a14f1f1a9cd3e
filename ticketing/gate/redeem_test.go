package gate_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

func TestRedeemReasons(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		s := openService(t, base)
		ga := issue(t, s, "o1", "ga", 6)
		vip := issue(t, s, "o2", "vip", 1)
		refusals(t, s)
		unissued, err := s.SignPass(ctx, gate.Pass{Kind: gate.KindTicket, EventID: "ev1", PassID: "never", AreaID: "ga"})
		if err != nil {
			t.Fatal(err)
		}
		expired, err := s.SignPass(ctx, gate.Pass{Kind: gate.KindStaff, EventID: "ev1", PassID: "staff1", AreaID: "ga", NotBefore: t0.Add(-3 * time.Hour), NotAfter: t0.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AssignStaff(ctx, "ev1", "staff1", "ga", t0.Add(-3*time.Hour), t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			req    gate.Redeem
			ok     bool
			reason string
		}{
			{"valid", gate.Redeem{Secret: ga["o1-t0"]}, true, ""},
			{"replayed", gate.Redeem{Secret: ga["o1-t0"]}, false, gate.ReasonAlreadyRedeemed},
			{"refunded", gate.Redeem{Secret: ga["o1-t1"]}, false, gate.ReasonRevoked},
			{"canceled", gate.Redeem{Secret: ga["o1-t2"]}, false, gate.ReasonCanceled},
			{"blocked", gate.Redeem{Secret: ga["o1-t3"]}, false, gate.ReasonBlocked},
			{"not issued", gate.Redeem{Secret: unissued}, false, gate.ReasonUnpaid},
			{"vip at a ga gate", gate.Redeem{Secret: vip["o2-t0"], GateID: "north"}, false, gate.ReasonWrongArea},
			{"too early", gate.Redeem{Secret: ga["o1-t4"], At: t0.Add(-48 * time.Hour)}, false, gate.ReasonOutsideWindow},
			{"staff after work", gate.Redeem{Secret: expired}, false, gate.ReasonOutsideWindow},
			{"forged", gate.Redeem{Secret: ga["o1-t5"][:20] + "A" + ga["o1-t5"][21:]}, false, gate.ReasonInvalid},
			{"truncated", gate.Redeem{Secret: ga["o1-t5"][:40]}, false, gate.ReasonInvalid},
			{"vip at main", gate.Redeem{Secret: vip["o2-t0"]}, true, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := redeem(t, s, tc.req)
				if res.OK != tc.ok || res.Reason != tc.reason {
					t.Errorf("got ok=%v reason=%q, want ok=%v reason=%q", res.OK, res.Reason, tc.ok, tc.reason)
				}
			})
		}
		c, err := s.Counts(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		if c.Inside != 2 || c.InsideByArea["ga"] != 1 || c.InsideByArea["vip"] != 1 || c.ByGate["main"].Entries != 2 {
			t.Errorf("counts %+v, want 2 inside, one per area, 2 entries at main", c)
		}
	})
}

func TestRedeemBadInput(t *testing.T) {
	s := openService(t, store.Config{Dir: t.TempDir()})
	ctx := context.Background()
	if err := s.PutGate(ctx, gate.Gate{EventID: "ev1", GateID: "out", Name: "Out", Areas: []string{"ga"}, Direction: gate.DirectionExit}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		req   gate.Redeem
		field string
	}{
		{gate.Redeem{GateID: "main", Direction: "entry"}, "secret"},
		{gate.Redeem{Secret: "x", Direction: "entry"}, "gate_id"},
		{gate.Redeem{Secret: "x", GateID: "nope", Direction: "entry"}, "gate_id"},
		{gate.Redeem{Secret: "x", GateID: "main", Direction: "in"}, "direction"},
		{gate.Redeem{Secret: "x", GateID: "out", Direction: "entry"}, "direction"},
		{gate.Redeem{Secret: "x", GateID: "main", Direction: "entry", Nonce: string(make([]byte, 101))}, "nonce"},
	} {
		tc.req.EventID = "ev1"
		_, err := s.Redeem(ctx, tc.req)
		var fe *invalid.Fields
		if !errors.As(err, &fe) || len(fe.List) != 1 || fe.List[0].Name != tc.field {
			t.Errorf("Redeem(%+v): got %v, want an error naming %s", tc.req, err, tc.field)
		}
	}
	if _, err := s.Redeem(ctx, gate.Redeem{EventID: "nope", Secret: "x", GateID: "main", Direction: "entry"}); !errors.Is(err, gate.ErrNotFound) {
		t.Errorf("unknown event: got %v, want ErrNotFound", err)
	}
}

func TestRedeemNonceReturnsTheFirstAnswer(t *testing.T) {
	s := openService(t, store.Config{Dir: t.TempDir()})
	qr := issue(t, s, "o1", "ga", 1)["o1-t0"]
	first := redeem(t, s, gate.Redeem{Secret: qr, Nonce: "n1"})
	again := redeem(t, s, gate.Redeem{Secret: qr, Nonce: "n1"})
	if !first.OK || !reflect.DeepEqual(first, again) {
		t.Errorf("retry got %+v, want the first answer %+v", again, first)
	}
	other := redeem(t, s, gate.Redeem{Secret: qr, Nonce: "n2"})
	if other.OK || other.Reason != gate.ReasonAlreadyRedeemed {
		t.Errorf("another nonce got %+v, want already_redeemed", other)
	}
	// The refusal says where and when the pass entered.
	if p := other.Scan.Previous; p == nil || p.GateID != "main" || !p.At.Equal(first.Scan.At) {
		t.Errorf("the refusal names the earlier entry %+v, want gate main at %v", p, first.Scan.At)
	}
	c, err := s.Counts(context.Background(), "ev1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Scans != 2 || c.Inside != 1 {
		t.Errorf("counts %+v, want 2 scans recorded and 1 inside", c)
	}
}

func TestReentryRules(t *testing.T) {
	for _, tc := range []struct {
		name            string
		multiple, after bool
		want            []bool // entry, entry, exit, entry
	}{
		{"no re-entry", false, false, []bool{true, false, true, false}},
		{"entry after exit", false, true, []bool{true, false, true, true}},
		{"multiple entries", true, false, []bool{true, true, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openService(t, store.Config{Dir: t.TempDir()})
			ctx := context.Background()
			if err := s.PutList(ctx, gate.List{EventID: "ev1", ListID: "general", Name: "General", Areas: []string{"ga", "vip"}, MultipleEntries: tc.multiple, EntryAfterExit: tc.after}); err != nil {
				t.Fatal(err)
			}
			qr := issue(t, s, "o1", "ga", 1)["o1-t0"]
			var got []bool
			for i, dir := range []string{"entry", "entry", "exit", "entry"} {
				got = append(got, redeem(t, s, gate.Redeem{Secret: qr, Direction: dir, At: t0.Add(time.Duration(i+1) * time.Minute)}).OK)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			c, err := s.Counts(ctx, "ev1")
			if err != nil {
				t.Fatal(err)
			}
			wantInside := 0
			if tc.want[3] {
				wantInside = 1
			}
			if c.Inside != wantInside {
				t.Errorf("inside %d, want %d", c.Inside, wantInside)
			}
		})
	}
}

// Two lists cover one area: a person scanned on both is counted once.
func TestTwoListsOneAreaCountOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		s := openService(t, base)
		ctx := context.Background()
		for _, l := range []gate.List{
			{EventID: "ev1", ListID: "day", Name: "Day", Areas: []string{"ga"}, MultipleEntries: true},
			{EventID: "ev1", ListID: "press", Name: "Press", Areas: []string{"ga", "vip"}, MultipleEntries: true},
		} {
			if err := s.PutList(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		qrs := issue(t, s, "o1", "ga", 3)
		for i, list := range []string{"day", "press", "day", "press"} {
			res := redeem(t, s, gate.Redeem{Secret: qrs[fmt.Sprintf("o1-t%d", i%2)], ListID: list})
			if !res.OK {
				t.Fatalf("scan %d on %s: %+v", i, list, res)
			}
		}
		c, err := s.Counts(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		if c.Inside != 2 || c.InsideByArea["ga"] != 2 || c.ByGate["main"].Entries != 2 || c.Scans != 4 {
			t.Errorf("counts %+v, want 2 inside ga, 2 entries, 4 scans", c)
		}
	})
}

func TestRebuildGivesTheSameAccessList(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		s := openService(t, base)
		ctx := context.Background()
		qrs := issue(t, s, "o1", "ga", 4)
		redeem(t, s, gate.Redeem{Secret: qrs["o1-t0"]})
		redeem(t, s, gate.Redeem{Secret: qrs["o1-t0"]})
		redeem(t, s, gate.Redeem{Secret: qrs["o1-t1"], Force: true})
		redeem(t, s, gate.Redeem{Secret: qrs["o1-t1"], Force: true, At: t0.Add(2 * time.Minute)})
		if err := s.RevokeTickets(ctx, messages.TicketsRevoked{OrderID: "o1", EventID: "ev1", TicketIDs: []string{"o1-t2"}, Reason: "refund"}); err != nil {
			t.Fatal(err)
		}
		project(t, s)
		before, err := s.Counts(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		bundle, err := s.Bundle(ctx, "ev1", true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		after, err := s.Counts(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		rebuilt, err := s.Bundle(ctx, "ev1", true)
		if err != nil {
			t.Fatal(err)
		}
		recount, err := s.Recount(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, after) || !reflect.DeepEqual(before, recount) {
			t.Errorf("counts before %+v, after rebuild %+v, recount %+v: want all equal", before, after, recount)
		}
		if !reflect.DeepEqual(bundle, rebuilt) {
			t.Errorf("bundle before %+v, after rebuild %+v", bundle, rebuilt)
		}
		if before.Inside != 2 || before.Flagged != 1 || before.Refused != 1 {
			t.Errorf("counts %+v, want 2 inside, 1 flagged, 1 refused", before)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	s := openService(t, store.Config{Dir: t.TempDir()})
	ctx := context.Background()
	old := issue(t, s, "o1", "ga", 1)["o1-t0"]
	k2, err := s.RotateKey(ctx, "ev1")
	if err != nil {
		t.Fatal(err)
	}
	fresh := issue(t, s, "o2", "ga", 1)["o2-t0"]
	if p, _, _, err := gate.ParsePass(fresh); err != nil || p.KeyID != k2.KeyID {
		t.Fatalf("new pass key %v %v, want %d", p.KeyID, err, k2.KeyID)
	}
	if res := redeem(t, s, gate.Redeem{Secret: old}); !res.OK {
		t.Errorf("a pass of the old key before retirement: %+v", res)
	}
	if err := s.RetireKey(ctx, "ev1", k2.KeyID); err == nil {
		t.Error("retired the active key")
	}
	if err := s.RetireKey(ctx, "ev1", 1); err != nil {
		t.Fatal(err)
	}
	if res := redeem(t, s, gate.Redeem{Secret: old, Direction: "exit"}); res.OK || res.Reason != gate.ReasonInvalid {
		t.Errorf("a pass of a retired key: %+v, want invalid", res)
	}
	if res := redeem(t, s, gate.Redeem{Secret: fresh}); !res.OK {
		t.Errorf("a pass of the new key: %+v", res)
	}
}

// RebuildEvent restores one event's access list from its streams and
// leaves the others alone.
func TestRebuildEvent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		s := openService(t, base)
		if _, err := s.CreateServer(ctx, messages.CreateACLServer{EventID: "ev2", Areas: []messages.Area{{AreaID: "ga"}}}); err != nil {
			t.Fatal(err)
		}
		qrs := issue(t, s, "o1", "ga", 3)
		redeem(t, s, gate.Redeem{Secret: qrs["o1-t0"]})
		redeem(t, s, gate.Redeem{Secret: qrs["o1-t1"], Force: true})
		redeem(t, s, gate.Redeem{Secret: qrs["o1-t1"], Force: true})
		other, err := s.IssueTickets(ctx, messages.TicketsIssued{OrderID: "o9", EventID: "ev2", Tickets: []messages.Ticket{{TicketID: "x1", AreaID: "ga"}}})
		if err != nil {
			t.Fatal(err)
		}
		redeem(t, s, gate.Redeem{EventID: "ev2", Secret: other.Passes[0].QR})
		want, err := s.Counts(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		wantOther, err := s.Counts(ctx, "ev2")
		if err != nil {
			t.Fatal(err)
		}
		base.Component = "gate"
		db, err := store.Open(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range []string{`UPDATE gate_passes SET inside = 0`, `DELETE FROM gate_scans WHERE event_id = 'ev1'`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if broken, _ := s.Counts(ctx, "ev1"); reflect.DeepEqual(broken, want) {
			t.Fatal("the damaged access list still gives the same counts; the test proves nothing")
		}
		n, err := s.RebuildEvent(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		if n != 3+3 {
			t.Errorf("replayed %d events, want 6 (3 issued, 3 scans)", n)
		}
		got, err := s.Counts(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("counts after RebuildEvent %+v, want %+v", got, want)
		}
		gotOther, err := s.Counts(ctx, "ev2")
		if err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(gotOther, wantOther) {
			t.Errorf("ev2 was damaged in the test but RebuildEvent(ev1) changed it: %+v", gotOther)
		}
		if gotOther.Inside != 0 {
			t.Errorf("ev2 inside %d, want the damage (0) left alone", gotOther.Inside)
		}
	})
}

// A key rotated by one process verifies at once in another sharing the
// store.
func TestRotationSeenByAnotherProcess(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		a := openService(t, base)
		base.Component = "gate"
		db, err := store.Open(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		b, err := gate.Open(ctx, gate.Config{DB: db, Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		first := issue(t, a, "o1", "ga", 1)["o1-t0"]
		if res := redeem(t, b, gate.Redeem{Secret: first}); !res.OK {
			t.Fatalf("before rotation: %+v", res)
		}
		if _, err := a.RotateKey(ctx, "ev1"); err != nil {
			t.Fatal(err)
		}
		fresh := issue(t, a, "o2", "ga", 1)["o2-t0"]
		if res := redeem(t, b, gate.Redeem{Secret: fresh}); !res.OK {
			t.Errorf("a pass of the key rotated elsewhere: %+v", res)
		}
	})
}
