package saga

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Headers the orchestrator puts on every command and compensation it sends,
// and that a reply must carry back. [Success] and [Failure] copy them.
const (
	// HeaderSagaID carries the id of the saga instance. Replies are
	// correlated by it.
	HeaderSagaID = "arus-saga-id"
	// HeaderSagaName carries the name of the saga's definition.
	HeaderSagaName = "arus-saga-name"
	// HeaderStep carries the index of the step (0 for the first).
	HeaderStep = "arus-saga-step"
	// HeaderKind says whether a record is a step's command or its
	// compensation: [KindCommand] or [KindCompensation].
	HeaderKind = "arus-saga-kind"
	// HeaderReplyTo names the topic the reply goes to.
	HeaderReplyTo = "arus-saga-reply-to"
	// HeaderOutcome, on a reply, is [OutcomeSuccess] or [OutcomeFailure].
	HeaderOutcome = "arus-saga-outcome"
	// HeaderReason, on a failure reply, says why, for the saga's history.
	HeaderReason = "arus-saga-reason"
)

// Values of [HeaderKind].
const (
	KindCommand      = "command"
	KindCompensation = "compensation"
)

// Values of [HeaderOutcome].
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Definition describes a saga: its name and its steps, run in order. When a
// step fails or times out, the compensations of the steps before it (and of
// the step itself when it timed out, since its command may still take
// effect) run in reverse order.
type Definition struct {
	// Name identifies the definition in stored instances; keep it stable
	// while instances of it may be running. 1 to 100 characters of a-z,
	// A-Z, 0-9, '.', '_' and '-'.
	Name  string
	Steps []Step
}

// Step is one step of a saga: a command sent to a participant, the topic
// its reply comes back on, and the command that undoes it.
type Step struct {
	// Name appears in the history and the API; unique within the saga.
	Name string
	// Command is sent when the step starts. Required.
	Command Command
	// ReplyTopic is where the participant answers the command and its
	// compensation. Required. Several steps and sagas may share one.
	ReplyTopic string
	// Compensation undoes the step. Leave its Topic empty when the step
	// needs no undoing (a read, or a step whose effect is harmless).
	Compensation Command
	// Timeout is how long the orchestrator waits for a reply after the
	// command (or a compensation) was sent. Zero means
	// [Config.DefaultTimeout].
	Timeout time.Duration
	// Update, when set, returns the saga's data after a successful reply to
	// the step's command: it lets later steps and compensations use what a
	// participant answered (a payment id, a reservation number). An error
	// counts as a failure of the step.
	Update func(data []byte, reply *stream.Record) ([]byte, error)
}

// Command is a record the orchestrator sends: a topic and a function that
// builds the record from the saga's data.
type Command struct {
	Topic string
	// Build returns the record to send. The orchestrator sets its Topic,
	// its key to the saga id when Build leaves it empty, a fresh arus-id,
	// and the saga headers. Nil sends the saga's data as the value.
	Build func(data []byte) (*stream.Record, error)
}

