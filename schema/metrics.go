package schema

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the registry's and the validators' Prometheus metrics. One
// Metrics serves any number of registries and validators; a nil *Metrics
// counts nothing.
type Metrics struct {
	validations  *prometheus.CounterVec
	failures     *prometheus.CounterVec
	registered   *prometheus.CounterVec
	incompatible *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg:
//
//   - arus_schema_validations_total{subject}: values validated
//   - arus_schema_validation_failures_total{subject}: values refused
//   - arus_schema_registrations_total{subject}: versions registered
//   - arus_schema_compatibility_rejections_total{subject,mode}: versions
//     refused as incompatible, by the direction broken (BACKWARD, FORWARD)
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		validations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_schema_validations_total", Help: "Record values validated against a schema, by subject.",
		}, []string{"subject"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_schema_validation_failures_total", Help: "Record values that did not match their schema, by subject.",
		}, []string{"subject"}),
		registered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_schema_registrations_total", Help: "Schema versions registered, by subject.",
		}, []string{"subject"}),
		incompatible: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_schema_compatibility_rejections_total", Help: "Schema versions refused as incompatible, by subject and the direction they break.",
		}, []string{"subject", "mode"}),
	}
	for _, c := range []prometheus.Collector{m.validations, m.failures, m.registered, m.incompatible} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("schema: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) validated(subject string, ok bool) {
	if m == nil {
		return
	}
	m.validations.WithLabelValues(subject).Inc()
	if !ok {
		m.failures.WithLabelValues(subject).Inc()
	}
}

func (m *Metrics) registeredVersion(subject string) {
	if m == nil {
		return
	}
	m.registered.WithLabelValues(subject).Inc()
}

// rejected counts a refused version once per direction it breaks.
func (m *Metrics) rejected(subject string, problems []Incompatibility) {
	if m == nil {
		return
	}
	seen := map[Mode]bool{}
	for _, p := range problems {
		if !seen[p.Mode] {
			seen[p.Mode] = true
			m.incompatible.WithLabelValues(subject, string(p.Mode)).Inc()
		}
	}
}
