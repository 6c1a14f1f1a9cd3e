package web

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		buckets map[float64]float64
		want    float64
	}{
		{map[float64]float64{0.01: 0, 0.1: 0}, math.NaN()},
		{map[float64]float64{0.01: 100}, 0.0099},                    // interpolated from 0
		{map[float64]float64{0.01: 50, 0.02: 50}, 0.0198},           // rank 99 of 100
		{map[float64]float64{0.01: 99, 1: 1}, 0.01},                 // rank 99 is the last of the first bucket
		{map[float64]float64{0.01: 98, 1: 2}, 0.505},                // half-way into (0.01, 1]
		{map[float64]float64{0.01: 1, 0.5: 0, inf: 99}, 0.5},        // +Inf: the highest finite bound
		{map[float64]float64{0.001: 0, 0.0025: 99, 2.5: 1}, 0.0025}, // a bucket with no observations below
	}
	for _, c := range cases {
		got := quantile(0.99, c.buckets)
		if math.IsNaN(c.want) != math.IsNaN(got) || !math.IsNaN(got) && math.Abs(got-c.want) > 1e-9 {
			t.Errorf("quantile(0.99, %v) = %v, want %v", c.buckets, got, c.want)
		}
	}
}

// relayMetrics registers the delivery engine's handler metrics under their
// names, so that a test decides exactly what they hold.
func relayMetrics(t *testing.T, reg *prometheus.Registry) (ok, failed prometheus.Counter, write prometheus.Observer) {
	t.Helper()
	okv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arus_relay_delivery_batches_total"}, []string{"route"})
	failedv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arus_relay_delivery_errors_total"}, []string{"route", "kind"})
	writev := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "arus_relay_delivery_write_seconds",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"destination"})
	reg.MustRegister(okv, failedv, writev)
	return okv.WithLabelValues("cars"), failedv.WithLabelValues("cars", "transient"), writev.WithLabelValues("warehouse")
}

// The overview charts the handlers' error rate and p99 latency from the
// differences between samples of the process's registry.
func TestOverviewHandlerCharts(t *testing.T) {
	reg := prometheus.NewRegistry()
	ok, failed, write := relayMetrics(t, reg)
	_, b := newStreamsFixture(t)
	f := newFixtureWithConfig(t, func(c *Config) { c.Broker, c.Metrics = b, reg })
	h := f.handler
	br := f.browser()
	br.login("admin", adminPassword)
	sample := func() { h.samples.add(h.sampleNow(context.Background())) }

	sample()
	sample()
	_, body := br.get("/overview")
	if !strings.Contains(body, "no handlers ran in the last") {
		t.Errorf("overview without handler calls does not say so")
	}

	// Step 1: 95 batches written, 5 failed; 99 writes took 4 ms, one 2 s.
	ok.Add(95)
	failed.Add(5)
	for range 99 {
		write.Observe(0.004)
	}
	write.Observe(2)
	sample()
	_, body = br.get("/overview")
	for _, want := range []string{`data-live="errors">5.00<`, `data-live="p99">5.00<`} {
		if !strings.Contains(body, want) {
			t.Errorf("after step 1 the overview lacks %s", want)
		}
	}
	// Step 2: 100 batches, none failed, each took 300 ms.
	ok.Add(100)
	for range 100 {
		write.Observe(0.3)
	}
	sample()
	_, body = br.get("/overview")
	for _, want := range []string{`data-live="errors">0.00<`, `data-live="p99">498<`, `up to 498"`, `>500</text>`, `% of calls over the last`, `up to 5.00"`, `>5</text>`} {
		if !strings.Contains(body, want) {
			t.Errorf("after step 2 the overview lacks %s", want)
		}
	}
	// Step 3: nothing ran; the line has a gap, the current value none.
	sample()
	_, body = br.get("/overview")
	for _, want := range []string{`data-live="errors">—<`, `data-live="p99">—<`} {
		if !strings.Contains(body, want) {
			t.Errorf("after an idle step the overview lacks %s", want)
		}
	}
	if strings.Contains(body, "no handlers ran") {
		t.Errorf("the overview says no handlers ran although they did in the last hour")
	}

	// Without a registry the charts say the figures are not available.
	f2, _ := newStreamsFixture(t)
	f2.handler.samples.add(f2.handler.sampleNow(context.Background()))
	br2 := f2.browser()
	br2.login("admin", adminPassword)
	resp, body := br2.get("/overview")
	wantStatus(t, "overview without metrics", resp, http.StatusOK)
	if strings.Count(body, `aria-label="handler metrics are not available`) != 2 {
		t.Errorf("overview without a registry does not say its handler charts are unavailable")
	}
}

// The consume runtime's metrics middleware feeds the same charts.
func TestOverviewReadsConsumeMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := consume.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := gatherHandlers(reg)
	handler := m.Middleware("billing")(func(_ context.Context, r *stream.Record) error {
		if r.Offset%20 == 0 {
			return errors.New("declined")
		}
		return nil
	})
	for i := range 40 {
		_ = handler(context.Background(), &stream.Record{Topic: "orders", Offset: int64(i)})
	}
	after, read := gatherHandlers(reg)
	if !read {
		t.Fatal("registry not read")
	}
	st := stepBetween(before, after)
	if st.Calls != 40 || st.Failed != 2 || math.IsNaN(st.P99) || st.P99 <= 0 {
		t.Errorf("step %+v, want 40 calls, 2 failed and a p99", st)
	}
}
