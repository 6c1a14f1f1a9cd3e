package saga

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/arus-platform/arus/stream"
)

// txn is one transaction that moves an instance on: the state machine of a
// saga lives in its methods. Everything it changes commits together, with
// the record to send next in the instance's outbox slot.
type txn struct {
	tx     *sql.Tx
	o      *Orchestrator
	now    int64
	afters []func()
	// queued is set when a record was put in an outbox slot.
	queued bool
}

// after runs f once the transaction has committed.
func (t *txn) after(f func()) { t.afters = append(t.afters, f) }

func (t *txn) event(ctx context.Context, r *row, e Event) error {
	return t.o.addEvent(ctx, t.tx, r.ID, t.now, e)
}

func (t *txn) setStep(ctx context.Context, r *row, idx int, status StepStatus, col string, val any) error {
	return t.o.setStep(ctx, t.tx, r.ID, idx, status, col, val)
}

// buildError is a failure of a [Command.Build] function, as opposed to one
// of the store.
type buildError struct{ err error }

func (e *buildError) Error() string { return e.err.Error() }
func (e *buildError) Unwrap() error { return e.err }

// send builds the command or compensation of a step and queues it in r's
// outbox slot. A failing builder gives a *buildError.
func (t *txn) send(ctx context.Context, r *row, def *Definition, step int, kind string) error {
	rec, err := def.build(r.ID, step, kind, r.Data)
	if err != nil {
		return &buildError{err}
	}
	out, err := newOutgoing(rec, kind)
	if err != nil {
		return &buildError{err}
	}
	r.Step, r.Out, r.Pending, r.Attempts, r.Deadline = step, out, true, 1, 0
	typ, status, col := EventCommand, StepRunning, "command_id"
	if kind == KindCompensation {
		typ, status, col = EventCompensation, StepCompensating, "compensation_id"
	}
	if err := t.setStep(ctx, r, step, status, col, out.ID); err != nil {
		return err
	}
	t.queued = true
	return t.event(ctx, r, Event{Type: typ, Step: step, RecordID: out.ID, Topic: out.Topic, Value: out.Value})
}

// advance moves r on after its current step succeeded.
func (t *txn) advance(ctx context.Context, r *row, def *Definition) error {
	next := r.Step + 1
	if next == len(def.Steps) {
		return t.finish(ctx, r, StateCompleted, "")
	}
	err := t.send(ctx, r, def, next, KindCommand)
	var be *buildError
	if errors.As(err, &be) {
		// The command cannot even be built: the step fails unsent.
		if err := t.setStep(ctx, r, next, StepFailed, "", nil); err != nil {
			return err
		}
		r.Step = next
		return t.compensate(ctx, r, def, next-1, fmt.Sprintf("step %s: %v", def.Steps[next].Name, be.err))
	}
	return err
}

// compensate puts r in StateCompensating for reason and starts with the
// compensation of step from, or the nearest step below it that has one.
func (t *txn) compensate(ctx context.Context, r *row, def *Definition, from int, reason string) error {
	r.State = StateCompensating
	r.Error = reason
	if err := t.event(ctx, r, Event{Type: EventState, Step: r.Step, Detail: string(StateCompensating) + ": " + reason}); err != nil {
		return err
	}
	return t.compensateFrom(ctx, r, def, from)
}

// compensateFrom queues the compensation of step from or of the nearest
// step below it that has one; with none left, the saga is compensated.
func (t *txn) compensateFrom(ctx context.Context, r *row, def *Definition, from int) error {
	for k := from; k >= 0; k-- {
		if def.Steps[k].Compensation.Topic == "" {
			continue
		}
		err := t.send(ctx, r, def, k, KindCompensation)
		var be *buildError
		if errors.As(err, &be) {
			if err := t.setStep(ctx, r, k, StepCompensationFailed, "", nil); err != nil {
				return err
			}
			r.Step = k
			return t.finish(ctx, r, StateFailed, fmt.Sprintf("compensation of step %s: %v", def.Steps[k].Name, be.err))
		}
		return err
	}
	return t.finish(ctx, r, StateCompensated, "")
}

// finish puts r in a final state. reason, when given, replaces r.Error.
func (t *txn) finish(ctx context.Context, r *row, s State, reason string) error {
	r.State, r.Pending, r.Deadline, r.Attempts = s, false, 0, 0
	if reason != "" {
		r.Error = reason
	}
	detail := string(s)
	if r.Error != "" {
		detail += ": " + r.Error
	}
	name := r.Name
	t.after(func() { t.o.metrics.ended(name, s) })
	return t.event(ctx, r, Event{Type: EventState, Step: r.Step, Detail: detail})
}

