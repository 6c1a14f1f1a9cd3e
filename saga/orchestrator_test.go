package saga_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

func TestCompletes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		b := newBroker(t)
		def := order(10 * time.Second)
		// The charge step keeps the payment id the participant answers.
		def.Steps[1].Update = func(data []byte, reply *stream.Record) ([]byte, error) {
			return append(data[:len(data)-1:len(data)-1], []byte(`,"payment":"`+string(reply.Value)+`"}`)...), nil
		}
		def.Steps[2].Command.Build = func(data []byte) (*stream.Record, error) {
			return &stream.Record{Value: append([]byte("ship "), data...)}, nil
		}
		reg := prometheus.NewRegistry()
		cfg := testConfig(base)
		cfg.Registerer = reg
		o := run(t, cfg, b, def)
		p := newParticipant(t, b, "participants", orderTopics, func(r *stream.Record) *stream.Record {
			return saga.Success(r, []byte("pay-"+saga.ID(r)))
		})

		id, err := o.Start(ctx, "order", "order-1", []byte(`{"qty":2}`))
		if err != nil || id != "order-1" {
			t.Fatalf("Start = %q, %v; want order-1", id, err)
		}
		in := waitState(t, o.Orchestrator, id, saga.StateCompleted)

		if got, want := string(in.Data), `{"qty":2,"payment":"pay-order-1"}`; got != want {
			t.Errorf("data %s, want %s", got, want)
		}
		if got, want := p.records(), []string{"stock:command:0", "payments:command:1", "shipping:command:2"}; !slices.Equal(got, want) {
			t.Errorf("participant saw %v, want %v", got, want)
		}
		p.mu.Lock()
		ship := p.seen[2]
		p.mu.Unlock()
		if got, want := string(ship.Value), `ship {"qty":2,"payment":"pay-order-1"}`; got != want {
			t.Errorf("ship command %q, want %q", got, want)
		}
		if string(ship.Key) != "order-1" {
			t.Errorf("ship command key %q, want the saga id", ship.Key)
		}
		for i, s := range in.Steps {
			if s.Status != saga.StepSucceeded || s.CommandID == "" || s.CommandSentAt.IsZero() || s.RepliedAt.Before(s.CommandSentAt) {
				t.Errorf("step %d: %+v, want succeeded with command id and times", i, s)
			}
		}
		if got := events(in, saga.EventReply); len(got) != 3 {
			t.Errorf("replies in history %v, want 3", got)
		}
		if got, want := events(in, saga.EventState), []string{"2:completed"}; !slices.Equal(got, want) {
			t.Errorf("state events %v, want %v", got, want)
		}

		if _, err := o.Start(ctx, "order", "order-1", nil); !errors.Is(err, saga.ErrExists) {
			t.Errorf("second Start with the same id: %v, want ErrExists", err)
		}
		if _, err := o.Start(ctx, "nope", "", nil); !errors.Is(err, stream.ErrInvalid) {
			t.Errorf("Start of an unknown saga: %v, want ErrInvalid", err)
		}
		if got := counter(t, reg, "arus_saga_started_total"); got != 1 {
			t.Errorf("started %v, want 1", got)
		}
		if got := counter(t, reg, "arus_saga_completed_total"); got != 1 {
			t.Errorf("completed %v, want 1", got)
		}
		if n := series(t, reg, "arus_saga_step_duration_seconds"); n != 3 {
			t.Errorf("step latency series %d, want 3 (one per step)", n)
		}
	})
}

