package saga_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// replyFirstBroker returns from producing a saga command only once the
// orchestrator has handled the command's reply, as a participant that
// answers before the broker acknowledges the produce.
type replyFirstBroker struct {
	stream.Broker
	o    atomic.Pointer[saga.Orchestrator]
	held atomic.Int32 // produces that returned after their reply was handled
}

func (b *replyFirstBroker) Produce(ctx context.Context, records ...*stream.Record) error {
	if err := b.Broker.Produce(ctx, records...); err != nil {
		return err
	}
	for _, r := range records {
		kind, _ := r.Header(saga.HeaderKind)
		stepB, _ := r.Header(saga.HeaderStep)
		step, err := strconv.Atoi(string(stepB))
		if string(kind) != saga.KindCommand || err != nil {
			continue
		}
		for {
			in, err := b.o.Load().Get(ctx, saga.ID(r))
			if err == nil && step < len(in.Steps) && !in.Steps[step].RepliedAt.IsZero() {
				b.held.Add(1)
				break
			}
			select {
			case <-ctx.Done():
				return nil // the record is stored; the test finds nothing held
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return nil
}

// On SQLite no transaction is held while a command is produced, so its
// reply can be handled before the produce returns. The step's send time and
// latency must still be recorded. (On PostgreSQL the sender holds the
// instance's row lock across the produce, so the reply waits for it.)
func TestReplyBeforeProduceReturns(t *testing.T) {
	ctx := context.Background()
	b := &replyFirstBroker{Broker: newBroker(t)}
	reg := prometheus.NewRegistry()
	cfg := testConfig(store.Config{Dir: t.TempDir()})
	cfg.Registerer = reg
	r := run(t, cfg, b, order(10*time.Second))
	b.o.Store(r.Orchestrator) // before Start: nothing is produced until then
	newParticipant(t, b.Broker, "participants", orderTopics, func(rec *stream.Record) *stream.Record {
		return saga.Success(rec, nil)
	})

	id, err := r.Start(ctx, "order", "fast-1", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	in := waitState(t, r.Orchestrator, id, saga.StateCompleted)

	// The saga may complete before the last produce has seen its reply.
	waitFor(t, "the three command produces to return after their replies", func() bool { return b.held.Load() == 3 })
	for _, e := range in.History {
		if e.Type == saga.EventSent && !strings.Contains(e.Detail, "moved on") {
			t.Errorf("sent event of step %d: %q, want the saga to have moved on (reply first)", e.Step, e.Detail)
		}
	}
	for i, s := range in.Steps {
		if s.CommandSentAt.IsZero() || s.RepliedAt.Before(s.CommandSentAt) {
			t.Errorf("step %d: sent %v, replied %v; want a send time not after the reply", i, s.CommandSentAt, s.RepliedAt)
		}
	}
	if got, want := series(t, reg, "arus_saga_step_duration_seconds"), 3; got != want {
		t.Errorf("step latency series %d, want %d (one per step)", got, want)
	}
}
