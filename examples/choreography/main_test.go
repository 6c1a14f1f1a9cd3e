package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

func TestFlow(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, b stream.Broker) {
		var out io.Writer = io.Discard
		if testing.Verbose() {
			out = os.Stdout
		}
		got, err := demo(context.Background(), b, t.TempDir(), out, brokertest.Logger(), sampleOrders)
		if err != nil {
			t.Fatalf("demo: %v", err)
		}
		want := map[string]string{"ORD-1001": "confirmed", "ORD-1002": "confirmed", "ORD-1003": "cancelled", "ORD-1004": "confirmed"}
		for id, status := range want {
			if got.Status[id] != status {
				t.Errorf("order %s is %q, want %q", id, got.Status[id], status)
			}
			mails := got.Mails[id]
			if len(mails) != 1 {
				t.Errorf("order %s: mails %q, want exactly one", id, mails)
				continue
			}
			if cancelled := strings.Contains(mails[0], "dibatalkan"); cancelled != (status == "cancelled") {
				t.Errorf("order %s (%s): mail %q", id, status, mails[0])
			}
		}
	})
}

func TestRunCommand(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-data", t.TempDir()}, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"ORD-1003 cancelled: card declined", "summary:", "ORD-1004 confirmed 1 mail(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