// counter returns the sum of a counter family's series.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// series returns the number of series of a metric family.
func series(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

func TestCompensatesInReverseOrder(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		b := newBroker(t)
		o := run(t, testConfig(base), b, order(10*time.Second))
		p := newParticipant(t, b, "participants", orderTopics, func(r *stream.Record) *stream.Record {
			if !saga.IsCompensation(r) && r.Topic == "shipping" {
				return saga.Failure(r, "no courier")
			}
			return saga.Success(r, nil)
		})
		id, err := o.Start(context.Background(), "order", "", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		in := waitState(t, o.Orchestrator, id, saga.StateCompensated)

		want := []string{"stock:command:0", "payments:command:1", "shipping:command:2",
			"payments:compensation:1", "stock:compensation:0"}
		if got := p.records(); !slices.Equal(got, want) {
			t.Errorf("participant saw %v, want %v", got, want)
		}
		var statuses []saga.StepStatus
		for _, s := range in.Steps {
			statuses = append(statuses, s.Status)
		}
		if want := []saga.StepStatus{saga.StepCompensated, saga.StepCompensated, saga.StepFailed}; !slices.Equal(statuses, want) {
			t.Errorf("step statuses %v, want %v", statuses, want)
		}
		if !strings.Contains(in.Error, "ship failed: no courier") {
			t.Errorf("error %q, want the failed step and its reason", in.Error)
		}
		// The history shows the compensations, newest step first, each sent
		// and answered before the next.
		var seq []string
		for _, e := range in.History {
			if e.Type == saga.EventCompensation || (e.Type == saga.EventReply && strings.HasPrefix(e.Detail, "success") && e.Step < 2 &&
				slices.ContainsFunc(seq, func(s string) bool { return strings.HasPrefix(s, "compensation") })) {
				seq = append(seq, fmt.Sprintf("%s:%d", e.Type, e.Step))
			}
		}
		if want := []string{"compensation:1", "reply:1", "compensation:0", "reply:0"}; !slices.Equal(seq, want) {
			t.Errorf("compensation history %v, want %v\n%s", seq, want, history(in))
		}
	})
}

func TestDuplicateRepliesIgnored(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		b := newBroker(t)
		o := run(t, testConfig(base), b, order(10*time.Second))
		var charged atomic.Int32
		newParticipant(t, b, "participants", orderTopics, func(r *stream.Record) *stream.Record {
			reply := saga.Success(r, nil)
			if r.Topic == "stock" {
				// Answer the reservation three times: the same record twice
				// (as a producer retrying, or a redelivery, would), then a
				// second answer with an id of its own.
				reply.SetHeader(stream.HeaderID, []byte(stream.NewID()))
				again := *reply
				second := saga.Success(r, nil)
				if err := b.Produce(ctx, reply, &again, second); err != nil {
					t.Errorf("produce replies: %v", err)
				}
				return nil
			}
			if r.Topic == "payments" {
				charged.Add(1)
			}
			return saga.Success(r, nil)
		})
		id, err := o.Start(ctx, "order", "dup-1", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		in := waitState(t, o.Orchestrator, id, saga.StateCompleted)
		if got, want := events(in, saga.EventReply), []string{"0:success", "1:success", "2:success"}; !slices.Equal(got, want) {
			t.Errorf("applied replies %v, want %v\n%s", got, want, history(in))
		}
		ignored := events(in, saga.EventReplyIgnored)
		if len(ignored) != 1 || !strings.HasPrefix(ignored[0], "0:late or repeated") {
			t.Errorf("ignored replies %v, want one for step 0 (the exact duplicate leaves no trace)", ignored)
		}
		if n := charged.Load(); n != 1 {
			t.Errorf("charge command received %d times, want 1", n)
		}
	})
}

func TestTimeoutCompensates(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		b := newBroker(t)
		def := order(300 * time.Millisecond)
		def.Steps[0].Timeout = 10 * time.Second
		o := run(t, testConfig(base), b, def)
		var late atomic.Pointer[stream.Record]
		p := newParticipant(t, b, "participants", orderTopics, func(r *stream.Record) *stream.Record {
			if r.Topic == "payments" && !saga.IsCompensation(r) {
				late.Store(saga.Success(r, nil)) // the payment service is slow
				return nil
			}
			return saga.Success(r, nil)
		})
		start := time.Now()
		id, err := o.Start(context.Background(), "order", "slow-1", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		in := waitState(t, o.Orchestrator, id, saga.StateCompensated)
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("compensated after %s, before the timeout", d)
		}
		// The step that timed out is compensated too: its command may yet
		// take effect.
		want := []string{"stock:command:0", "payments:command:1", "payments:compensation:1", "stock:compensation:0"}
		if got := p.records(); !slices.Equal(got, want) {
			t.Errorf("participant saw %v, want %v", got, want)
		}
		if in.Steps[1].Status != saga.StepCompensated || !strings.Contains(in.Error, "charge: no reply within 300ms") {
			t.Errorf("step 1 %s, error %q; want compensated after a timeout", in.Steps[1].Status, in.Error)
		}
		if got := events(in, saga.EventTimeout); len(got) != 1 || got[0] != "1:no reply within 300ms" {
			t.Errorf("timeouts %v, want one of step 1", got)
		}

		// The late answer changes nothing.
		if err := b.Produce(context.Background(), late.Load()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the late reply to be recorded", func() bool {
			in, err := o.Get(context.Background(), id)
			return err == nil && len(events(in, saga.EventReplyIgnored)) == 1
		})
		in, _ = o.Get(context.Background(), id)
		if in.State != saga.StateCompensated {
			t.Errorf("after the late reply the saga is %s", in.State)
		}
	})
}

