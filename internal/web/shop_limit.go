package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// postLimits bounds the storefront's POSTs per client address: a token
// bucket per address refilled at perMinute a minute, with a burst of a
// third of it. Buckets idle for ten minutes are dropped, and at most
// maxAddrs are kept (a flood of addresses resets the table rather than
// grow it without bound).
type postLimits struct {
	mu        sync.Mutex
	perMinute int
	buckets   map[string]*addrLimit
	swept     time.Time
}

type addrLimit struct {
	lim  *rate.Limiter
	seen time.Time
}

const maxAddrs = 100_000

func newPostLimits(perMinute int) *postLimits {
	return &postLimits{perMinute: perMinute, buckets: map[string]*addrLimit{}}
}

// allow takes a token for addr; when none is left it returns how long to
// wait.
func (l *postLimits) allow(addr string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for a, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, a)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= maxAddrs {
			clear(l.buckets)
		}
		b = &addrLimit{lim: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), max(1, l.perMinute/3))}
		l.buckets[addr] = b
	}
	b.seen = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}
