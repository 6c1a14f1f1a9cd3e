// Package saga runs orchestrated sagas: business transactions made of
// steps that live in different services, each step a command sent to a
// participant over a topic and answered on a reply topic, each with a
// compensation that undoes it when a later step fails.
//
// An [Orchestrator] keeps every saga instance and its history (commands
// sent, replies received, compensations, state changes, with their times)
// in its own store, SQLite or PostgreSQL, and consumes replies in a
// consumer group.
//
// # Guarantees
//
//   - Persist, then send. Every decision (start, a reply applied, a timeout)
//     commits in one transaction together with the record it sends next,
//     which waits in the instance's outbox slot. A sender produces it after
//     the commit and marks it sent. A crash between the commit and the
//     produce therefore loses nothing: the record is sent when the
//     orchestrator runs again.
//   - Resume. When [Orchestrator.Run] starts it sends again the waiting
//     command or compensation of every active instance, with the same
//     arus-id, so a record lost on the way is not waited for in vain.
//     Participants recognise the copy (by its arus-id, or by the saga id) and
//     answer it again without acting twice.
//   - Replies are correlated by [HeaderSagaID], [HeaderStep] and [HeaderKind]
//     and applied at most once: a reply whose arus-id was already handled
//     for the instance has no effect at all, and a reply for a step that is
//     no longer waiting (a second answer, a late answer after a timeout) is
//     recorded in the history and otherwise ignored.
//   - Compensation. When a step's command fails, the compensations of the
//     steps before it run one at a time in reverse order, each waiting for
//     its reply. When a step times out, its own compensation runs first,
//     since its command may still take effect. A compensation that fails,
//     or gets no answer after [Config.CompensationAttempts] sends, stops the
//     instance in [StateFailed] for a person to look at.
//   - Timeouts are measured from the moment a record was produced, and
//     checked every [Config.PollInterval]. A restart gives the waiting step
//     a fresh timeout, since its command is sent again.
//
// Participants answer with [Success] or [Failure], which address the reply
// and copy the correlation headers. Because a command and its compensation
// may both be delivered, and a compensation may even arrive for a command
// that never took effect, participants make compensations idempotent and
// harmless when there is nothing to undo. Sending a step's command and its
// compensation on the same topic, keyed by saga id (the default key), keeps
// them in order for the participant.
package saga

import (
	"errors"
	"time"
)

// Errors.
var (
	// ErrNotFound is returned for a saga instance that does not exist.
	ErrNotFound = errors.New("saga: instance not found")
	// ErrExists is returned by [Orchestrator.Start] for an id already used.
	ErrExists = errors.New("saga: instance already exists")
)

// State is the state of a saga instance.
type State string

// States of an instance. Running and compensating instances are active;
// the others are final.
const (
	// StateRunning: a step's command was sent (or waits to be) and its
	// reply is awaited.
	StateRunning State = "running"
	// StateCompensating: a step failed or timed out; compensations are
	// running in reverse order.
	StateCompensating State = "compensating"
	// StateCompleted: every step succeeded.
	StateCompleted State = "completed"
	// StateCompensated: every completed step was compensated.
	StateCompensated State = "compensated"
	// StateFailed: a compensation failed or was never answered. The
	// instance needs a person.
	StateFailed State = "failed"
)

// States lists every state, active ones first.
func States() []State {
	return []State{StateRunning, StateCompensating, StateCompleted, StateCompensated, StateFailed}
}

// Active reports whether an instance in state s still sends or waits.
func (s State) Active() bool { return s == StateRunning || s == StateCompensating }

func (s State) valid() bool {
	for _, v := range States() {
		if s == v {
			return true
		}
	}
	return false
}

// StepStatus is the state of one step of an instance.
type StepStatus string

// Step statuses.
const (
	StepPending            StepStatus = "pending"
	StepRunning            StepStatus = "running"
	StepSucceeded          StepStatus = "succeeded"
	StepFailed             StepStatus = "failed"
	StepTimedOut           StepStatus = "timed_out"
	StepCompensating       StepStatus = "compensating"
	StepCompensated        StepStatus = "compensated"
	StepCompensationFailed StepStatus = "compensation_failed"
)

// Instance is a saga instance as stored.
type Instance struct {
	ID string
	// Saga is the name of the instance's [Definition].
	Saga  string
	State State
	// Step is the index of the step being run or compensated; in a final
	// state, of the last one that was.
	Step int
	// StepName is the name of that step in the orchestrator's definition;
	// empty when this orchestrator does not define the saga.
	StepName string
	// Data is the saga's data, as given to Start and changed by
	// [Step.Update].
	Data []byte
	// Error says why the instance compensated or failed.
	Error string
	// Deadline is when the awaited reply times out; zero while the record
	// waits to be sent, and in final states.
	Deadline  time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	// Steps and History are filled by [Orchestrator.Get] only.
	Steps   []StepState
	History []Event
}

// StepState is the state of one step of an instance.
type StepState struct {
	Index          int
	Name           string
	Status         StepStatus
	CommandID      string
	CompensationID string
	// Times of the first send of the command and of the compensation (when
	// the produce that stored it began), and of the handling of their
	// replies; zero when they have not happened.
	CommandSentAt      time.Time
	RepliedAt          time.Time
	CompensationSentAt time.Time
	CompensatedAt      time.Time
}

// EventType names what an [Event] records.
type EventType string

// Event types of an instance's history.
const (
	// EventStarted: the instance was created.
	EventStarted EventType = "started"
	// EventCommand and EventCompensation: a step's command or compensation
	// was built and queued to be sent (RecordID, Topic, Value).
	EventCommand      EventType = "command"
	EventCompensation EventType = "compensation"
	// EventSent: the queued record was produced.
	EventSent EventType = "sent"
	// EventResend: the waiting record was queued again, after a restart or
	// a compensation's timeout.
	EventResend EventType = "resend"
	// EventReply: a reply was applied (Detail: its outcome and reason).
	EventReply EventType = "reply"
	// EventReplyIgnored: a reply came for a step that was not waiting for
	// it (Detail says why).
	EventReplyIgnored EventType = "reply_ignored"
	// EventTimeout: the awaited reply did not come in time.
	EventTimeout EventType = "timeout"
	// EventState: the instance changed state (Detail: the new state and
	// why).
	EventState EventType = "state"
)

// Event is one entry of an instance's history.
type Event struct {
	At   time.Time
	Type EventType
	// Step is the index of the step concerned, or -1.
	Step     int
	RecordID string
	Topic    string
	Detail   string
	Value    []byte
}
