package gate_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
)

// Scans arriving together commit in groups, yet each gets the answer it
// would get alone: of many concurrent scans of one ticket, in two
// processes sharing the store, exactly one lets it in; retries of a nonce
// get its first answer; the counts match a recount from the log.
func TestGroupedScansAnswerExactly(t *testing.T) {
	storetest.Run(t, groupedScans)
}

func groupedScans(t *testing.T, base store.Config) {
	a := openService(t, base)
	base.Component, base.MaxOpenConns = "gate", 20
	db, err := store.Open(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := gate.Open(context.Background(), gate.Config{DB: db, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	const tickets, scansEach = 30, 6
	qrs := issue(t, a, "o1", "ga", tickets)
	type answer struct {
		pass string
		res  gate.Result
	}
	answers := make(chan answer, tickets*scansEach)
	var wg sync.WaitGroup
	for id, qr := range qrs {
		for i := range scansEach {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				// Scans 0 and 1 of each ticket share a nonce: a retry.
				nonce := fmt.Sprintf("%s-%d", id, i)
				if i == 1 {
					nonce = id + "-0"
				}
				res, err := s.Redeem(context.Background(), gate.Redeem{EventID: "ev1", Secret: qr, GateID: "main",
					Direction: gate.DirectionEntry, At: t0.Add(time.Minute), Nonce: nonce})
				if err != nil {
					t.Errorf("redeem %s: %v", id, err)
				}
				answers <- answer{id, res}
			}()
		}
	}
	wg.Wait()
	close(answers)
	ok := map[string]int{}
	for an := range answers {
		switch {
		case an.res.OK:
			ok[an.pass]++
		case an.res.Reason != gate.ReasonAlreadyRedeemed:
			t.Errorf("ticket %s: %+v, want ok or already redeemed", an.pass, an.res)
		}
	}
	for id := range qrs {
		// The retry of the winning nonce answers ok too: one or two oks,
		// one entry.
		if ok[id] < 1 || ok[id] > 2 {
			t.Errorf("ticket %s let in %d times", id, ok[id])
		}
	}
	project(t, a)
	c, err := a.Counts(context.Background(), "ev1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Inside != tickets {
		t.Errorf("inside %d, want %d", c.Inside, tickets)
	}
	re, err := a.Recount(context.Background(), "ev1")
	if err != nil {
		t.Fatal(err)
	}
	if re.Inside != c.Inside || re.ByGate["main"] != c.ByGate["main"] {
		t.Errorf("recount %+v, counts %+v", re, c)
	}
}
