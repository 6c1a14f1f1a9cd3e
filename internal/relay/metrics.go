package relay

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	records  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_relay_ingest_requests_total",
			Help: "Ingest requests by dataset and outcome (accepted, replayed, or the error: malformed, unauthorized, forbidden, not_found, too_large, invalid, rate_limited, unavailable, error).",
		}, []string{"dataset", "outcome"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_relay_ingest_records_total",
			Help: "Records in ingest requests by dataset and outcome.",
		}, []string{"dataset", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arus_relay_ingest_seconds",
			Help:    "Time to answer an ingest request, by dataset.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"dataset"}),
	}
	if reg == nil {
		return m, nil
	}
	m.requests = register(reg, m.requests)
	m.records = register(reg, m.records)
	m.latency = register(reg, m.latency)
	return m, nil
}

// register registers c, or returns the collector registered before it
// (a second relay in one process shares the metrics).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c
}
