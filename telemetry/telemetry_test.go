package telemetry_test

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/telemetry"
)

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "arus_test_total", Help: "Test."}
	first, err := telemetry.Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatalf("first Register: %v", err)
	}
	// A second collector of the same description shares the first one's
	// series.
	second, err := telemetry.Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatalf("second Register: %v", err)
	}
	if second != first {
		t.Errorf("second Register returned a new counter, want the registered one")
	}
	second.Inc()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got := mfs[0].GetMetric()[0].GetCounter().GetValue(); got != 1 {
		t.Errorf("counter = %v, want 1", got)
	}

	// The same name with other labels is a conflict, not a collector to share.
	_, err = telemetry.Register(reg, prometheus.NewCounterVec(opts, []string{"topic"}))
	if err == nil {
		t.Errorf("Register of a conflicting collector succeeded, want an error")
	}
}

// Two parts of one process register the same counter; both count into it.
func ExampleRegister() {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "shop_orders_published_total", Help: "Orders published."}
	a, err := telemetry.Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := telemetry.Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		fmt.Println(err)
		return
	}
	a.Inc()
	b.Inc()
	fmt.Println(a == b)
	// Output: true
}
