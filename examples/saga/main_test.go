package main

import (
	"context"
	"io"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
)

func TestFlow(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, b stream.Broker) {
		var out io.Writer = io.Discard
		if testing.Verbose() {
			out = os.Stdout
		}
		got, err := demo(context.Background(), b, t.TempDir(), out, brokertest.Logger(), samplePurchases)
		if err != nil {
			t.Fatalf("demo: %v", err)
		}
		want := map[string]saga.State{
			"P-1": saga.StateCompleted,
			"P-2": saga.StateCompleted,
			"P-3": saga.StateCompensated, // declined: the reservation is released
			"P-4": saga.StateCompensated, // out of stock: nothing to undo
		}
		for id, state := range want {
			if in := got.Sagas[id]; in.State != state {
				t.Errorf("purchase %s is %s (%s), want %s", id, in.State, in.Error, state)
			}
		}
		p3 := got.Sagas["P-3"]
		if p3.Steps[0].Status != saga.StepCompensated || p3.Steps[1].Status != saga.StepFailed {
			t.Errorf("P-3 steps %s and %s, want the reservation compensated and the charge failed", p3.Steps[0].Status, p3.Steps[1].Status)
		}
		if !strings.Contains(string(got.Sagas["P-1"].Data), `"reservation":"R-P-1"`) {
			t.Errorf("P-1 data %s lacks the reservation the stock service answered", got.Sagas["P-1"].Data)
		}
		// 10 VIP − 2 − 1 (P-3's 4 came back); REGULER untouched.
		if want := map[string]int{"VIP": 7, "REGULER": 5}; !maps.Equal(got.Stock, want) {
			t.Errorf("stock %v, want %v", got.Stock, want)
		}
		if want := map[string]string{"P-1": "charged", "P-2": "charged", "P-3": "declined"}; !maps.Equal(got.Charges, want) {
			t.Errorf("charges %v, want %v", got.Charges, want)
		}
	})
}

func TestRunCommand(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-data", t.TempDir()}, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"P-3 released 4 × VIP", "P-3 compensated (step charge-payment failed: card declined", "stock left: VIP 7, REGULER 5"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
