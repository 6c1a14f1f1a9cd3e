package gate_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/secret"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

func newBox(t *testing.T) *secret.Box {
	t.Helper()
	key := make([]byte, secret.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	b, err := secret.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storedSeeds returns the seed column of every key and whether it is sealed.
func storedSeeds(t *testing.T, db *store.DB) map[string]bool {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT seed, sealed FROM gate_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var seed string
		var sealed int
		if err := rows.Scan(&seed, &sealed); err != nil {
			t.Fatal(err)
		}
		out[seed] = sealed == 1
	}
	return out
}

// Seeds stored in the clear before a secret key was configured are sealed
// when the service opens with one; passes signed before still verify; the
// seeds open with that key only.
func TestSigningKeySeedsAreSealed(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	open := func(sealer gate.Sealer) *gate.Service {
		t.Helper()
		cfg := gate.Config{DB: db, Now: func() time.Time { return t0 }}
		if sealer != nil {
			cfg.Secrets = sealer
		}
		s, err := gate.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s
	}
	plain := open(nil)
	if _, err := plain.CreateServer(ctx, messages.CreateACLServer{EventID: "ev1", Areas: []messages.Area{{AreaID: "ga"}, {AreaID: "vip"}},
		Starts: t0, Ends: t0.Add(5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	qrs := issue(t, plain, "o1", "ga", 1)
	for seed, sealed := range storedSeeds(t, db) {
		if sealed {
			t.Fatalf("without a secret key the seed %q is marked sealed", seed)
		}
		if _, err := hex.DecodeString(seed); err != nil {
			t.Fatalf("a clear seed is not hex: %q", seed)
		}
	}

	box := newBox(t)
	sealed := open(box)
	seeds := storedSeeds(t, db)
	for seed, ok := range seeds {
		if !ok {
			t.Errorf("seed %q was not sealed at open", seed)
		}
		if _, err := hex.DecodeString(seed); err == nil {
			t.Errorf("a sealed seed is still hex: %q", seed)
		}
	}
	if _, err := sealed.RotateKey(ctx, "ev1"); err != nil {
		t.Fatal(err)
	}
	if n := len(storedSeeds(t, db)); n != 2 {
		t.Fatalf("%d keys stored, want 2", n)
	}
	for seed, ok := range storedSeeds(t, db) {
		if !ok || strings.Count(seed, ":") == 0 {
			t.Errorf("a key made with a secret key is stored as %q (sealed %v)", seed, ok)
		}
	}
	if res := redeem(t, sealed, gate.Redeem{Secret: qrs["o1-t0"]}); !res.OK {
		t.Errorf("a pass signed before sealing: %+v", res)
	}
	if _, err := sealed.IssueTickets(ctx, messages.TicketsIssued{OrderID: "o2", EventID: "ev1", Tickets: []messages.Ticket{{TicketID: "o2-t0", AreaID: "ga"}}}); err != nil {
		t.Fatalf("sign with a sealed key: %v", err)
	}

	// Another secret key, or none, cannot open the seeds.
	for name, s := range map[string]*gate.Service{"another key": open(newBox(t)), "no key": open(nil)} {
		_, err := s.IssueTickets(ctx, messages.TicketsIssued{OrderID: "o3", EventID: "ev1", Tickets: []messages.Ticket{{TicketID: "o3-t0", AreaID: "ga"}}})
		if err == nil {
			t.Errorf("%s signed a pass with sealed seeds", name)
		}
	}
}

// Nonce answers older than the retention are pruned; younger ones stay and
// still answer a retry.
func TestNonceAnswersArePruned(t *testing.T) {
	ctx := context.Background()
	now := t0
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := gate.Open(ctx, gate.Config{DB: db, Now: func() time.Time { return now }, NonceRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateServer(ctx, messages.CreateACLServer{EventID: "ev1", Areas: []messages.Area{{AreaID: "ga"}}, Starts: t0, Ends: t0.Add(5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	qrs := issue(t, s, "o1", "ga", 2)
	if res := redeem(t, s, gate.Redeem{Secret: qrs["o1-t0"], Nonce: "old"}); !res.OK {
		t.Fatalf("first scan: %+v", res)
	}
	now = t0.Add(50 * time.Minute)
	if res := redeem(t, s, gate.Redeem{Secret: qrs["o1-t1"], Nonce: "young", At: now}); !res.OK {
		t.Fatalf("second scan: %+v", res)
	}
	now = t0.Add(61 * time.Minute)
	n, err := s.PruneNonces(ctx)
	if err != nil || n != 1 {
		t.Fatalf("prune: %d %v, want 1 answer pruned", n, err)
	}
	if res := redeem(t, s, gate.Redeem{Secret: qrs["o1-t1"], Nonce: "young", At: now}); !res.OK {
		t.Errorf("a retry within the retention: %+v, want the first answer (ok)", res)
	}
	if res := redeem(t, s, gate.Redeem{Secret: qrs["o1-t0"], Nonce: "old", At: now}); res.OK || res.Reason != gate.ReasonAlreadyRedeemed {
		t.Errorf("a retry past the retention: %+v, want it decided again (already redeemed)", res)
	}
	var left int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM gate_nonces`).Scan(&left); err != nil || left != 2 {
		t.Errorf("%d answers kept (%v), want 2 (young, and old answered again)", left, err)
	}
	if _, err := gate.Open(ctx, gate.Config{DB: db, NonceRetention: -time.Second}); err == nil {
		t.Error("a negative retention was accepted")
	}
}
