package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/arus-platform/arus/stream"
)

// DeadLetterConfig configures the [DeadLetter] middleware.
type DeadLetterConfig struct {
	// Group is the consumer group; required. Dead letters of topic T go to
	// DLQTopic(T, Group).
	Group string
	// OnDeadLetter, when set, is called after a record was dead-lettered.
	OnDeadLetter func(r *stream.Record, err error)
	// Logger receives a warning per dead letter. Default: slog.Default().
	Logger *slog.Logger
}

// maxErrorHeader bounds the error text kept in a dead letter.
const maxErrorHeader = 4 << 10

// topicCreator is the part of [stream.Admin] the dead-letter middleware
// uses, when the producer has it, to create dead-letter topics with one
// partition.
type topicCreator interface {
	CreateTopic(ctx context.Context, t stream.Topic) error
}

// DeadLetter returns middleware that parks a record the handler failed on
// in the group's dead-letter topic, <topic>.<group>.dlq, and then reports
// success so that the record is committed and the records after it go on.
// Put it outside [Retry]: it then acts once retrying gave up, or at once
// for a permanent error.
//
// The dead letter keeps the record's key, value and headers (arus-id and
// traceparent among them) and adds the arus-dlq-* headers ([HeaderDLQTopic]
// and the rest). A record replayed from the dead-letter queue that fails
// again keeps its original topic, partition, offset and first failure time.
//
// The record is committed only once the dead letter is durable: when it
// cannot be produced, the middleware returns the error and the record is
// delivered again. Errors wrapping [ErrStopping] pass through untouched.
//
// When the producer can create topics, a dead-letter topic is created
// with one partition before its first use, so that it keeps the order of
// failures; otherwise the backend creates it on first produce.
func DeadLetter(p stream.Producer, cfg DeadLetterConfig) (Middleware, error) {
	if p == nil {
		return nil, stream.Invalidf("consume: dead letter: no producer")
	}
	if err := stream.ValidateGroupName(cfg.Group); err != nil {
		return nil, fmt.Errorf("consume: dead letter: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var created sync.Map // dead-letter topic → struct{}
	ensure := func(ctx context.Context, topic string) {
		tc, ok := p.(topicCreator)
		if !ok {
			return
		}
		if _, done := created.Load(topic); done {
			return
		}
		err := tc.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 1})
		if err == nil || errors.Is(err, stream.ErrTopicExists) {
			created.Store(topic, struct{}{})
		}
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, r *stream.Record) error {
			err := next(ctx, r)
			if err == nil || errors.Is(err, ErrStopping) {
				return err
			}
			dl := DeadLetterRecord(r, cfg.Group, err, time.Now())
			ensure(ctx, dl.Topic)
			if perr := p.Produce(ctx, dl); perr != nil {
				return fmt.Errorf("consume: dead-letter record %s/%d@%d to %s: %w (handler error: %v)",
					r.Topic, r.Partition, r.Offset, dl.Topic, perr, err)
			}
			cfg.Logger.WarnContext(ctx, "consume: record dead-lettered", "group", cfg.Group, "topic", r.Topic,
				"partition", r.Partition, "offset", r.Offset, "record_id", r.ID(), "dlq", dl.Topic, "err", err)
			if cfg.OnDeadLetter != nil {
				cfg.OnDeadLetter(r, err)
			}
			return nil
		}
	}, nil
}

// DeadLetterRecord returns the dead letter of r for group after err, at
// time now: r's key, value and headers plus the arus-dlq-* headers, for
// DLQTopic(r.Topic, group). The attempts and failure times come from a
// [*RetryError] in err, else 1 attempt failing at now.
func DeadLetterRecord(r *stream.Record, group string, err error, now time.Time) *stream.Record {
	attempts, first, last := 1, now, now
	var re *RetryError
	if errors.As(err, &re) {
		attempts, first, last = re.Attempts, re.FirstFailed, re.LastFailed
		err = re.Err
	}
	dl := &stream.Record{
		Topic:   DLQTopic(r.Topic, group),
		Key:     r.Key,
		Value:   r.Value,
		Headers: make([]stream.Header, len(r.Headers), len(r.Headers)+10),
	}
	copy(dl.Headers, r.Headers)
	// A replay of this group's own dead letter keeps where and when the
	// record first failed.
	g, _ := r.Header(HeaderDLQGroup)
	t, _ := r.Header(HeaderDLQTopic)
	replayed := string(g) == group && string(t) == r.Topic
	if !replayed {
		dl.SetHeader(HeaderDLQTopic, []byte(r.Topic))
		dl.SetHeader(HeaderDLQPartition, formatInt(int64(r.Partition)))
		dl.SetHeader(HeaderDLQOffset, formatInt(r.Offset))
	}
	if f := headerTime(r, HeaderDLQFirstFailure); !replayed || f.IsZero() {
		dl.SetHeader(HeaderDLQFirstFailure, formatTime(first))
	}
	dl.SetHeader(HeaderDLQGroup, []byte(group))
	msg := err.Error()
	if len(msg) > maxErrorHeader {
		msg = msg[:maxErrorHeader] + "…"
	}
	dl.SetHeader(HeaderDLQError, []byte(msg))
	dl.SetHeader(HeaderDLQAttempts, []byte(strconv.Itoa(attempts)))
	dl.SetHeader(HeaderDLQLastFailure, formatTime(last))
	dl.SetHeader(HeaderDLQPermanent, []byte(strconv.FormatBool(IsPermanent(err))))
	return dl
}
