package saga

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/telemetry"
)

// metrics are the orchestrator's Prometheus metrics, labelled by saga name.
type metrics struct {
	started     *prometheus.CounterVec
	completed   *prometheus.CounterVec
	compensated *prometheus.CounterVec
	failed      *prometheus.CounterVec
	step        *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"saga"})
	}
	m := &metrics{
		started:     counter("arus_saga_started_total", "Saga instances started."),
		completed:   counter("arus_saga_completed_total", "Saga instances whose every step succeeded."),
		compensated: counter("arus_saga_compensated_total", "Saga instances that failed or timed out and were fully compensated."),
		failed:      counter("arus_saga_failed_total", "Saga instances stopped because a compensation failed or never got an answer."),
		step: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arus_saga_step_duration_seconds",
			Help:    "Time from sending a step's command or compensation to handling its reply, by saga, step, kind and outcome.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"saga", "step", "kind", "outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	for _, c := range []**prometheus.CounterVec{&m.started, &m.completed, &m.compensated, &m.failed} {
		if *c, err = telemetry.Register(reg, *c); err != nil {
			return nil, fmt.Errorf("saga: %w", err)
		}
	}
	if m.step, err = telemetry.Register(reg, m.step); err != nil {
		return nil, fmt.Errorf("saga: %w", err)
	}
	return m, nil
}

func (m *metrics) observeStep(saga, step, kind, outcome string, d time.Duration) {
	if d < 0 {
		return
	}
	m.step.WithLabelValues(saga, step, kind, outcome).Observe(d.Seconds())
}

// ended counts an instance reaching a final state.
func (m *metrics) ended(saga string, s State) {
	switch s {
	case StateCompleted:
		m.completed.WithLabelValues(saga).Inc()
	case StateCompensated:
		m.compensated.WithLabelValues(saga).Inc()
	case StateFailed:
		m.failed.WithLabelValues(saga).Inc()
	}
}
