// Package dlq manages dead-letter queues: the topics <topic>.<group>.dlq
// that the consume package's DeadLetter middleware fills. It lists them,
// shows their records with filters, groups their errors by reason,
// replays records to the group's retry topic, and discards records.
// It works on any [stream.Broker].
//
// # Replay
//
// Replaying a dead letter produces it, with its key, value and headers
// (arus-id included, and the arus-dlq-* headers, with arus-dlq-replays
// counted up), to <topic>.<group>.retry. Only that group reads the retry
// topic, with the same handler as the original topic, so no other group
// sees the record twice, and the group's inbox (consume.Dedupe) still
// recognises it by its arus-id. A replayed record that fails again is
// dead-lettered again as a new dead letter.
//
// # Done records: replayed or discarded
//
// Topics are append-only, so a dead letter is never deleted. Instead, each
// dead-letter queue has a companion topic, <dlq>.done (one partition),
// holding one mark per dead letter that was replayed or discarded: its
// partition and offset in the queue, the action and the time. Listing
// shows only records without a mark unless asked for all, and replaying or
// discarding acts only on records without one, so "replay all" never
// replays a discarded record, nor one already replayed. The marks are also
// the queue's history of what was done to it.
//
// Replay produces the records first and marks them after, so a crash in
// between may replay a record again later; the group's deduplication by
// arus-id makes that harmless. Two operators replaying at the same time may
// likewise both replay a record.
//
// Every call reads the queue and its marks from the start: dead-letter
// queues are meant to stay small, a place to look at failures and act on
// them, not a second log.
package dlq

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

// ErrNotFound is returned for a dead-letter queue or record that does not
// exist.
var ErrNotFound = errors.New("dead-letter queue or record not found")

// DoneSuffix ends the name of a queue's topic of done marks.
const DoneSuffix = ".done"

// DoneTopic returns the topic of done marks of dead-letter queue dlq.
func DoneTopic(dlq string) string { return dlq + DoneSuffix }

// RetryTopic returns the topic that replays of dead-letter queue dlq go
// to: <topic>.<group>.dlq replays to <topic>.<group>.retry.
func RetryTopic(dlq string) string {
	return strings.TrimSuffix(dlq, consume.DLQSuffix) + consume.RetrySuffix
}

// Config configures a [Manager].
type Config struct {
	// Logger receives a line per replay and discard. Default: slog.Default().
	Logger *slog.Logger
}

// Manager lists, shows, replays and discards dead letters on one broker.
// It is safe for concurrent use.
type Manager struct {
	b   stream.Broker
	log *slog.Logger
}

// New returns a manager of the dead-letter queues of b.
func New(b stream.Broker, cfg Config) (*Manager, error) {
	if b == nil {
		return nil, stream.Invalidf("dlq: no broker")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Manager{b: b, log: cfg.Logger}, nil
}

// Queue describes one dead-letter queue.
type Queue struct {
	// Name is the queue's topic, <topic>.<group>.dlq.
	Name string `json:"name"`
	// Topic and Group are those of its dead letters (from the first
	// record's headers); empty while the queue is empty.
	Topic string `json:"topic,omitempty"`
	Group string `json:"group,omitempty"`
	// Records is how many dead letters the queue holds.
	Records int64 `json:"records"`
	// Pending is how many of them were neither replayed nor discarded.
	Pending int64 `json:"pending"`
}

// Position is a record's place in a dead-letter queue.
type Position struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

func (p Position) String() string { return fmt.Sprintf("%d/%d", p.Partition, p.Offset) }

// States of a dead letter.
const (
	StatePending   = "pending"
	StateReplayed  = "replayed"
	StateDiscarded = "discarded"
)

// Letter is one dead letter with what its headers say.
type Letter struct {
	Position
	// State is StatePending, StateReplayed or StateDiscarded.
	State string
	// Record is the dead letter as stored: the original key, value and
	// headers plus the arus-dlq-* headers.
	Record *stream.Record
	// Topic, Group, OriginalPartition and OriginalOffset say where the
	// record was consumed from and by whom.
	Topic             string
	Group             string
	OriginalPartition int32
	OriginalOffset    int64
	// Error is the last error; Attempts how many times the handler ran.
	Error    string
	Attempts int
	// FirstFailure and LastFailure are when the first and last attempts
	// failed; DeadLettered is when the record was dead-lettered.
	FirstFailure time.Time
	LastFailure  time.Time
	DeadLettered time.Time
	Permanent    bool
	// Replays counts earlier replays of the record.
	Replays int
}

// Filter selects dead letters. Zero fields select everything; set fields
// must all match.
type Filter struct {
	// Error selects letters whose error contains this text, ignoring case.
	Error string
	// Key selects letters with exactly this key.
	Key string
	// From and To select letters dead-lettered at or after From and before
	// To.
	From, To time.Time
	// Positions selects these letters only.
	Positions []Position
	// All includes letters already replayed or discarded; by default only
	// pending letters are selected. Replay and Discard ignore it.
	All bool
	// Limit caps the letters returned by Records; 0 means no cap.
	Limit int
}

// Empty reports whether f has no criterion, so that it selects every
// pending letter.
func (f Filter) Empty() bool {
	return f.Error == "" && f.Key == "" && f.From.IsZero() && f.To.IsZero() && len(f.Positions) == 0
}

func (f Filter) match(l *Letter) bool {
	if !f.All && l.State != StatePending {
		return false
	}
	if f.Error != "" && !strings.Contains(strings.ToLower(l.Error), strings.ToLower(f.Error)) {
		return false
	}
	if f.Key != "" && string(l.Record.Key) != f.Key {
		return false
	}
	if !f.From.IsZero() && l.DeadLettered.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !l.DeadLettered.Before(f.To) {
		return false
	}
	if len(f.Positions) > 0 {
		for _, p := range f.Positions {
			if p == l.Position {
				return true
			}
		}
		return false
	}
	return true
}

// Reason is one distinct error of a queue's letters.
type Reason struct {
	Error string `json:"error"`
	Count int    `json:"count"`
	// First and Last are the earliest and latest times letters with this
	// error were dead-lettered.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// IsQueue reports whether topic is a dead-letter queue by its name.
func IsQueue(topic string) bool {
	return strings.HasSuffix(topic, consume.DLQSuffix) && len(topic) > len(consume.DLQSuffix)
}
