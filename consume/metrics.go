package consume

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/stream"
)

// Metrics holds the consumer runtime's Prometheus metrics, labelled by
// group and topic:
//
//	arus_consume_handled_total              records handled (the handler chain returned nil)
//	arus_consume_failed_total               records the chain failed on (left uncommitted)
//	arus_consume_retries_total              retries (attempts after the first)
//	arus_consume_dead_lettered_total        records parked in a dead-letter topic
//	arus_consume_handler_duration_seconds   time from entering the chain to leaving it, retries included
//	arus_consume_in_flight                  records being handled now
//
// One Metrics serves every group of a process; register it once.
type Metrics struct {
	handled, failed, retried, dead *prometheus.CounterVec
	duration                       *durations
	inFlight                       *prometheus.GaugeVec

	series sync.Map // seriesKey → *series
}

type seriesKey struct{ group, topic string }

type topicSeries struct {
	topic string
	s     *series
}

// series caches the children of one group and topic, so that the hot path
// does not hash label values.
type series struct {
	handled, failed, retried, dead prometheus.Counter
	duration                       *durationHist
	inFlight                       prometheus.Gauge
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("consume: metrics: no registerer")
	}
	labels := []string{"group", "topic"}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "arus", Subsystem: "consume", Name: name, Help: help}, labels)
	}
	m := &Metrics{
		handled: counter("handled_total", "Records the handler chain handled."),
		failed:  counter("failed_total", "Records the handler chain failed on; they stay uncommitted and are delivered again."),
		retried: counter("retries_total", "Handler attempts after the first."),
		dead:    counter("dead_lettered_total", "Records parked in a dead-letter topic."),
		duration: newDurations(prometheus.NewDesc("arus_consume_handler_duration_seconds",
			"Time a record spends in the handler chain, retries included.", labels, nil),
			[]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "arus", Subsystem: "consume",
			Name: "in_flight", Help: "Records being handled now."}, labels),
	}
	for _, c := range []prometheus.Collector{m.handled, m.failed, m.retried, m.dead, m.duration, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("consume: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) of(group, topic string) *series {
	k := seriesKey{group, topic}
	if s, ok := m.series.Load(k); ok {
		return s.(*series)
	}
	s := &series{
		handled:  m.handled.WithLabelValues(group, topic),
		failed:   m.failed.WithLabelValues(group, topic),
		retried:  m.retried.WithLabelValues(group, topic),
		dead:     m.dead.WithLabelValues(group, topic),
		duration: m.duration.with(group, topic),
		inFlight: m.inFlight.WithLabelValues(group, topic),
	}
	got, _ := m.series.LoadOrStore(k, s)
	return got.(*series)
}

// Middleware returns middleware that counts records handled and failed,
// times them and tracks those in flight for group.
//
// Under the runtime, which hands the chain a batch one record at a time,
// the middleware settles each batch at once, so that a record costs no
// clock read and no shared atomic update: the counters grow by the
// batch's counts when it ends; the records of the batch count as in flight
// from the start of its first to the end of its last; and the handler
// duration histogram gets one observation per record, each the batch's
// time divided by its records, all added in one update. Its count and sum
// are exact, so rate(sum) / rate(count) is the exact mean time per record;
// its buckets show the spread between batches, not within one (a record
// slow among fast ones is averaged with them). Records handled outside a
// runtime, or with per-key concurrency, are timed and counted one by one.
//
//go:noinline
func (m *Metrics) Middleware(group string) Middleware {
	// Not inlined (above): the handler returned is then compiled on its
	// own, with the batch scope's lookups inlined, rather than as a copy
	// inside [Chain], where they stay calls.
	return func(next Handler) Handler {
		// last caches the series of the topic seen last, which is nearly
		// always the next record's too.
		var last atomic.Pointer[topicSeries]
		owner := new(batchOwner)
		seriesOf := func(topic string) *series {
			if l := last.Load(); l != nil && l.topic == topic {
				return l.s
			}
			s := m.of(group, topic)
			last.Store(&topicSeries{topic: topic, s: s})
			return s
		}
		return func(ctx context.Context, r *stream.Record) error {
			if sc := scopeOf(ctx); sc != nil {
				b, _ := sc.local(owner).(*metricsBatch)
				if b == nil {
					n := len(sc.batch) - sc.i
					b = &metricsBatch{topic: r.Topic, s: seriesOf(r.Topic), start: sc.start, inFlight: n}
					b.s.inFlight.Add(float64(n))
					sc.setLocal(owner, b)
				}
				if b.topic == r.Topic {
					err := next(ctx, r)
					if err != nil {
						b.failed++
					} else {
						b.handled++
					}
					return err
				}
			}
			s := seriesOf(r.Topic)
			s.inFlight.Inc()
			start := monoNow()
			err := next(ctx, r)
			s.duration.Observe((monoNow() - start).Seconds())
			s.inFlight.Dec()
			if err != nil {
				s.failed.Inc()
			} else {
				s.handled.Inc()
			}
			return err
		}
	}
}

// monoEpoch is when the package was loaded; see [monoNow].
var monoEpoch = time.Now()

// monoNow returns the monotonic clock as a duration since monoEpoch. It
// reads only the monotonic clock, where time.Now reads the wall clock too:
// for measuring a duration, one clock read instead of two.
func monoNow() time.Duration { return time.Since(monoEpoch) }

// metricsBatch is what the metrics middleware counts in one batch.
type metricsBatch struct {
	topic           string
	s               *series
	start           time.Time
	inFlight        int // added to the gauge when the batch began
	handled, failed int
}

func (b *metricsBatch) end(end time.Time) {
	b.s.inFlight.Sub(float64(b.inFlight))
	if b.handled > 0 {
		b.s.handled.Add(float64(b.handled))
	}
	if b.failed > 0 {
		b.s.failed.Add(float64(b.failed))
	}
	if n := b.handled + b.failed; n > 0 {
		b.s.duration.observeN(end.Sub(b.start).Seconds()/float64(n), uint64(n))
	}
}

// Retried counts one retry of a record of topic in group; [Chain] wires it
// to [RetryConfig.OnRetry].
func (m *Metrics) Retried(group, topic string) { m.of(group, topic).retried.Inc() }

// DeadLettered counts one dead letter of a record of topic in group;
// [Chain] wires it to [DeadLetterConfig.OnDeadLetter].
func (m *Metrics) DeadLettered(group, topic string) { m.of(group, topic).dead.Inc() }

// durations is the handler duration histogram by group and topic: a
// Prometheus histogram that also takes n equal observations at once, as
// the middleware settles a batch, for the cost of one.
type durations struct {
	desc    *prometheus.Desc
	buckets []float64 // upper bounds, ascending; +Inf implied

	children sync.Map // seriesKey → *durationHist
}

// durationHist is the histogram of one group and topic.
type durationHist struct {
	group, topic string
	buckets      []float64

	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last is +Inf's
	count  uint64
	sum    float64
}

func newDurations(desc *prometheus.Desc, buckets []float64) *durations {
	return &durations{desc: desc, buckets: buckets}
}

func (d *durations) with(group, topic string) *durationHist {
	k := seriesKey{group, topic}
	if h, ok := d.children.Load(k); ok {
		return h.(*durationHist)
	}
	h := &durationHist{group: group, topic: topic, buckets: d.buckets, counts: make([]uint64, len(d.buckets)+1)}
	got, _ := d.children.LoadOrStore(k, h)
	return got.(*durationHist)
}

// Observe adds one observation of v seconds.
func (h *durationHist) Observe(v float64) { h.observeN(v, 1) }

// observeN adds n observations of v seconds.
func (h *durationHist) observeN(v float64, n uint64) {
	i := sort.SearchFloat64s(h.buckets, v) // the first bound ≥ v, as Prometheus counts
	h.mu.Lock()
	h.counts[i] += n
	h.count += n
	h.sum += v * float64(n)
	h.mu.Unlock()
}

func (d *durations) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

func (d *durations) Collect(ch chan<- prometheus.Metric) {
	d.children.Range(func(_, v any) bool {
		h := v.(*durationHist)
		cum := make(map[float64]uint64, len(h.buckets))
		h.mu.Lock()
		count, sum, n := h.count, h.sum, uint64(0)
		for i, b := range h.buckets {
			n += h.counts[i]
			cum[b] = n
		}
		h.mu.Unlock()
		ch <- prometheus.MustNewConstHistogram(d.desc, count, sum, cum, h.group, h.topic)
		return true
	})
}
