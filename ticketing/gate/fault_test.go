package gate_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

// device is a scanner cut off from the server: it decides from its bundle
// alone and queues what it let through.
type device struct {
	id, gate string
	keys     map[uint16]ed25519.PublicKey
	refused  map[string]bool
	seen     map[string]bool
	queue    []gate.Redeem
	position int64
}

func newDevice(t *testing.T, id, gateID string, b gate.Bundle) *device {
	t.Helper()
	d := &device{id: id, gate: gateID, keys: map[uint16]ed25519.PublicKey{}, refused: map[string]bool{}, seen: map[string]bool{}, position: b.Position}
	for _, k := range b.Keys {
		pub, err := base64.RawURLEncoding.DecodeString(k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		d.keys[k.KeyID] = pub
	}
	for _, id := range append(b.Revoked, b.Blocked...) {
		d.refused[id] = true
	}
	return d
}

// scan is what the device does at the gate: true when it lets through.
func (d *device) scan(qr string, at time.Time) bool {
	p, err := gate.Verify(qr, "ev1", d.keys)
	if err != nil || !p.Within(at) || d.refused[p.PassID] || d.seen[p.PassID] {
		return false
	}
	d.seen[p.PassID] = true
	d.queue = append(d.queue, gate.Redeem{Secret: qr, GateID: d.gate, Direction: gate.DirectionEntry, At: at, Nonce: fmt.Sprintf("%s-%d", d.id, len(d.queue))})
	return true
}

// Two devices scan overlapping tickets while cut off; a ticket is refunded
// during the cut. After reconnection every scan is recorded once, the
// conflicts and the refunded ticket are flagged, and the counts equal a
// recount from the log.
func TestOfflineDevicesMergeExactly(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		s := openService(t, base)
		for _, g := range []string{"north", "south"} {
			if err := s.PutGate(ctx, gate.Gate{EventID: "ev1", GateID: g, Name: g, Areas: []string{"ga", "vip"}, Direction: gate.DirectionBoth}); err != nil {
				t.Fatal(err)
			}
		}
		qrs := issue(t, s, "o1", "ga", 10)
		qr := func(i int) string { return qrs[fmt.Sprintf("o1-t%d", i)] }
		b, err := s.Bundle(ctx, "ev1", false)
		if err != nil {
			t.Fatal(err)
		}
		d1, d2 := newDevice(t, "d1", "north", b), newDevice(t, "d2", "south", b)

		// The cut: d1 admits tickets 0-5, d2 tickets 3-8; ticket 7 is
		// refunded meanwhile; ticket 9 enters online at the main gate.
		at := t0.Add(10 * time.Minute)
		for i := 0; i <= 5; i++ {
			if !d1.scan(qr(i), at.Add(time.Duration(i)*time.Second)) {
				t.Fatalf("d1 refused ticket %d", i)
			}
		}
		if err := s.RevokeTickets(ctx, messages.TicketsRevoked{OrderID: "o1", EventID: "ev1", TicketIDs: []string{"o1-t7"}, Reason: "refund", At: at}); err != nil {
			t.Fatal(err)
		}
		for i := 3; i <= 8; i++ {
			if !d2.scan(qr(i), at.Add(time.Duration(i)*time.Second+500*time.Millisecond)) {
				t.Fatalf("d2 refused ticket %d", i)
			}
		}
		if res := redeem(t, s, gate.Redeem{Secret: qr(9), At: at}); !res.OK {
			t.Fatalf("online scan: %+v", res)
		}

		// Reconnection: d2 uploads first, then d1; d1 repeats its upload
		// as after a lost answer.
		for _, up := range []*device{d2, d1, d1} {
			res, err := s.Upload(ctx, "ev1", up.id, up.queue)
			if err != nil {
				t.Fatalf("upload of %s: %v", up.id, err)
			}
			for i, r := range res {
				if !r.OK {
					t.Errorf("upload of %s, scan %d refused: %+v", up.id, i, r)
				}
			}
		}
		changes, _, err := s.Changes(ctx, "ev1", d2.position, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 1 || changes[0].PassID != "o1-t7" || changes[0].Status != gate.StatusRevoked {
			t.Errorf("changes since the bundle: %+v, want ticket 7 revoked", changes)
		}

		c, err := s.Counts(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		want := gate.Counts{Inside: 10, InsideByArea: map[string]int{"ga": 10},
			ByGate: map[string]gate.GateCount{"north": {Entries: 3}, "south": {Entries: 6}, "main": {Entries: 1}},
			Scans:  6 + 6 + 1, Flagged: 3 + 1}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("counts %+v, want %+v", c, want)
		}
		recount, err := s.Recount(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, recount) {
			t.Errorf("counts %+v, recount from the log %+v", c, recount)
		}
		flags, err := s.Flagged(ctx, "ev1")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range flags {
			got[f.PassID] = f.Flag
			if f.Flag == gate.ReasonAlreadyRedeemed && (f.Previous == nil || f.Previous.GateID != "south" || f.GateID != "north") {
				t.Errorf("duplicate %s: %+v, want north's scan naming south's earlier entry", f.PassID, f)
			}
		}
		wantFlags := map[string]string{"o1-t3": gate.ReasonAlreadyRedeemed, "o1-t4": gate.ReasonAlreadyRedeemed, "o1-t5": gate.ReasonAlreadyRedeemed, "o1-t7": gate.ReasonRevoked}
		if !reflect.DeepEqual(got, wantFlags) {
			t.Errorf("flagged %v, want %v", got, wantFlags)
		}
		if _, err := s.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if again, err := s.Counts(ctx, "ev1"); err != nil || !reflect.DeepEqual(again, c) {
			t.Errorf("counts after rebuild %+v (%v), want %+v", again, err, c)
		}
	})
}

