package consume

import (
	"slices"
	"testing"
)

func TestDurationsBucketOf(t *testing.T) {
	d := newDurations(nil, []float64{.001, .01, 1})
	h := d.with("g", "t")
	h.observeN(.001, 2) // on a bound: that bucket
	h.observeN(.005, 3)
	h.observeN(5, 1) // above every bound: +Inf
	if want := []uint64{2, 3, 0, 1}; !slices.Equal(h.counts, want) {
		t.Errorf("counts %v, want %v", h.counts, want)
	}
	if h.count != 6 || h.sum != .002+.015+5 {
		t.Errorf("count %d sum %v", h.count, h.sum)
	}
	if d.with("g", "t") != h {
		t.Error("a second series for the same labels")
	}
}
