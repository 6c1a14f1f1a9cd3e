package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// TestManyConsumers runs 100 Consume calls at once on one broker whose
// pool has only 4 connections, over 25 topics: blocking reads must not take
// the connections that heartbeats, lease renewals and commits need, so
// every call consumes every record of its topic.
func TestManyConsumers(t *testing.T) {
	const (
		consumers = 100
		topics    = 25
		perTopic  = 40
	)
	cfg := testConfig(t)
	cfg.PoolSize = 4
	cfg.DefaultPartitions = 2
	b := openBroker(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for i := range topics {
		var recs []*stream.Record
		for j := range perTopic {
			recs = append(recs, &stream.Record{Topic: fmt.Sprintf("many-%d", i), Key: fmt.Appendf(nil, "k%d", j), Value: []byte("v")})
		}
		if err := b.Produce(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}
	counts := make([]atomic.Int64, consumers)
	runCtx, stop := context.WithCancel(ctx)
	errs := make(chan error, consumers)
	var wg sync.WaitGroup
	for i := range consumers {
		wg.Go(func() {
			topic := fmt.Sprintf("many-%d", i%topics)
			errs <- b.Consume(runCtx, stream.ConsumerConfig{Group: fmt.Sprintf("many-g%d", i), Topics: []string{topic}},
				func(_ context.Context, batch []*stream.Record) error {
					counts[i].Add(int64(len(batch)))
					return nil
				})
		})
	}
	deadline := time.NewTicker(20 * time.Millisecond)
	defer deadline.Stop()
	for {
		behind := 0
		for i := range counts {
			if counts[i].Load() < perTopic {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		select {
		case err := <-errs:
			t.Fatalf("a Consume call returned early: %v", err)
		case <-ctx.Done():
			t.Fatalf("%d of %d Consume calls did not consume their %d records in time", behind, consumers, perTopic)
		case <-deadline.C:
		}
	}
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Consume: %v", err)
		}
	}
	for i := range counts {
		if n := counts[i].Load(); n < perTopic {
			t.Errorf("consumer %d got %d records, want %d", i, n, perTopic)
		}
	}
}

// TestConsumeConnectionLimit runs Consume calls against a server that
// accepts few clients: a call that cannot open its connection for blocking
// reads fails with an error instead of joining and stalling.
func TestConsumeConnectionLimit(t *testing.T) {
	r := startPrivateRedis(t, "--maxclients", "6")
	cfg := testConfig(t)
	cfg.Addr = r.addr
	cfg.PoolSize = 2
	b := openBroker(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	errs := make(chan error, 10)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	for i := range 10 {
		wg.Go(func() {
			errs <- b.Consume(runCtx, stream.ConsumerConfig{Group: fmt.Sprintf("limit-%d", i), Topics: []string{"limit"}},
				func(context.Context, []*stream.Record) error { return nil })
		})
	}
	select {
	case err := <-errs:
		if err == nil || !errors.Is(err, stream.ErrUnavailable) {
			t.Fatalf("Consume over the server's client limit returned %v, want an error wrapping ErrUnavailable", err)
		}
		t.Logf("Consume over the limit: %v", err)
	case <-ctx.Done():
		t.Fatal("no Consume call failed although the server accepts 6 clients and 10 calls need one each")
	}
}
