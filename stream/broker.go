package stream

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Broker is the stream API. Every backend implements it with the guarantees
// stated in the package documentation; stream/streamtest checks them.
// A Broker is safe for concurrent use.
type Broker interface {
	Producer
	Consumer
	Reader
	Admin
	// Ping reports whether the engine is reachable.
	Ping(ctx context.Context) error
	// Close releases the broker's resources. Consume calls still running
	// return; later calls fail with ErrClosed.
	Close() error
}

// Producer writes records.
type Producer interface {
	// Produce stores records and returns when all of them are durable. It
	// assigns each record its partition (by key, see [Partition]) and offset,
	// stamps a [HeaderID] when the record has none and a timestamp when it is
	// zero. Records are validated first: a record over the maximum size or for
	// an invalid topic fails the call before anything is stored. On failure
	// the error is a [*ProduceError] naming the records not stored. Records of
	// one call for the same partition are stored in slice order.
	Produce(ctx context.Context, records ...*Record) error
}

// Handler processes a batch of records from one partition, in offset order.
// Returning nil commits the whole batch; returning a [*PartialError] commits
// its first N records; any other error commits nothing and the records are
// delivered again after [ConsumerConfig.RetryBackoff]. A handler is called
// for at most one batch of a given partition at a time, but batches of
// different partitions may be handled concurrently.
type Handler func(ctx context.Context, batch []*Record) error

// Single adapts a handler of one record at a time into a [Handler]. A failed
// record stops the batch; the records before it are committed.
func Single(h func(ctx context.Context, r *Record) error) Handler {
	return func(ctx context.Context, batch []*Record) error {
		for i, r := range batch {
			if err := h(ctx, r); err != nil {
				if i == 0 {
					return err
				}
				return &PartialError{N: i, Err: err}
			}
		}
		return nil
	}
}

// StartAt says where a group with no committed offset for a partition starts.
type StartAt int

const (
	// StartEarliest starts at the oldest retained record (the default).
	StartEarliest StartAt = iota
	// StartLatest starts at the end: only records produced from now on.
	StartLatest
)

// ConsumerConfig configures one Consume call.
type ConsumerConfig struct {
	// Group is the consumer group; required, with the rules of a topic name.
	Group string
	// Topics to consume; at least one.
	Topics []string
	// Member names this member in group descriptions. Default: host name,
	// process id and a random suffix.
	Member string
	// MaxBatch is the largest batch passed to the handler. Default 500.
	MaxBatch int
	// StartAt applies to partitions for which the group has no offset yet.
	StartAt StartAt
	// RetryBackoff is how long a partition waits after a handler error before
	// its uncommitted records are delivered again. Default 1s.
	RetryBackoff time.Duration
}

// Validate checks the configuration and fills in defaults.
func (c *ConsumerConfig) Validate() error {
	if err := ValidateGroupName(c.Group); err != nil {
		return err
	}
	if len(c.Topics) == 0 {
		return Invalidf("group %q: no topics to consume", c.Group)
	}
	for _, t := range c.Topics {
		if err := ValidateTopicName(t); err != nil {
			return err
		}
	}
	if c.MaxBatch < 0 {
		return Invalidf("max batch %d is negative", c.MaxBatch)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 500
	}
	if c.RetryBackoff < 0 {
		return Invalidf("retry backoff %s is negative", c.RetryBackoff)
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = time.Second
	}
	if c.Member == "" {
		c.Member = DefaultMember()
	}
	return nil
}

// Consumer consumes records in consumer groups.
type Consumer interface {
	// Consume joins cfg.Group and calls h for the records of cfg.Topics on the
	// partitions this member is assigned, until ctx is done. It returns nil
	// after ctx is cancelled, once running handlers have returned and what
	// they finished has been committed; records not committed are delivered
	// again to whichever member next owns their partition. It returns an
	// error when it cannot go on (invalid config, unknown topic with
	// auto-creation off, broker closed).
	Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error
}

// Reader reads records by position, without a consumer group.
type Reader interface {
	// Read returns up to max records of a partition starting at offset, in
	// offset order. An offset below the partition's start reads from the
	// start; an offset equal to the end returns no records; an offset beyond
	// the end fails with ErrOffsetOutOfRange.
	Read(ctx context.Context, topic string, partition int32, offset int64, max int) ([]*Record, error)
	// OffsetForTime returns the offset of the first record of a partition
	// whose timestamp is at or after t, or the end offset when there is none.
	OffsetForTime(ctx context.Context, topic string, partition int32, t time.Time) (int64, error)
}

