package stream

import (
	"context"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of topic and group names and of partition counts.
const (
	MaxNameLength = 249
	MaxPartitions = 10000
	// DefaultMaxRecordBytes is the default maximum record size, 1 MiB.
	DefaultMaxRecordBytes = 1 << 20
)

// Topic describes a topic to create.
type Topic struct {
	// Name: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and
	// neither "." nor "..".
	Name string
	// Partitions: 1 to 10,000.
	Partitions int32
	// RetentionTime: records older than this may be deleted once every
	// registered group has consumed them. Zero keeps them by time forever.
	// Kafka deletes by its topic configs whether or not groups consumed
	// the records, and there zero leaves the broker's default retention.
	RetentionTime time.Duration
	// RetentionBytes: when a partition is larger than this, its oldest records
	// that every registered group has consumed may be deleted. Zero: no limit
	// (on Kafka: the broker's default).
	RetentionBytes int64
}

// Validate checks the topic against the rules above.
func (t Topic) Validate() error {
	if err := ValidateTopicName(t.Name); err != nil {
		return err
	}
	if err := ValidatePartitions(t.Partitions); err != nil {
		return err
	}
	if t.RetentionTime < 0 {
		return Invalidf("topic %q: retention time %s is negative", t.Name, t.RetentionTime)
	}
	if t.RetentionBytes < 0 {
		return Invalidf("topic %q: retention bytes %d is negative", t.Name, t.RetentionBytes)
	}
	return nil
}

// ValidateTopicName checks a topic name: 1 to 249 characters of a-z, A-Z,
// 0-9, '.', '_' and '-', and neither "." nor "..", as in Kafka.
func ValidateTopicName(name string) error {
	return validateName("topic", name)
}

// MaxGroupNameLength is the longest group name in bytes: the longest string
// the Kafka protocol carries.
const MaxGroupNameLength = 32767

// ValidateGroupName checks a consumer group name. Kafka takes any string as
// a group id, and so does Arus, with three limits: it is not empty, it is
// UTF-8 of at most [MaxGroupNameLength] bytes, and it holds no control
// characters (which no terminal or page could show). "svc:billing/v2" and
// "订单" are group names; callers that put one in a URL path escape it.
func ValidateGroupName(name string) error {
	switch {
	case name == "":
		return Invalidf("group name is empty; use 1 to %d bytes of UTF-8 text", MaxGroupNameLength)
	case len(name) > MaxGroupNameLength:
		return Invalidf("group name %.40q... is %d bytes long; the limit is %d", name, len(name), MaxGroupNameLength)
	case !utf8.ValidString(name):
		return Invalidf("group name %q is not valid UTF-8", name)
	}
	for i, r := range name {
		if unicode.IsControl(r) {
			return Invalidf("group name %q has the control character %U at byte %d; use printable text", name, r, i+1)
		}
	}
	return nil
}

func validateName(what, name string) error {
	switch {
	case name == "":
		return Invalidf("%s name is empty; use 1 to %d characters of a-z, A-Z, 0-9, '.', '_' and '-'", what, MaxNameLength)
	case len(name) > MaxNameLength:
		return Invalidf("%s name %.40q... is %d characters long; the limit is %d", what, name, len(name), MaxNameLength)
	case name == "." || name == "..":
		return Invalidf("%s name %q is not allowed", what, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			continue
		}
		return Invalidf("%s name %q has %s at position %d; use only a-z, A-Z, 0-9, '.', '_' and '-'", what, name, quoteByte(c), i+1)
	}
	return nil
}

func quoteByte(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return fmt.Sprintf("%q", rune(c))
}

// ValidatePartitions checks a partition count: 1 to 10,000.
func ValidatePartitions(n int32) error {
	if n < 1 || n > MaxPartitions {
		return Invalidf("partition count %d is out of range; use 1 to %d", n, MaxPartitions)
	}
	return nil
}

// Sizer is implemented by brokers that can tell how much storage topics
// take. TopicSizes returns the bytes of each named topic that exists, as
// its engine counts them: the embedded log the record data it stores, Kafka
// the log segments of one replica of each partition, Redis the memory of
// each partition's stream (estimated by sampling). Consoles show it; it
// is not exact enough for accounting.
type Sizer interface {
	TopicSizes(ctx context.Context, topics []string) (map[string]int64, error)
}

// TopicInfo describes an existing topic.
type TopicInfo struct {
	Topic
	// Offsets holds, for each partition in order, its start and end offsets.
	Offsets []PartitionOffsets
}

// Records returns the number of records the topic holds now.
func (t TopicInfo) Records() int64 {
	var n int64
	for _, p := range t.Offsets {
		n += p.End - p.Start
	}
	return n
}

// PartitionOffsets are the bounds of one partition: Start is the offset of
// the oldest retained record, End the offset the next record will get. A
// partition holds End-Start records.
type PartitionOffsets struct {
	Partition int32
	Start     int64
	End       int64
}