func TestCompensationNeverAnsweredFails(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		b := newBroker(t)
		cfg := testConfig(base)
		cfg.CompensationAttempts = 3
		o := run(t, cfg, b, order(200*time.Millisecond))
		p := newParticipant(t, b, "participants", orderTopics, func(r *stream.Record) *stream.Record {
			switch {
			case saga.IsCompensation(r):
				return nil // the stock service lost its way
			case r.Topic == "payments":
				return saga.Failure(r, "card declined")
			}
			return saga.Success(r, nil)
		})
		id, err := o.Start(context.Background(), "order", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		in := waitState(t, o.Orchestrator, id, saga.StateFailed)
		var comps []string
		p.mu.Lock()
		for _, r := range p.seen {
			if saga.IsCompensation(r) {
				comps = append(comps, r.ID())
			}
		}
		p.mu.Unlock()
		if len(comps) != 3 || comps[0] != comps[1] || comps[1] != comps[2] || comps[0] != in.Steps[0].CompensationID {
			t.Errorf("compensations sent %v, want 3 copies of %s", comps, in.Steps[0].CompensationID)
		}
		if in.Steps[0].Status != saga.StepCompensationFailed || !strings.Contains(in.Error, "no reply after 3 attempts") {
			t.Errorf("step 0 %s, error %q", in.Steps[0].Status, in.Error)
		}
	})
}

// failingBroker fails every produce to one topic, as a process that
// crashes after committing a step's state and before its command is out.
type failingBroker struct {
	stream.Broker
	topic string
}

func (b failingBroker) Produce(ctx context.Context, records ...*stream.Record) error {
	for _, r := range records {
		if r.Topic == b.topic {
			return stream.AllFailed(len(records), fmt.Errorf("%w: test: %s is cut off", stream.ErrUnavailable, b.topic))
		}
	}
	return b.Broker.Produce(ctx, records...)
}

// A crash after the state change that queued a command but before the
// command was produced: the next orchestrator on the same store sends it.
func TestResumeSendsQueuedCommand(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		b := newBroker(t)
		cfg := testConfig(base)
		first := run(t, cfg, failingBroker{Broker: b, topic: "payments"}, order(10*time.Second))
		p := newParticipant(t, b, "participants", orderTopics, func(r *stream.Record) *stream.Record {
			return saga.Success(r, nil)
		})
		id, err := first.Start(context.Background(), "order", "crash-1", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		// Step 0 answered; the reply committed step 1 and its command, which
		// cannot get out.
		waitFor(t, "the charge command to be queued", func() bool {
			in, err := first.Get(context.Background(), id)
			return err == nil && in.Step == 1 && in.Steps[1].CommandID != ""
		})
		first.stop()
		stopped := time.Now()

		second := run(t, cfg, b, order(10*time.Second))
		in := waitState(t, second.Orchestrator, id, saga.StateCompleted)
		// The failed attempts of the first orchestrator are no send.
		if sent := in.Steps[1].CommandSentAt; !sent.After(stopped) {
			t.Errorf("charge command sent at %v, want after the first orchestrator stopped at %v", sent, stopped)
		}
		if got, want := p.records(), []string{"stock:command:0", "payments:command:1", "shipping:command:2"}; !slices.Equal(got, want) {
			t.Errorf("participant saw %v, want %v", got, want)
		}
		if got := p.ids()[1]; got != in.Steps[1].CommandID {
			t.Errorf("charge command sent with id %s, want the queued %s", got, in.Steps[1].CommandID)
		}
	})
}

