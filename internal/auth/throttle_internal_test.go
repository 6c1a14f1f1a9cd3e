package auth

import (
	"testing"
	"time"
)

func TestThrottleStateMachine(t *testing.T) {
	c := ThrottleConfig{}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	var st throttleState
	const limit = 5

	// fails runs n admitted attempts that fail, a second apart.
	fails := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if r := c.admit(&st, limit, now); r != 0 {
				t.Fatalf("attempt %d at +%v refused for %v", i+1, now.Sub(t0), r)
			}
			c.fail(&st, limit, now)
			now = now.Add(time.Second)
		}
	}

	fails(5)
	if r := c.admit(&st, limit, now); r <= 0 || r > time.Minute {
		t.Fatalf("after 5 failures: retry %v, want up to 1m", r)
	}
	now = st.lockedUntil
	fails(5) // the second lockout doubles
	if got := st.lockedUntil.Sub(now.Add(-time.Second)); got != 2*time.Minute {
		t.Errorf("second lockout %v, want 2m", got)
	}
	for i := 0; i < 10; i++ {
		now = st.lockedUntil
		fails(5)
	}
	if got := st.lockedUntil.Sub(now.Add(-time.Second)); got != time.Hour {
		t.Errorf("lockout after many: %v, want the 1h cap", got)
	}

	// Failures spread wider than the window never lock.
	st, now = throttleState{}, t0
	for i := 0; i < 20; i++ {
		fails(4)
		now = now.Add(c.Window)
	}
	if st.lockouts != 0 {
		t.Errorf("4 failures per window: %d lockouts, want 0", st.lockouts)
	}

	// A day without attempts forgets earlier lockouts.
	st, now = throttleState{}, t0
	fails(5)
	now = st.lockedUntil
	fails(5)
	now = now.Add(c.Forget)
	fails(5)
	if st.lockouts != 1 {
		t.Errorf("after Forget: lockouts %d, want 1", st.lockouts)
	}

	// In-flight attempts count: a sixth attempt while five are being
	// checked is refused briefly, and a stuck one is taken as failed.
	st, now = throttleState{}, t0
	for i := 0; i < 5; i++ {
		if r := c.admit(&st, limit, now); r != 0 {
			t.Fatalf("in-flight attempt %d refused", i+1)
		}
	}
	if r := c.admit(&st, limit, now); r != time.Second {
		t.Errorf("sixth concurrent attempt: retry %v, want 1s", r)
	}
	now = now.Add(inFlight)
	if r := c.admit(&st, limit, now); r != time.Minute || st.lockouts != 1 {
		t.Errorf("after unfinished attempts: retry %v lockouts %d, want 1m and 1", r, st.lockouts)
	}

	// Releasing (success or abort) takes an attempt back.
	st, now = throttleState{}, t0
	fails(4)
	c.admit(&st, limit, now)
	c.release(&st)
	if st.failures != 4 {
		t.Errorf("after release: %d failures, want 4", st.failures)
	}
}

func TestIPSubject(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"192.0.2.7", "192.0.2.7"},
		{" 192.0.2.7 ", "192.0.2.7"},
		{"192.0.2.7:51234", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2::1]:443", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "#f8121aab13d54c46a7450875d829bad1"}, // hashed: storable whatever it holds
	}
	for _, tt := range tests {
		if got := ipSubject(tt.in); got != tt.want {
			t.Errorf("ipSubject(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