// Admin manages topics and consumer groups.
type Admin interface {
	CreateTopic(ctx context.Context, t Topic) error
	// DeleteTopic deletes a topic and its records.
	DeleteTopic(ctx context.Context, name string) error
	// ListTopics returns every topic, sorted by name.
	ListTopics(ctx context.Context) ([]TopicInfo, error)
	DescribeTopic(ctx context.Context, name string) (TopicInfo, error)
	// ListGroups returns every consumer group, sorted by name.
	ListGroups(ctx context.Context) ([]GroupInfo, error)
	// DescribeGroup returns a group's members and, for each partition of the
	// topics it has committed offsets for, its lag.
	DescribeGroup(ctx context.Context, group string) (GroupInfo, error)
	// ResetOffsets moves a group's committed offsets on one topic. The group
	// must have no live members (ErrGroupActive otherwise). It returns the
	// offsets as they are after the reset.
	ResetOffsets(ctx context.Context, group, topic string, to Reset) ([]GroupOffset, error)
	// DeleteGroup forgets a group and its offsets; retention then no longer
	// waits for it.
	DeleteGroup(ctx context.Context, group string) error
}

// GroupInfo describes a consumer group.
type GroupInfo struct {
	Group string
	// Members are the live members and the partitions each owns.
	Members []Member
	// Offsets holds one entry per topic partition the group has an offset
	// for, sorted by topic then partition.
	Offsets []GroupOffset
}

// Lag returns the group's total lag over all partitions.
func (g GroupInfo) Lag() int64 {
	var n int64
	for _, o := range g.Offsets {
		n += o.Lag
	}
	return n
}

// Member is a live member of a group.
type Member struct {
	// ID identifies the member in the group. On Kafka it is the member id
	// the group coordinator gave it (its client id and a unique suffix);
	// on the other backends it is the member's name,
	// [ConsumerConfig.Member].
	ID string
	// ClientID is the name the member's client gave itself, on Kafka: an
	// Arus consumer's ConsumerConfig.Member, "rdkafka" for a librdkafka
	// client left at its default. Empty where the backend knows no more
	// than ID.
	ClientID string
	// Host is the address the member connects from, where the backend
	// knows it.
	Host       string
	Partitions []TopicPartition
}

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// GroupOffset is a group's position in one partition.
type GroupOffset struct {
	Topic     string
	Partition int32
	// Committed is the offset of the next record the group will process.
	// When NoCommit is set it is the partition's start offset instead.
	Committed int64
	// NoCommit is set for a partition the group has never committed (a
	// member owns it but has not finished a record there yet): Committed
	// and Lag then count from the partition's start offset.
	NoCommit bool
	// End is the partition's end offset.
	End int64
	// Lag is End minus Committed (never negative).
	Lag int64
	// Oldest is the timestamp of the oldest unconsumed record, zero when the
	// lag is zero or the backend cannot tell cheaply.
	Oldest time.Time
}

// ResetTo names where [Admin.ResetOffsets] moves a group.
type ResetTo int

const (
	ResetEarliest ResetTo = iota + 1
	ResetLatest
	ResetTime
	ResetOffset
)

// Reset is the target of [Admin.ResetOffsets].
type Reset struct {
	To ResetTo
	// Time, for ResetTime: each partition moves to its first record at or
	// after Time.
	Time time.Time
	// Offset, for ResetOffset: each partition moves to Offset, which must lie
	// between the partition's start and end offsets.
	Offset int64
	// Partitions limits the reset to these partitions; empty means all.
	Partitions []int32
}

// String words the target: "earliest", "latest", "2025-01-31T15:04:05Z",
// "offset 42", followed by the partitions when the reset is limited to
// some ("offset 42 on partitions 0, 3").
func (r Reset) String() string {
	var s string
	switch r.To {
	case ResetEarliest:
		s = "earliest"
	case ResetLatest:
		s = "latest"
	case ResetTime:
		s = r.Time.UTC().Format(time.RFC3339Nano)
	case ResetOffset:
		s = "offset " + strconv.FormatInt(r.Offset, 10)
	default:
		s = "target " + strconv.Itoa(int(r.To))
	}
	if len(r.Partitions) > 0 {
		ps := make([]string, len(r.Partitions))
		for i, p := range r.Partitions {
			ps[i] = strconv.Itoa(int(p))
		}
		s += " on partitions " + strings.Join(ps, ", ")
	}
	return s
}

// Validate checks the reset target.
func (r Reset) Validate() error {
	switch r.To {
	case ResetEarliest, ResetLatest:
	case ResetTime:
		if r.Time.IsZero() {
			return Invalidf("reset to time: no time given")
		}
	case ResetOffset:
		if r.Offset < 0 {
			return Invalidf("reset to offset %d: offsets are 0 or more", r.Offset)
		}
	default:
		return Invalidf("reset target %d is unknown; use earliest, latest, a time or an offset", r.To)
	}
	for _, p := range r.Partitions {
		if p < 0 {
			return Invalidf("reset partition %d: partitions are 0 or more", p)
		}
	}
	return nil
}

// Retainer is implemented by backends that apply retention themselves
// (embedded and Redis). EnforceRetention deletes what the topics' retention
// allows now, never a record a registered group has not committed unless a
// hard size cap forces it, and returns how many records it deleted. The
// backend also runs it periodically.
type Retainer interface {
	EnforceRetention(ctx context.Context) (deleted int64, err error)
}
