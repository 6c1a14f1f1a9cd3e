package web

import (
	"sync"
	"time"

	"github.com/arus-platform/arus/stream"
)

// rateWindow is how far back a topic's produce rate looks.
const rateWindow = time.Minute

// topicRates remembers each topic's end offsets (summed over partitions)
// at the sampler's ticks of the last rateWindow, so the topics page can
// show how fast each grows without reading anything more.
type topicRates struct {
	mu   sync.Mutex
	seen []topicEnds // oldest first
}

type topicEnds struct {
	at   time.Time
	ends map[string]int64
}

// observe records the topics as listed at a sampler tick.
func (r *topicRates) observe(at time.Time, topics []stream.TopicInfo) {
	ends := make(map[string]int64, len(topics))
	for _, t := range topics {
		var n int64
		for _, p := range t.Offsets {
			n += p.End
		}
		ends[t.Name] = n
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, topicEnds{at: at, ends: ends})
	// Keep one observation at or before the window's start, so the
	// window is covered whole.
	for len(r.seen) > 2 && at.Sub(r.seen[1].at) >= rateWindow {
		r.seen = r.seen[1:]
	}
}

// rate returns the records per second produced to topic over the window,
// and false when there are not two observations of it yet.
func (r *topicRates) rate(topic string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) < 2 {
		return 0, false
	}
	first, last := r.seen[0], r.seen[len(r.seen)-1]
	a, okA := first.ends[topic]
	b, okB := last.ends[topic]
	dt := last.at.Sub(first.at).Seconds()
	if !okA || !okB || dt <= 0 {
		return 0, false
	}
	return max(0, float64(b-a)/dt), true
}
