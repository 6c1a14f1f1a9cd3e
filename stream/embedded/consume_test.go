package embedded

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

// TestRebalanceHandsOver joins and stops members while records flow and
// checks that no partition is ever handled by two members at once and that,
// with no handler errors, every record is handled exactly once and in order:
// a partition moves only after its previous owner committed.
func TestRebalanceHandsOver(t *testing.T) {
	ctx := context.Background()
	b := open(t, Config{})
	const parts, total = 6, 3000
	if err := b.CreateTopic(ctx, stream.Topic{Name: "rb", Partitions: parts}); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		next     [parts]int64 // next offset expected per partition
		handled  atomic.Int64
		inFlight [parts]atomic.Int32
		failures []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	handler := func(ctx context.Context, batch []*stream.Record) error {
		p := batch[0].Partition
		if n := inFlight[p].Add(1); n != 1 {
			fail("partition %d handled by %d members at once", p, n)
		}
		defer inFlight[p].Add(-1)
		mu.Lock()
		if batch[0].Offset != next[p] {
			fail("partition %d: batch starts at %d, want %d", p, batch[0].Offset, next[p])
		}
		next[p] = batch[len(batch)-1].Offset + 1
		mu.Unlock()
		time.Sleep(time.Millisecond)
		handled.Add(int64(len(batch)))
		return nil
	}
	type running struct {
		cancel context.CancelFunc
		done   chan error
	}
	start := func(name string) running {
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{"rb"}, Member: name, MaxBatch: 20}, handler)
		}()
		return running{cancel, done}
	}
	stop := func(r running) {
		r.cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Consume returned %v after cancel, want nil", err)
		}
	}

	producing := make(chan error, 1)
	go func() {
		for i := 0; i < total; i += 10 {
			recs := make([]*stream.Record, 10)
			for j := range recs {
				recs[j] = &stream.Record{Topic: "rb", Key: fmt.Appendf(nil, "k%d", i+j)}
			}
			if err := b.Produce(ctx, recs...); err != nil {
				producing <- err
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
		producing <- nil
	}()

	a := start("a")
	time.Sleep(20 * time.Millisecond)
	bm, c := start("b"), start("c")
	time.Sleep(20 * time.Millisecond)
	stop(a)
	d := start("d")
	time.Sleep(20 * time.Millisecond)
	stop(bm)
	if err := <-producing; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for handled.Load() < total && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop(c)
	stop(d)

	if got := handled.Load(); got != total {
		t.Errorf("handled %d records, want exactly %d", got, total)
	}
	for _, f := range failures {
		t.Error(f)
	}
	g, err := b.DescribeGroup(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if g.Lag() != 0 || len(g.Members) != 0 {
		t.Errorf("after all members stopped: lag %d, %d members; want 0 and 0", g.Lag(), len(g.Members))
	}
}

// TestConsumeWakesOnAppend checks that a waiting consumer gets a record
// produced after it joined, and that Close ends Consume with ErrClosed.
func TestConsumeWakesOnAppend(t *testing.T) {
	ctx := context.Background()
	b, err := New(ctx, Config{Dir: t.TempDir(), RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *stream.Record, 1)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"wake"}},
			func(ctx context.Context, batch []*stream.Record) error {
				got <- batch[0]
				return nil
			})
	}()
	waitFor(t, func() bool {
		g, err := b.DescribeGroup(ctx, "g")
		return err == nil && len(g.Members) == 1 && len(g.Offsets) == 4
	})
	if err := b.Produce(ctx, &stream.Record{Topic: "wake", Value: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if string(r.Value) != "hello" {
			t.Errorf("got %q, want hello", r.Value)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the consumer was not woken by the append")
	}
	b.Close()
	if err := <-done; err == nil || !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Consume after Close: got %v, want ErrClosed", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestDeleteTopicWhileConsuming deletes a topic under a running member, then
// produces to the name again: the member consumes the new topic, which the
// group is registered for again.
func TestDeleteTopicWhileConsuming(t *testing.T) {
	ctx := context.Background()
	b := open(t, Config{})
	got := make(chan string, 10)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{"dt"}},
			func(ctx context.Context, batch []*stream.Record) error {
				for _, r := range batch {
					got <- string(r.Value)
				}
				return nil
			})
	}()
	receive := func(want string) {
		t.Helper()
		select {
		case v := <-got:
			if v != want {
				t.Errorf("got %q, want %q", v, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("did not receive %q", want)
		}
	}
	if err := b.Produce(ctx, &stream.Record{Topic: "dt", Value: []byte("first")}); err != nil {
		t.Fatal(err)
	}
	receive("first")
	if err := b.DeleteTopic(ctx, "dt"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DescribeTopic(ctx, "dt"); !errors.Is(err, stream.ErrTopicNotFound) {
		t.Errorf("DescribeTopic after delete: got %v, want ErrTopicNotFound", err)
	}
	if err := b.Produce(ctx, &stream.Record{Topic: "dt", Value: []byte("second")}); err != nil {
		t.Fatal(err)
	}
	receive("second")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume: %v", err)
	}
	b.mu.RLock()
	registered := b.groups["g"].topics[b.topics["dt"].id]
	b.mu.RUnlock()
	if !registered {
		t.Error("the group is not registered for the topic created again")
	}
}

// TestRetentionRunsInBackground checks that retention runs every
// RetentionInterval without being called.
func TestRetentionRunsInBackground(t *testing.T) {
	ctx := context.Background()
	b := open(t, Config{RetentionInterval: 10 * time.Millisecond})
	if err := b.CreateTopic(ctx, stream.Topic{Name: "bg", Partitions: 1, RetentionTime: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := b.Produce(ctx, &stream.Record{Topic: "bg", Timestamp: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		info, err := b.DescribeTopic(ctx, "bg")
		return err == nil && info.Offsets[0].Start == 1
	})
}
