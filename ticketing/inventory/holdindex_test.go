package inventory

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// The index gives what a scan of every hold gives, through holds added,
// ended and expiring, and questions about earlier moments.
func TestHoldIndexMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := newArea()
	base := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
	now := base
	scan := func(at time.Time) int {
		n := 0
		for _, h := range a.Holds {
			if h.ExpiresAt.After(at) {
				n += h.Quantity
			}
		}
		return n
	}
	for step := range 20000 {
		order := fmt.Sprintf("o%d", rng.IntN(300))
		switch rng.IntN(10) {
		case 0, 1, 2, 3:
			a.setHold(order, hold{Quantity: 1 + rng.IntN(4), ExpiresAt: now.Add(time.Duration(rng.IntN(60)) * time.Second)})
		case 4, 5:
			a.endHold(order)
		case 6, 7:
			now = now.Add(time.Duration(rng.IntN(3)) * time.Second)
		case 8:
			now = now.Add(-time.Duration(rng.IntN(5)) * time.Second) // another process's clock
		}
		if got, want := a.held(now), scan(now); got != want {
			t.Fatalf("step %d: held %d, want %d", step, got, want)
		}
	}
}
