package relay

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/telemetry"
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
	var err error
	if m.requests, err = telemetry.Register(reg, m.requests); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	if m.records, err = telemetry.Register(reg, m.records); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	if m.latency, err = telemetry.Register(reg, m.latency); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	return m, nil
}
