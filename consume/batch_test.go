package consume_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/consume/consumetest"
	"github.com/arus-platform/arus/internal/brokertest"
	"github.com/arus-platform/arus/stream"
)

// TestRunBatch: a batch handler's failure hands the rest of the batch to
// the fallback one record at a time, so the bad record is dead-lettered
// alone and every other record has its effect once.
func TestRunBatch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fallback bool
	}{
		{"with fallback", true},
		{"without fallback", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newCommitting(brokertest.Embedded.Open(t))
			createTopic(t, b, "orders", 1)
			keys := make([]string, 20)
			for i := range keys {
				keys[i] = "k" + strconv.Itoa(i)
			}
			recs := produce(t, b, "orders", keys...)
			effects := newCounter()
			var batches atomic.Int32
			var fixed atomic.Bool
			batch := func(ctx context.Context, batch []*stream.Record) error {
				batches.Add(1)
				for i, r := range batch {
					if string(r.Value) == "v7" && !fixed.Load() {
						return &stream.PartialError{N: i, Err: errors.New("row 7 violates a constraint")}
					}
					effects.add(r.Value)
				}
				return nil
			}
			single := func(ctx context.Context, r *stream.Record) error {
				if string(r.Value) == "v7" {
					return consume.Permanent(errors.New("row 7 violates a constraint"))
				}
				effects.add(r.Value)
				return nil
			}
			var fallback consume.Handler
			if tc.fallback {
				fallback = chain(t, consume.ChainConfig{Producer: b, Retry: fastRetry(2)})(single)
			}
			rt := newRuntime(t, b, consume.Config{Topics: []string{"orders"}})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- rt.RunBatch(ctx, batch, fallback) }()
			if !tc.fallback {
				// Without a fallback the partition is stuck on record 7
				// until the handler is fixed.
				consumetest.Eventually(t, 10*time.Second, "batch not retried", func() bool { return batches.Load() >= 3 })
				if got := effects.total(); got != 7 {
					t.Errorf("effects before the fix: got %d, want 7 (the records before the bad one)", got)
				}
				fixed.Store(true)
			}
			want := 19
			if !tc.fallback {
				want = 20
			}
			consumetest.Eventually(t, 10*time.Second, "records not all handled", func() bool { return effects.total() == want })
			consumetest.Eventually(t, 10*time.Second, "not committed to the end", func() bool {
				return committedOffset(t, b, "g", "orders", 0) == 20
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("RunBatch: %v", err)
			}
			for _, r := range recs {
				if n := effects.get(string(r.Value)); string(r.Value) != "v7" && n != 1 {
					t.Errorf("%s had %d effects, want 1", r.Value, n)
				}
			}
			b.committedOnce(t, recs)
			if tc.fallback {
				dead := readAll(t, b, consume.DLQTopic("orders", "g"))
				if len(dead) != 1 || string(dead[0].Value) != "v7" {
					t.Errorf("dead letters: got %d, want the one record v7", len(dead))
				}
			}
		})
	}
}