// A crash after the command was produced, while its reply is awaited: the
// next orchestrator sends the command again with the same arus-id, and the
// participant, which deduplicates, answers the copy without acting twice.
func TestResumeAfterCommandSent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		b := newBroker(t)
		cfg := testConfig(base)
		first := run(t, cfg, b, order(10*time.Second))
		done := map[string]bool{} // the participant's own dedupe by arus-id
		var charges atomic.Int32
		p := newParticipant(t, b, "participants", orderTopics, func(r *stream.Record) *stream.Record {
			if done[r.ID()] {
				return saga.Success(r, nil) // done before: answer again, do nothing
			}
			done[r.ID()] = true
			if r.Topic == "payments" {
				charges.Add(1)
				return nil // charged, then the answer was lost
			}
			return saga.Success(r, nil)
		})
		id, err := first.Start(ctx, "order", "crash-2", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the charge command to be sent and received", func() bool {
			in, err := first.Get(ctx, id)
			return err == nil && in.Steps[1].CommandSentAt.After(time.Time{}) && len(p.records()) == 2
		})
		first.stop()
		stopped := time.Now()

		second := run(t, cfg, b, order(10*time.Second))
		in := waitState(t, second.Orchestrator, id, saga.StateCompleted)
		// The copy sent again keeps the time of the first send.
		if sent := in.Steps[1].CommandSentAt; !sent.Before(stopped) {
			t.Errorf("charge command sent at %v, want its first send, before the first orchestrator stopped at %v", sent, stopped)
		}
		ids := p.ids()
		if len(ids) != 4 || ids[1] != ids[2] || ids[1] != in.Steps[1].CommandID {
			t.Errorf("participant saw ids %v, want the charge command %s twice", ids, in.Steps[1].CommandID)
		}
		if n := charges.Load(); n != 1 {
			t.Errorf("charged %d times, want 1", n)
		}
		if got := events(in, saga.EventResend); len(got) != 1 || !strings.HasPrefix(got[0], "1:") {
			t.Errorf("resend events %v, want one for step 1", got)
		}
		if got := events(in, saga.EventReply); len(got) != 3 {
			t.Errorf("applied replies %v, want 3", got)
		}
	})
}

func TestBuildErrors(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		b := newBroker(t)
		def := order(10 * time.Second)
		def.Steps[0].Command.Build = func(data []byte) (*stream.Record, error) {
			if string(data) == "bad" {
				return nil, errors.New("bad order")
			}
			return &stream.Record{Value: data}, nil
		}
		def.Steps[2].Command.Build = func([]byte) (*stream.Record, error) { return nil, errors.New("no address") }
		o := run(t, testConfig(base), b, def)
		newParticipant(t, b, "participants", orderTopics, func(r *stream.Record) *stream.Record { return saga.Success(r, nil) })

		if _, err := o.Start(context.Background(), "order", "bad-1", []byte("bad")); err == nil || !strings.Contains(err.Error(), "bad order") {
			t.Errorf("Start with a failing first builder: %v", err)
		}
		if _, err := o.Get(context.Background(), "bad-1"); !errors.Is(err, saga.ErrNotFound) {
			t.Errorf("Get after a failed Start: %v, want ErrNotFound", err)
		}
		// A later command that cannot be built fails its step and
		// compensates the ones before.
		id, err := o.Start(context.Background(), "order", "", []byte("ok"))
		if err != nil {
			t.Fatal(err)
		}
		in := waitState(t, o.Orchestrator, id, saga.StateCompensated)
		if in.Steps[2].Status != saga.StepFailed || !strings.Contains(in.Error, "no address") {
			t.Errorf("step 2 %s, error %q", in.Steps[2].Status, in.Error)
		}
	})
}