// reply applies a reply to r, which is locked, unless the reply is not the
// one r waits for.
func (t *txn) reply(ctx context.Context, r *row, rec *stream.Record) error {
	step := -1
	if v, ok := rec.Header(HeaderStep); ok {
		if n, err := strconv.Atoi(string(v)); err == nil && n >= 0 {
			step = n
		}
	}
	kindB, _ := rec.Header(HeaderKind)
	outcomeB, _ := rec.Header(HeaderOutcome)
	reasonB, _ := rec.Header(HeaderReason)
	kind, outcome, reason := string(kindB), string(outcomeB), string(reasonB)

	ignore := func(why string) error {
		return t.event(ctx, r, Event{Type: EventReplyIgnored, Step: step, RecordID: rec.ID(), Topic: rec.Topic, Detail: why, Value: rec.Value})
	}
	def := t.o.defs[r.Name]
	switch {
	case def == nil:
		return ignore(fmt.Sprintf("saga %s is not defined in this orchestrator", r.Name))
	case step < 0 || step >= len(def.Steps):
		return ignore(fmt.Sprintf("header %s is missing or names no step of %s", HeaderStep, r.Name))
	case kind != KindCommand && kind != KindCompensation:
		return ignore(fmt.Sprintf("header %s is %q; want %s or %s", HeaderKind, kind, KindCommand, KindCompensation))
	case outcome != OutcomeSuccess && outcome != OutcomeFailure:
		return ignore(fmt.Sprintf("header %s is %q; want %s or %s", HeaderOutcome, outcome, OutcomeSuccess, OutcomeFailure))
	}
	waiting := (r.State == StateRunning && kind == KindCommand) || (r.State == StateCompensating && kind == KindCompensation)
	if !waiting || step != r.Step {
		return ignore(fmt.Sprintf("late or repeated: the saga is %s at step %d, not waiting for this %s reply of step %d",
			r.State, r.Step, kind, step))
	}

	s := def.Steps[step]
	if outcome == OutcomeSuccess && kind == KindCommand && s.Update != nil {
		data, err := guard(func() ([]byte, error) { return s.Update(r.Data, rec) })
		if err != nil {
			outcome, reason = OutcomeFailure, "update: "+err.Error()
		} else {
			if data == nil {
				data = []byte{}
			}
			r.Data = data
		}
	}
	if outcome == OutcomeFailure && reason == "" {
		reason = "no reason given"
	}
	detail := outcome
	if reason != "" {
		detail += ": " + reason
	}
	if err := t.event(ctx, r, Event{Type: EventReply, Step: step, RecordID: rec.ID(), Topic: rec.Topic, Detail: detail, Value: rec.Value}); err != nil {
		return err
	}
	sentCol := "command_sent_at"
	if kind == KindCompensation {
		sentCol = "compensation_sent_at"
	}
	if sent, err := t.o.stepTime(ctx, t.tx, r.ID, step, sentCol); err != nil {
		return err
	} else if sent > 0 {
		name, stepName, d := r.Name, s.Name, time.Duration(t.now-sent)*time.Microsecond
		t.after(func() { t.o.metrics.observeStep(name, stepName, kind, outcome, d) })
	}

	var err error
	switch {
	case kind == KindCommand && outcome == OutcomeSuccess:
		if err = t.setStep(ctx, r, step, StepSucceeded, "replied_at", t.now); err == nil {
			err = t.advance(ctx, r, def)
		}
	case kind == KindCommand:
		if err = t.setStep(ctx, r, step, StepFailed, "replied_at", t.now); err == nil {
			err = t.compensate(ctx, r, def, step-1, fmt.Sprintf("step %s failed: %s", s.Name, reason))
		}
	case outcome == OutcomeSuccess:
		if err = t.setStep(ctx, r, step, StepCompensated, "compensated_at", t.now); err == nil {
			err = t.compensateFrom(ctx, r, def, step-1)
		}
	default:
		if err = t.setStep(ctx, r, step, StepCompensationFailed, "compensated_at", t.now); err == nil {
			err = t.finish(ctx, r, StateFailed, fmt.Sprintf("compensation of step %s failed: %s", s.Name, reason))
		}
	}
	if err != nil {
		return err
	}
	return t.o.save(ctx, t.tx, r, t.now)
}

// timeout handles r's awaited reply not coming in time: a step's command
// starts compensation, a compensation is sent again up to
// CompensationAttempts times.
func (t *txn) timeout(ctx context.Context, r *row) error {
	def := t.o.defs[r.Name]
	if def == nil {
		return nil // not ours to decide; another orchestrator has it
	}
	s := def.Steps[r.Step]
	wait := t.o.stepTimeout(s)
	if err := t.event(ctx, r, Event{Type: EventTimeout, Step: r.Step, RecordID: r.Out.ID, Topic: r.Out.Topic,
		Detail: fmt.Sprintf("no reply within %s", wait)}); err != nil {
		return err
	}
	var err error
	switch {
	case r.State == StateRunning:
		if err = t.setStep(ctx, r, r.Step, StepTimedOut, "", nil); err == nil {
			err = t.compensate(ctx, r, def, r.Step, fmt.Sprintf("step %s: no reply within %s", s.Name, wait))
		}
	case r.Attempts < t.o.cfg.CompensationAttempts:
		r.Attempts++
		r.Pending, r.Deadline, t.queued = true, 0, true
		err = t.event(ctx, r, Event{Type: EventResend, Step: r.Step, RecordID: r.Out.ID, Topic: r.Out.Topic,
			Detail: fmt.Sprintf("compensation attempt %d of %d", r.Attempts, t.o.cfg.CompensationAttempts)})
	default:
		if err = t.setStep(ctx, r, r.Step, StepCompensationFailed, "", nil); err == nil {
			err = t.finish(ctx, r, StateFailed, fmt.Sprintf("compensation of step %s: no reply after %d attempts", s.Name, r.Attempts))
		}
	}
	if err != nil {
		return err
	}
	return t.o.save(ctx, t.tx, r, t.now)
}

func (o *Orchestrator) stepTimeout(s Step) time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return o.cfg.DefaultTimeout
}
