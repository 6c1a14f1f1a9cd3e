package embedded

import (
	"context"
	"fmt"

	"github.com/arus-platform/arus/stream"
)

// This file is the embedded log's surface for a front end that speaks
// another protocol on top of it (the Kafka wire protocol): clients that
// pick partitions themselves, wait for appends and coordinate their own
// consumer groups while sharing the log's offsets.

// Append queues records for one partition of topic and returns a function
// that waits for their outcome: nil once they are durable, as [Broker.Produce]
// promises. Records are validated and stamped as by Produce (a record id,
// a timestamp when zero) and their Partition is set; their Offset is set
// when the wait returns nil. Appends queued one after another by one
// goroutine are stored in that order. An unknown topic is created with the
// default partition count unless Options.Strict is set; a partition the
// topic does not have fails with an error wrapping ErrInvalid.
func (b *Broker) Append(ctx context.Context, topic string, partition int32, records []*stream.Record) (wait func() error, err error) {
	if b.closed.Load() {
		return nil, stream.ErrClosed
	}
	if len(records) == 0 {
		return func() error { return nil }, nil
	}
	for _, r := range records {
		if r != nil {
			r.Topic = topic
		}
	}
	if err := b.cfg.Prepare(records); err != nil {
		return nil, err
	}
	t, err := b.topic(ctx, topic, !b.cfg.Strict)
	if err != nil {
		return nil, fmt.Errorf("embedded: append: %w", err)
	}
	if partition < 0 || partition >= t.topic.Partitions {
		return nil, stream.Invalidf("embedded: append: topic %q has no partition %d; it has %d", topic, partition, t.topic.Partitions)
	}
	p := t.parts[partition]
	o := &op{kind: opProduce, records: records, parts: make([]*partState, len(records))}
	for i, r := range records {
		r.Partition = partition
		o.parts[i] = p
		o.bytes += r.Size()
	}
	if err := b.w.enqueue(o); err != nil {
		return nil, fmt.Errorf("embedded: append: %w", err)
	}
	return func() error {
		if err := <-o.done; err != nil {
			return fmt.Errorf("embedded: append to topic %q partition %d: %w", topic, partition, err)
		}
		return nil
	}, nil
}

// Watch returns a partition's start and end offsets and a channel that is
// closed at the partition's next append (or when its topic is deleted), so
// a reader can wait for records without polling.
func (b *Broker) Watch(topic string, partition int32) (start, end int64, next <-chan struct{}, err error) {
	p, err := b.partition(topic, partition)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("embedded: watch: %w", err)
	}
	next = p.waitChan()
	return p.start.Load(), p.end.Load(), next, nil
}

// CommitOffsets commits a group's offsets durably on behalf of consumers
// that coordinate themselves, and registers the group for the topics, so
// that retention keeps what it has not committed and DescribeGroup shows
// its lag. Each offset must lie between its partition's start and end
// (clamped into that range otherwise, as a Kafka broker keeps what clients
// commit but a position outside the log is read from its nearest end).
func (b *Broker) CommitOffsets(ctx context.Context, group string, offsets map[stream.TopicPartition]int64) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := stream.ValidateGroupName(group); err != nil {
		return fmt.Errorf("embedded: commit offsets: %w", err)
	}
	var topics []*topicState
	commits := make([]offsetCommit, 0, len(offsets))
	for tp, off := range offsets {
		p, err := b.partition(tp.Topic, tp.Partition)
		if err != nil {
			return fmt.Errorf("embedded: commit offsets of group %q: %w", group, err)
		}
		if off < 0 {
			return stream.Invalidf("embedded: commit offsets of group %q: offset %d for topic %q partition %d is negative", group, off, tp.Topic, tp.Partition)
		}
		off = min(max(off, p.start.Load()), p.end.Load())
		commits = append(commits, offsetCommit{p: p, off: off})
		topics = append(topics, p.t)
	}
	if len(commits) == 0 {
		return nil
	}
	if err := b.register(group, topics); err != nil {
		return fmt.Errorf("embedded: commit offsets of group %q: %w", group, err)
	}
	if err := b.w.submit(&op{kind: opCommit, group: group, commits: commits}); err != nil {
		return fmt.Errorf("embedded: commit offsets of group %q: %w", group, err)
	}
	return nil
}

// Committed returns a group's committed offsets, without the lag that
// DescribeGroup computes; an unknown group has none.
func (b *Broker) Committed(group string) map[stream.TopicPartition]int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	g := b.groups[group]
	if g == nil {
		return nil
	}
	out := make(map[stream.TopicPartition]int64, len(g.offsets))
	for p, off := range g.offsets {
		out[stream.TopicPartition{Topic: p.t.topic.Name, Partition: p.index}] = off
	}
	return out
}

// claim is one ClaimGroup call.
type claim struct {
	owner   string
	members func() []stream.Member
}

// ClaimGroup marks a group as coordinated outside the broker, by owner (a
// protocol name, for the error message), until release is called. While a
// group is claimed, Consume for it fails with ErrGroupActive, and a group
// with live Consume members cannot be claimed (ErrGroupActive): one group's
// live members are all of one protocol, while its offsets are shared.
// members, when not nil, lists the claimer's live members for
// DescribeGroup; it is called without the broker's locks held. Claims are
// counted: each ClaimGroup needs its own release.
func (b *Broker) ClaimGroup(group, owner string, members func() []stream.Member) (release func(), err error) {
	c := b.coord
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.unheld(group)
	if len(g.members) > 0 {
		c.forget(g)
		return nil, fmt.Errorf("embedded: group %q: %w: %d member(s) consume it through the Arus API; stop them or use another group",
			group, stream.ErrGroupActive, len(g.members))
	}
	if g.claims == nil {
		g.claims = make(map[*claim]struct{})
	}
	cl := &claim{owner: owner, members: members}
	g.claims[cl] = struct{}{}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(g.claims, cl)
		c.forget(g)
	}, nil
}

// EnsureTopic returns a topic, creating it with the default partition count
// first when it does not exist, unless Options.Strict is set (then it fails
// with ErrTopicNotFound), as a produce to an unknown topic would.
func (b *Broker) EnsureTopic(ctx context.Context, name string) (stream.TopicInfo, error) {
	if err := b.check(ctx); err != nil {
		return stream.TopicInfo{}, err
	}
	if err := stream.ValidateTopicName(name); err != nil {
		return stream.TopicInfo{}, fmt.Errorf("embedded: ensure topic: %w", err)
	}
	t, err := b.topic(ctx, name, !b.cfg.Strict)
	if err != nil {
		return stream.TopicInfo{}, fmt.Errorf("embedded: ensure topic: %w", err)
	}
	return t.info(), nil
}

// Options returns the options the log runs with, defaults filled in.
func (b *Broker) Options() stream.Options { return b.cfg.Options }