func TestDefinitionValidate(t *testing.T) {
	ok := saga.Step{Name: "a", Command: saga.Command{Topic: "t"}, ReplyTopic: "r"}
	cases := []struct {
		name string
		def  saga.Definition
		want string
	}{
		{"no name", saga.Definition{Steps: []saga.Step{ok}}, "saga name"},
		{"no steps", saga.Definition{Name: "x"}, "no steps"},
		{"step name", saga.Definition{Name: "x", Steps: []saga.Step{{Command: ok.Command, ReplyTopic: "r"}}}, "no name"},
		{"twice", saga.Definition{Name: "x", Steps: []saga.Step{ok, ok}}, "used twice"},
		{"command topic", saga.Definition{Name: "x", Steps: []saga.Step{{Name: "a", ReplyTopic: "r"}}}, "command topic"},
		{"reply topic", saga.Definition{Name: "x", Steps: []saga.Step{{Name: "a", Command: ok.Command}}}, "reply topic"},
		{"builder without topic", saga.Definition{Name: "x", Steps: []saga.Step{{Name: "a", Command: ok.Command, ReplyTopic: "r",
			Compensation: saga.Command{Build: func([]byte) (*stream.Record, error) { return nil, nil }}}}}, "no topic"},
		{"timeout", saga.Definition{Name: "x", Steps: []saga.Step{{Name: "a", Command: ok.Command, ReplyTopic: "r", Timeout: -1}}}, "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.def.Validate()
			if err == nil || !errors.Is(err, stream.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate = %v, want an invalid-argument error containing %q", err, c.want)
			}
		})
	}
	good := saga.Definition{Name: "x", Steps: []saga.Step{ok}}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate of a good definition: %v", err)
	}
}

func TestReplyHelpers(t *testing.T) {
	cmd := &stream.Record{Topic: "stock", Key: []byte("s-1"), Headers: []stream.Header{
		{Key: saga.HeaderSagaID, Value: []byte("s-1")}, {Key: saga.HeaderSagaName, Value: []byte("order")},
		{Key: saga.HeaderStep, Value: []byte("2")}, {Key: saga.HeaderKind, Value: []byte(saga.KindCompensation)},
		{Key: saga.HeaderReplyTo, Value: []byte("order.replies")},
	}}
	r := saga.Failure(cmd, "out of stock")
	for h, want := range map[string]string{
		saga.HeaderSagaID: "s-1", saga.HeaderStep: "2", saga.HeaderKind: saga.KindCompensation,
		saga.HeaderOutcome: saga.OutcomeFailure, saga.HeaderReason: "out of stock",
	} {
		if got, _ := r.Header(h); string(got) != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if r.Topic != "order.replies" || string(r.Key) != "s-1" || !saga.IsCompensation(r) || saga.ID(r) != "s-1" {
		t.Errorf("reply %+v: want topic order.replies, key s-1, a compensation of s-1", r)
	}
}

// Two orchestrators on one PostgreSQL store share the work: replies by
// consumer group, sends by row locks, timeouts by the instance lock.
func TestTwoOrchestratorsOnPostgres(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	cfg := testConfig(store.Config{DSN: storetest.PostgresSchema(t)})
	one := run(t, cfg, b, order(10*time.Second))
	two := run(t, cfg, b, order(10*time.Second))
	var mu sync.Mutex
	charged := map[string]bool{} // charge command ids
	newParticipant(t, b, "participants", orderTopics, func(r *stream.Record) *stream.Record {
		if r.Topic == "payments" {
			mu.Lock()
			charged[r.ID()] = true
			mu.Unlock()
		}
		return saga.Success(r, nil)
	})
	var ids []string
	for i := range 20 {
		o := one
		if i%2 == 1 {
			o = two
		}
		id, err := o.Start(ctx, "order", fmt.Sprintf("pg-%02d", i), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		in := waitState(t, one.Orchestrator, id, saga.StateCompleted)
		if got := events(in, saga.EventReply); len(got) != 3 {
			t.Errorf("%s: applied replies %v, want 3", id, got)
		}
		// An orchestrator that starts while a saga waits sends its command
		// again, so there may be more sends than steps, never fewer.
		if got := events(in, saga.EventSent); len(got) < 3 {
			t.Errorf("%s: sends %v, want at least one per step", id, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(charged); n != 20 {
		t.Errorf("distinct charge commands received %d, want 20", n)
	}
}