var nameRule = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,100}$`)

// idRule is the rule of saga ids: they travel in headers, keys and URLs.
var idRule = regexp.MustCompile(`^[a-zA-Z0-9._:-]{1,128}$`)

// ValidateID checks a saga id: 1 to 128 characters of a-z, A-Z, 0-9, '.',
// '_', ':' and '-'.
func ValidateID(id string) error {
	if !idRule.MatchString(id) {
		return stream.Invalidf("saga id %q: use 1 to 128 characters of a-z, A-Z, 0-9, '.', '_', ':' and '-'", id)
	}
	return nil
}

// Validate checks the definition.
func (d *Definition) Validate() error {
	if !nameRule.MatchString(d.Name) {
		return stream.Invalidf("saga name %q: use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'", d.Name)
	}
	if len(d.Steps) == 0 {
		return stream.Invalidf("saga %s: no steps", d.Name)
	}
	seen := map[string]bool{}
	for i, s := range d.Steps {
		where := fmt.Sprintf("saga %s: step %d", d.Name, i)
		if s.Name == "" {
			return stream.Invalidf("%s: no name", where)
		}
		where += " (" + s.Name + ")"
		if seen[s.Name] {
			return stream.Invalidf("%s: name used twice", where)
		}
		seen[s.Name] = true
		if err := stream.ValidateTopicName(s.Command.Topic); err != nil {
			return fmt.Errorf("%s: command topic: %w", where, err)
		}
		if err := stream.ValidateTopicName(s.ReplyTopic); err != nil {
			return fmt.Errorf("%s: reply topic: %w", where, err)
		}
		if s.Compensation.Topic != "" {
			if err := stream.ValidateTopicName(s.Compensation.Topic); err != nil {
				return fmt.Errorf("%s: compensation topic: %w", where, err)
			}
		} else if s.Compensation.Build != nil {
			return stream.Invalidf("%s: compensation has a builder but no topic", where)
		}
		if s.Timeout < 0 {
			return stream.Invalidf("%s: timeout %s is negative", where, s.Timeout)
		}
	}
	return nil
}

// build makes the record of a step's command or compensation for instance
// id. The record gets a fresh arus-id, which it keeps when it is sent again.
func (d *Definition) build(id string, step int, kind string, data []byte) (*stream.Record, error) {
	s := d.Steps[step]
	c := s.Command
	if kind == KindCompensation {
		c = s.Compensation
	}
	r := &stream.Record{Value: data}
	if c.Build != nil {
		var err error
		if r, err = guard(func() (*stream.Record, error) { return c.Build(data) }); err != nil {
			return nil, fmt.Errorf("build %s of step %s: %w", kind, s.Name, err)
		}
		if r == nil {
			return nil, fmt.Errorf("build %s of step %s: no record", kind, s.Name)
		}
	}
	r.Topic = c.Topic
	if len(r.Key) == 0 {
		r.Key = []byte(id)
	}
	r.SetHeader(stream.HeaderID, []byte(stream.NewID()))
	r.SetHeader(HeaderSagaID, []byte(id))
	r.SetHeader(HeaderSagaName, []byte(d.Name))
	r.SetHeader(HeaderStep, []byte(strconv.Itoa(step)))
	r.SetHeader(HeaderKind, []byte(kind))
	r.SetHeader(HeaderReplyTo, []byte(s.ReplyTopic))
	return r, nil
}

// guard calls a function of the caller's, turning a panic into an error so
// that a bug in a builder fails its saga rather than the process.
func guard[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}

// Success returns the reply telling the orchestrator that cmd, a command or
// compensation it sent, succeeded. The reply goes to cmd's reply topic,
// keyed like cmd, with cmd's saga headers; value is for the step's
// [Step.Update]. Produce it after the participant's own change commits.
func Success(cmd *stream.Record, value []byte) *stream.Record {
	return reply(cmd, OutcomeSuccess, "", value)
}

// Failure returns the reply telling the orchestrator that cmd failed for
// reason. A failed command starts the compensation of the steps before it;
// a failed compensation stops the saga in [StateFailed].
func Failure(cmd *stream.Record, reason string) *stream.Record {
	return reply(cmd, OutcomeFailure, reason, nil)
}

func reply(cmd *stream.Record, outcome, reason string, value []byte) *stream.Record {
	to, _ := cmd.Header(HeaderReplyTo)
	r := &stream.Record{Topic: string(to), Key: cmd.Key, Value: value}
	for _, h := range []string{HeaderSagaID, HeaderSagaName, HeaderStep, HeaderKind} {
		if v, ok := cmd.Header(h); ok {
			r.Headers = append(r.Headers, stream.Header{Key: h, Value: v})
		}
	}
	r.Headers = append(r.Headers, stream.Header{Key: HeaderOutcome, Value: []byte(outcome)})
	if reason != "" {
		r.Headers = append(r.Headers, stream.Header{Key: HeaderReason, Value: []byte(reason)})
	}
	return r
}

// IsCompensation reports whether r is a compensation sent by an
// orchestrator, rather than a step's command. Participants that receive
// both on one topic branch on it.
func IsCompensation(r *stream.Record) bool {
	v, _ := r.Header(HeaderKind)
	return string(v) == KindCompensation
}

// ID returns the saga id r carries, or "" when it carries none.
func ID(r *stream.Record) string {
	v, _ := r.Header(HeaderSagaID)
	return string(v)
}
