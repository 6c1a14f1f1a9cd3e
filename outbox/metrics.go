package outbox

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/telemetry"
)

// forwarderMetrics are a forwarder's Prometheus collectors, labelled with
// the outbox's table. Forwarders of one outbox registered on one registry
// share them.
type forwarderMetrics struct {
	pending   prometheus.Gauge
	oldest    prometheus.Gauge
	published prometheus.Counter
	deleted   prometheus.Counter
	publish   prometheus.Histogram
	delay     prometheus.Histogram
	errors    *prometheus.CounterVec
}

func newForwarderMetrics(reg prometheus.Registerer, table string) (*forwarderMetrics, error) {
	labels := prometheus.Labels{"table": table}
	m := &forwarderMetrics{
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "arus_outbox_pending", ConstLabels: labels,
			Help: "Outbox records written and not yet published, as last counted.",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "arus_outbox_oldest_pending_seconds", ConstLabels: labels,
			Help: "Age of the oldest outbox record not yet published, as last measured; 0 when none.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arus_outbox_published_total", ConstLabels: labels,
			Help: "Outbox records published to the broker (a record published again after a failure counts again).",
		}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arus_outbox_deleted_total", ConstLabels: labels,
			Help: "Published outbox records deleted after their retention.",
		}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "arus_outbox_publish_duration_seconds", ConstLabels: labels,
			Help:    "Duration of one produce call of a batch of outbox records.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "arus_outbox_delay_seconds", ConstLabels: labels,
			Help:    "Time from writing an outbox record to its publication.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_outbox_errors_total", ConstLabels: labels,
			Help: "Forwarder failures by operation: claim, read, publish, mark, cleanup, count.",
		}, []string{"op"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.pending, err = telemetry.Register(reg, m.pending); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if m.oldest, err = telemetry.Register(reg, m.oldest); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if m.published, err = telemetry.Register(reg, m.published); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if m.deleted, err = telemetry.Register(reg, m.deleted); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if m.publish, err = telemetry.Register(reg, m.publish); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if m.delay, err = telemetry.Register(reg, m.delay); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if m.errors, err = telemetry.Register(reg, m.errors); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return m, nil
}

// inboxMetrics are an inbox's Prometheus collectors.
type inboxMetrics struct {
	handled    prometheus.Counter
	duplicates prometheus.Counter
	expired    prometheus.Counter
}

func newInboxMetrics(reg prometheus.Registerer, table string) (*inboxMetrics, error) {
	labels := prometheus.Labels{"table": table}
	m := &inboxMetrics{
		handled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arus_inbox_handled_total", ConstLabels: labels,
			Help: "Record ids recorded as handled for the first time.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arus_inbox_duplicates_total", ConstLabels: labels,
			Help: "Records skipped because their id was already handled.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arus_inbox_expired_total", ConstLabels: labels,
			Help: "Handled record ids deleted after their retention.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.handled, err = telemetry.Register(reg, m.handled); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if m.duplicates, err = telemetry.Register(reg, m.duplicates); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if m.expired, err = telemetry.Register(reg, m.expired); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return m, nil
}
