package consume_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

// metricValues gathers reg into name → value for the series labelled
// group g and topic t (a histogram gives its sample count).
func metricValues(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				got[mf.GetName()] += m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				got[mf.GetName()] += m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				got[mf.GetName()] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return got
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := consume.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consume.NewMetrics(reg); err == nil {
		t.Error("registering twice on one registry: got nil, want an error")
	}
	mw, err := consume.Chain(consume.ChainConfig{Group: "g", Producer: &producer{}, Metrics: m, Logger: brokertest.Logger(),
		Retry: consume.RetryConfig{MaxAttempts: 3, InitialBackoff: time.Millisecond, NoJitter: true}})
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	h := mw(func(ctx context.Context, r *stream.Record) error {
		calls[string(r.Value)]++
		switch {
		case string(r.Value) == "flaky" && calls["flaky"] == 1:
			return errors.New("once")
		case string(r.Value) == "bad":
			return consume.Permanent(errors.New("bad"))
		}
		return nil
	})
	for _, v := range []string{"ok", "flaky", "bad"} {
		if err := h(context.Background(), &stream.Record{Topic: "orders", Value: []byte(v)}); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	want := map[string]float64{
		"arus_consume_handled_total":            3, // the dead letter counts as handled: it is committed
		"arus_consume_failed_total":             0,
		"arus_consume_retries_total":            1,
		"arus_consume_dead_lettered_total":      1,
		"arus_consume_handler_duration_seconds": 3,
		"arus_consume_in_flight":                0,
	}
	got := metricValues(t, reg)
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s: got %v, want %v", name, got[name], v)
		}
	}
}

// The duration histogram counts as a Prometheus histogram does: an
// observation falls in the first bucket whose bound is at least it, and
// buckets are cumulative.
func TestMetricsDurationBuckets(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := consume.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Middleware("g")(func(context.Context, *stream.Record) error { return nil })
	for range 3 {
		if err := h(context.Background(), &stream.Record{Topic: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "arus_consume_handler_duration_seconds" {
			continue
		}
		if mf.GetType() != dto.MetricType_HISTOGRAM || len(mf.GetMetric()) != 1 {
			t.Fatalf("got %v with %d series, want one histogram", mf.GetType(), len(mf.GetMetric()))
		}
		m := mf.GetMetric()[0]
		hist := m.GetHistogram()
		if hist.GetSampleCount() != 3 || hist.GetSampleSum() <= 0 {
			t.Errorf("count %d, sum %v; want 3 and above 0", hist.GetSampleCount(), hist.GetSampleSum())
		}
		bs := hist.GetBucket()
		if len(bs) != 17 || bs[0].GetUpperBound() != .0001 || bs[16].GetUpperBound() != 30 {
			t.Fatalf("buckets %v", bs)
		}
		for i := 1; i < len(bs); i++ {
			if bs[i].GetCumulativeCount() < bs[i-1].GetCumulativeCount() {
				t.Errorf("bucket %v below the one before", bs[i])
			}
		}
		if bs[16].GetCumulativeCount() != 3 {
			t.Errorf("records faster than 30s: %d, want 3", bs[16].GetCumulativeCount())
		}
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["group"] != "g" || labels["topic"] != "t" {
			t.Errorf("labels %v", labels)
		}
		return
	}
	t.Fatal("no handler duration histogram")
}