func TestDeviceEnrolment(t *testing.T) {
	ctx := context.Background()
	now := t0
	base := store.Config{Dir: t.TempDir(), Component: "gate"}
	db, err := store.Open(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := gate.Open(ctx, gate.Config{DB: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateServer(ctx, messages.CreateACLServer{EventID: "ev1", Areas: []messages.Area{{AreaID: "ga"}}}); err != nil {
		t.Fatal(err)
	}
	code, _, err := s.CreateEnrolment(ctx, gate.Enrolment{EventID: "ev1", GateID: "main", Role: gate.RoleSteward, Name: "Lane 1"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Enrol(ctx, code)
	if err != nil || d.EventID != "ev1" || d.Role != gate.RoleSteward || d.GateID != "main" {
		t.Fatalf("enrol: %+v %v", d, err)
	}
	if _, err := s.Enrol(ctx, code); err != gate.ErrBadCode {
		t.Errorf("second use: %v, want ErrBadCode", err)
	}
	late, _, err := s.CreateEnrolment(ctx, gate.Enrolment{EventID: "ev1", GateID: "main", Role: gate.RoleSupervisor, Name: "Sup", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := s.Enrol(ctx, late); err != gate.ErrBadCode {
		t.Errorf("expired code: %v, want ErrBadCode", err)
	}
	if err := s.SetDeviceKey(ctx, d.DeviceID, "key1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DeviceByKey(ctx, "key1"); err != nil || got.DeviceID != d.DeviceID {
		t.Errorf("by key: %+v %v", got, err)
	}
	if got, err := s.RevokeDevice(ctx, d.DeviceID); err != nil || !got.Revoked {
		t.Errorf("revoke: %+v %v", got, err)
	}
	for _, e := range []gate.Enrolment{
		{EventID: "ev1", GateID: "nope", Role: gate.RoleSteward, Name: "x"},
		{EventID: "ev1", GateID: "main", Role: "boss", Name: "x"},
		{EventID: "ev1", GateID: "main", Role: gate.RoleSteward, Name: ""},
	} {
		if _, _, err := s.CreateEnrolment(ctx, e); err == nil {
			t.Errorf("enrolment %+v accepted", e)
		}
	}
}
