package delivery

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/telemetry"
)

type metrics struct {
	up           *prometheus.GaugeVec
	stateChanges *prometheus.CounterVec
	rows         *prometheus.CounterVec
	batches      *prometheus.CounterVec
	skipped      *prometheus.CounterVec
	deadLetters  *prometheus.CounterVec
	errors       *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	lag          *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "arus_relay_destination_up",
			Help: "1 when the destination answered its last heartbeat or write, 0 when it did not.",
		}, []string{"destination"}),
		stateChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_relay_destination_state_changes_total",
			Help: "Changes of a destination between up and down.",
		}, []string{"destination", "state"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_relay_delivery_rows_total",
			Help: "Changes written into destinations, by route.",
		}, []string{"route"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_relay_delivery_batches_total",
			Help: "Batches written into destinations, by route.",
		}, []string{"route"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_relay_delivery_skipped_total",
			Help: "Records a route's filter left out (or deletes on a route without deletes).",
		}, []string{"route"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_relay_delivery_dead_letters_total",
			Help: "Records dead-lettered by route.",
		}, []string{"route"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_relay_delivery_errors_total",
			Help: "Failed writes and mappings by route and kind (transient, permanent, mapping, other).",
		}, []string{"route", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arus_relay_delivery_write_seconds",
			Help:    "Time to write one batch, by destination.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"destination"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "arus_relay_route_lag",
			Help: "Records of a route's dataset not yet committed by its consumer group, as of the last route poll.",
		}, []string{"route"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	for _, c := range []**prometheus.CounterVec{&m.stateChanges, &m.rows, &m.batches, &m.skipped, &m.deadLetters, &m.errors} {
		if *c, err = telemetry.Register(reg, *c); err != nil {
			return nil, fmt.Errorf("delivery: %w", err)
		}
	}
	for _, g := range []**prometheus.GaugeVec{&m.up, &m.lag} {
		if *g, err = telemetry.Register(reg, *g); err != nil {
			return nil, fmt.Errorf("delivery: %w", err)
		}
	}
	if m.latency, err = telemetry.Register(reg, m.latency); err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	return m, nil
}
