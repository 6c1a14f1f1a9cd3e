package gate_test

import (
	"context"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/ticketing/gate"
)

// Check-ins by day count the entries that let someone in, on the day of
// the zone given, and nothing refused or outside the period.
func TestCheckinsByDay(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		s := openService(t, base)
		passes := issue(t, s, "o1", "ga", 3)
		project(t, s)
		// In UTC+5, 18:01 UTC is 23:01 on 1 March and 20:00 UTC is 01:00
		// on 2 March.
		zone := time.FixedZone("UTC+5", 5*3600)
		if res := redeem(t, s, gate.Redeem{Secret: passes["o1-t0"]}); !res.OK {
			t.Fatalf("first entry refused: %+v", res)
		}
		if res := redeem(t, s, gate.Redeem{Secret: passes["o1-t1"], At: t0.Add(2 * time.Hour)}); !res.OK {
			t.Fatalf("second entry refused: %+v", res)
		}
		if res := redeem(t, s, gate.Redeem{Secret: passes["o1-t0"], At: t0.Add(3 * time.Minute)}); res.OK {
			t.Fatalf("a second entry of the same pass was let in: %+v", res)
		}
		got, err := s.CheckinsByDay(ctx, t0.Add(-24*time.Hour), t0.Add(24*time.Hour), zone)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"2026-03-02": 1, "2026-03-01": 1}
		if len(got) != len(want) || got["2026-03-02"] != 1 || got["2026-03-01"] != 1 {
			t.Errorf("check-ins %v, want %v", got, want)
		}
		if got, _ := s.CheckinsByDay(ctx, t0.Add(time.Hour), t0.Add(24*time.Hour), zone); len(got) != 1 || got["2026-03-02"] != 1 {
			t.Errorf("from 19:00 UTC: check-ins %v, want the 20:00 entry alone", got)
		}
	})
}
