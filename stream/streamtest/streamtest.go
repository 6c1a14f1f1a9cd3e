// Package streamtest is the conformance suite of the stream contract. Every
// backend runs the same suite from its own tests:
//
//	func TestConformance(t *testing.T) {
//		streamtest.Run(t, streamtest.Backend{Open: ..., Features: ...})
//	}
//
// Each test states one guarantee of package stream. Features turn off the
// tests of what a backend genuinely cannot do, and each flag says why.
package streamtest

import (
	"context"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Backend tells the suite how to open brokers of one backend.
type Backend struct {
	// Open is called once per test and returns a function that opens brokers
	// on that test's own, initially empty data (a fresh data directory,
	// cluster or key prefix). Brokers opened by the same function share their
	// data, as two processes on the same engine would. The suite closes every
	// broker it opens; Open should register the cleanup of the data itself
	// with t.Cleanup.
	Open func(t *testing.T) func() stream.Broker
	// Features describe what the backend can do.
	Features Features
}

// Features turn suite tests on or off for what a backend can or cannot do.
type Features struct {
	// Retention: the backend applies retention itself and implements
	// [stream.Retainer], so the suite can check that retention never deletes
	// what a registered group has not consumed. Kafka leaves retention to the
	// broker, so its backend has it off.
	Retention bool
	// RestartEngine, when set, restarts the engine underneath a running
	// broker (the Kafka cluster, say), to check that nothing acknowledged is
	// lost. The process-restart test (close the broker, open another on the
	// same data) runs for every backend; this one only where it is set.
	RestartEngine func(t *testing.T)
	// RebalanceTimeout bounds how long partitions take to move to the
	// remaining members after one leaves. Default 30s.
	RebalanceTimeout time.Duration
}

// Run runs the conformance suite.
func Run(t *testing.T, b Backend) {
	if b.Features.RebalanceTimeout == 0 {
		b.Features.RebalanceTimeout = 30 * time.Second
	}
	s := &suite{b: b}
	for _, tc := range s.tests() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			tc.fn(t)
		})
	}
}

type suite struct{ b Backend }

type testCase struct {
	name string
	skip string
	fn   func(t *testing.T)
}

// ctx returns a context for one test that ends with it, bounded so that a
// hung backend fails the test instead of the whole run.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
