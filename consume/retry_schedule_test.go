package consume

import (
	"testing"
	"time"
)

// The waits between attempts grow from InitialBackoff by Multiplier up to
// MaxBackoff, spread by ±Jitter.
func TestBackoffSchedule(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name     string
		jitter   float64
		min, max []time.Duration // after attempts 1, 2, ...
	}{
		{"exact", 0, []time.Duration{10 * ms, 20 * ms, 40 * ms, 50 * ms, 50 * ms}, []time.Duration{10 * ms, 20 * ms, 40 * ms, 50 * ms, 50 * ms}},
		{"jittered", 0.5, []time.Duration{5 * ms, 10 * ms, 20 * ms, 25 * ms, 25 * ms}, []time.Duration{15 * ms, 30 * ms, 60 * ms, 75 * ms, 75 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := RetryConfig{MaxAttempts: 6, InitialBackoff: 10 * ms, MaxBackoff: 50 * ms, Jitter: tc.jitter, NoJitter: tc.jitter == 0}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			for i := range tc.min {
				for range 200 {
					if got := cfg.backoff(i + 1); got < tc.min[i] || got > tc.max[i] {
						t.Fatalf("backoff after attempt %d: got %s, want %s to %s", i+1, got, tc.min[i], tc.max[i])
					}
				}
			}
		})
	}
}
