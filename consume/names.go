package consume

import (
	"strconv"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Topic suffixes of the dead-letter and retry topics of a consumer group.
const (
	DLQSuffix   = ".dlq"
	RetrySuffix = ".retry"
)

// DLQTopic returns the dead-letter topic of group for topic:
// <topic>.<group>.dlq.
func DLQTopic(topic, group string) string { return topic + "." + group + DLQSuffix }

// RetryTopic returns the topic from which group takes replayed records of
// topic: <topic>.<group>.retry. Only that group reads it, so other groups
// never see a replayed record twice.
func RetryTopic(topic, group string) string { return topic + "." + group + RetrySuffix }

// Headers of a dead letter. The [DeadLetter] middleware adds them to the
// original record's key, value and headers (arus-id among them, so a
// replayed record is still recognised by [Dedupe]). Times are RFC 3339 with
// nanoseconds, in UTC; numbers are decimal.
const (
	// HeaderDLQTopic is the topic the record was consumed from.
	HeaderDLQTopic = "arus-dlq-topic"
	// HeaderDLQPartition is the record's partition in that topic.
	HeaderDLQPartition = "arus-dlq-partition"
	// HeaderDLQOffset is the record's offset in that partition.
	HeaderDLQOffset = "arus-dlq-offset"
	// HeaderDLQGroup is the consumer group whose handler failed.
	HeaderDLQGroup = "arus-dlq-group"
	// HeaderDLQError is the text of the last error.
	HeaderDLQError = "arus-dlq-error"
	// HeaderDLQAttempts is how many times the handler was called for the
	// record before it was dead-lettered.
	HeaderDLQAttempts = "arus-dlq-attempts"
	// HeaderDLQFirstFailure is when the first attempt failed. A record that
	// was replayed and failed again keeps the time of its first failure.
	HeaderDLQFirstFailure = "arus-dlq-first-failure"
	// HeaderDLQLastFailure is when the last attempt failed.
	HeaderDLQLastFailure = "arus-dlq-last-failure"
	// HeaderDLQPermanent is "true" when the last error was permanent.
	HeaderDLQPermanent = "arus-dlq-permanent"
	// HeaderDLQReplays counts how many times the record was replayed from
	// the dead-letter queue; the dlq package sets it.
	HeaderDLQReplays = "arus-dlq-replays"
)

// TimeFormat is the layout of the time headers.
const TimeFormat = time.RFC3339Nano

// formatTime and formatInt render header values.
func formatTime(t time.Time) []byte { return t.UTC().AppendFormat(nil, TimeFormat) }

func formatInt(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

// headerTime returns the time in header key, or the zero time.
func headerTime(r *stream.Record, key string) time.Time {
	v, ok := r.Header(key)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(TimeFormat, string(v))
	if err != nil {
		return time.Time{}
	}
	return t
}
