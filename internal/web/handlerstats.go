package web

import (
	"math"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The overview's handler charts (error rate and p99 latency) come from the
// process's own Prometheus registry, sampled with the backbone: the
// counters and duration histograms of the handlers that run in this
// process. Rates and the p99 are worked out from the differences between
// two samples, so a chart shows what happened in each 10 s step, never a
// figure made up when nothing ran.

// handlerSource names the metric families of one kind of handler: a
// duration histogram, and counters of calls that succeeded and failed.
type handlerSource struct {
	Duration string
	OK       []string
	Failed   []string
}

// handlerSources are the handlers the overview knows: records through the
// consume runtime's handler chain (package consume, per record), and the
// relay's delivery workers (per batch written; a record that cannot be
// mapped counts as a failed call).
var handlerSources = []handlerSource{
	{Duration: "arus_consume_handler_duration_seconds", OK: []string{"arus_consume_handled_total"}, Failed: []string{"arus_consume_failed_total"}},
	{Duration: "arus_relay_delivery_write_seconds", OK: []string{"arus_relay_delivery_batches_total"}, Failed: []string{"arus_relay_delivery_errors_total"}},
}

// handlerTotals are cumulative handler figures at one moment.
type handlerTotals struct {
	OK, Failed float64
	// Buckets holds the observations per histogram bucket, by upper
	// bound (math.Inf(1) for the last), summed over every handler;
	// Observations is their total.
	Buckets      map[float64]float64
	Observations float64
}

// gatherHandlers reads the handler figures from g. It reports ok=false
// when g is nil or cannot be read.
func gatherHandlers(g prometheus.Gatherer) (handlerTotals, bool) {
	if g == nil {
		return handlerTotals{}, false
	}
	families, err := g.Gather()
	if err != nil && len(families) == 0 {
		return handlerTotals{}, false
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	t := handlerTotals{Buckets: map[float64]float64{}}
	counters := func(names []string) float64 {
		var n float64
		for _, name := range names {
			if f := byName[name]; f != nil {
				for _, m := range f.GetMetric() {
					n += m.GetCounter().GetValue()
				}
			}
		}
		return n
	}
	for _, src := range handlerSources {
		t.OK += counters(src.OK)
		t.Failed += counters(src.Failed)
		f := byName[src.Duration]
		if f == nil {
			continue
		}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			if h == nil {
				continue
			}
			var below float64 // cumulative count of the previous bucket
			for _, b := range h.GetBucket() {
				c := float64(b.GetCumulativeCount())
				t.Buckets[b.GetUpperBound()] += c - below
				below = c
			}
			t.Buckets[math.Inf(1)] += float64(h.GetSampleCount()) - below
			t.Observations += float64(h.GetSampleCount())
		}
	}
	return t, true
}

// handlerStep is what handlers did between two samples: calls, failures,
// and the p99 of their durations in seconds (NaN when nothing was timed).
type handlerStep struct {
	Calls, Failed float64
	P99           float64
}

// stepBetween works out a step from two cumulative readings. A counter
// that went down (its process part restarted) counts from zero.
func stepBetween(a, b handlerTotals) handlerStep {
	diff := func(x, y float64) float64 {
		if y < x {
			return y
		}
		return y - x
	}
	s := handlerStep{Failed: diff(a.Failed, b.Failed)}
	s.Calls = diff(a.OK, b.OK) + s.Failed
	buckets := map[float64]float64{}
	reset := b.Observations < a.Observations
	for bound, n := range b.Buckets {
		if reset {
			buckets[bound] = n
		} else {
			buckets[bound] = max(0, n-a.Buckets[bound])
		}
	}
	s.P99 = quantile(0.99, buckets)
	return s
}

// quantile estimates the q-quantile of observations counted per bucket
// (by upper bound) as Prometheus's histogram_quantile does: linear
// interpolation inside the bucket that holds it, the lower bound of the
// last finite bucket when it falls in +Inf. NaN when there are none.
func quantile(q float64, buckets map[float64]float64) float64 {
	bounds := make([]float64, 0, len(buckets))
	var total float64
	for b, n := range buckets {
		bounds = append(bounds, b)
		total += n
	}
	if total == 0 {
		return math.NaN()
	}
	slices.Sort(bounds)
	rank := q * total
	var seen, lower float64
	for _, b := range bounds {
		n := buckets[b]
		if seen+n >= rank && n > 0 {
			if math.IsInf(b, 1) {
				return lower
			}
			return lower + (b-lower)*(rank-seen)/n
		}
		seen += n
		if !math.IsInf(b, 1) {
			lower = b
		}
	}
	return lower
}
