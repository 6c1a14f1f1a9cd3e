package embedded

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arus-platform/arus/stream"
)

// CreateTopic creates a topic; it fails with ErrTopicExists when one of that
// name exists. The topic is durable when CreateTopic returns.
func (b *Broker) CreateTopic(ctx context.Context, t stream.Topic) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("embedded: create topic: %w", err)
	}
	return b.createTopic(ctx, t, false)
}

func (b *Broker) createTopic(ctx context.Context, t stream.Topic, ifMissing bool) error {
	err := b.w.exclusive(func(c *dbConn) (func(), error) {
		if b.lookup(t.Name) != nil {
			if ifMissing {
				return nil, nil
			}
			return nil, fmt.Errorf("embedded: create topic %q: %w", t.Name, stream.ErrTopicExists)
		}
		id, err := c.insert(sqlInsertTopic,
			t.Name, t.Partitions, int64(t.RetentionTime), t.RetentionBytes)
		if err != nil {
			return nil, err
		}
		ts := &topicState{id: id, topic: t, parts: make([]*partState, t.Partitions), gone: make(chan struct{})}
		for i := range ts.parts {
			pid, err := c.insert(sqlInsertPartition, id, i)
			if err != nil {
				return nil, err
			}
			ts.parts[i] = newPart(ts, pid, int32(i))
			ts.parts[i].wMaxTime = minTime
		}
		return func() {
			b.mu.Lock()
			b.topics[t.Name] = ts
			b.mu.Unlock()
			b.coord.topicsChanged()
		}, nil
	})
	if err != nil && !strings.HasPrefix(err.Error(), "embedded:") {
		err = fmt.Errorf("embedded: create topic %q: %w", t.Name, err)
	}
	return err
}

// minTime is the max_time of an empty partition.
const minTime = -1 << 63

// DeleteTopic deletes a topic, its records, and the offsets and
// registrations groups hold on it. Consumers of the topic stop handling it.
// The topic is gone when DeleteTopic returns; the space of its records is
// freed in the background in small transactions, so that deleting a large
// topic does not hold up producers.
func (b *Broker) DeleteTopic(ctx context.Context, name string) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := stream.ValidateTopicName(name); err != nil {
		return fmt.Errorf("embedded: delete topic: %w", err)
	}
	return b.w.exclusive(func(c *dbConn) (func(), error) {
		t := b.lookup(name)
		if t == nil {
			return nil, fmt.Errorf("embedded: delete topic %q: %w", name, stream.ErrTopicNotFound)
		}
		for _, p := range t.parts {
			if _, err := c.exec(sqlDropPartition, p.pid); err != nil {
				return nil, err
			}
			if _, err := c.exec(sqlDeletePartitionOffsets, p.pid); err != nil {
				return nil, err
			}
		}
		for _, q := range []string{
			sqlDeleteTopicPartitions,
			sqlDeleteTopicGroups,
			sqlDeleteTopic,
		} {
			if _, err := c.exec(q, t.id); err != nil {
				return nil, fmt.Errorf("embedded: delete topic %q: %w", name, err)
			}
		}
		return func() {
			t.dropped = true
			b.mu.Lock()
			delete(b.topics, name)
			for _, g := range b.groups {
				delete(g.topics, t.id)
				for _, p := range t.parts {
					delete(g.offsets, p)
				}
			}
			b.mu.Unlock()
			close(t.gone)
			for _, p := range t.parts {
				p.signal()
			}
			b.coord.topicsChanged()
			b.kickPurge()
		}, nil
	})
}

// ListTopics returns every topic with its partitions' offsets, sorted by name.
func (b *Broker) ListTopics(ctx context.Context) ([]stream.TopicInfo, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	b.mu.RLock()
	infos := make([]stream.TopicInfo, 0, len(b.topics))
	for _, t := range b.topics {
		infos = append(infos, t.info())
	}
	b.mu.RUnlock()
	slices.SortFunc(infos, func(a, b stream.TopicInfo) int { return strings.Compare(a.Name, b.Name) })
	return infos, nil
}

// DescribeTopic returns a topic with its partitions' start and end offsets.
func (b *Broker) DescribeTopic(ctx context.Context, name string) (stream.TopicInfo, error) {
	if err := b.check(ctx); err != nil {
		return stream.TopicInfo{}, err
	}
	t := b.lookup(name)
	if t == nil {
		return stream.TopicInfo{}, fmt.Errorf("embedded: describe topic %q: %w", name, stream.ErrTopicNotFound)
	}
	return t.info(), nil
}

func (t *topicState) info() stream.TopicInfo {
	info := stream.TopicInfo{Topic: t.topic, Offsets: make([]stream.PartitionOffsets, len(t.parts))}
	for i, p := range t.parts {
		info.Offsets[i] = stream.PartitionOffsets{Partition: p.index, Start: p.start.Load(), End: p.end.Load()}
	}
	return info
}

// ListGroups returns every group that is registered or has live members,
// sorted by name, each described as by DescribeGroup.
func (b *Broker) ListGroups(ctx context.Context) ([]stream.GroupInfo, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	names := b.coord.liveGroups()
	b.mu.RLock()
	for name := range b.groups {
		names = append(names, name)
	}
	b.mu.RUnlock()
	slices.Sort(names)
	names = slices.Compact(names)
	infos := make([]stream.GroupInfo, 0, len(names))
	for _, name := range names {
		info, err := b.describeGroup(ctx, name)
		if err != nil {
			continue // deleted meanwhile
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// DescribeGroup returns a group's live members with their partitions and,
// for each partition it has a committed offset for, the end offset, the
// exact lag and the timestamp of the oldest unconsumed record.
func (b *Broker) DescribeGroup(ctx context.Context, group string) (stream.GroupInfo, error) {
	if err := b.check(ctx); err != nil {
		return stream.GroupInfo{}, err
	}
	if err := stream.ValidateGroupName(group); err != nil {
		return stream.GroupInfo{}, fmt.Errorf("embedded: describe group: %w", err)
	}
	return b.describeGroup(ctx, group)
}

func (b *Broker) describeGroup(ctx context.Context, group string) (stream.GroupInfo, error) {
	info := stream.GroupInfo{Group: group, Members: b.coord.members(group)}
	type pos struct {
		p   *partState
		off int64
	}
	var offs []pos
	b.mu.RLock()
	g := b.groups[group]
	if g != nil {
		for p, off := range g.offsets {
			offs = append(offs, pos{p, off})
		}
	}
	b.mu.RUnlock()
	if g == nil && info.Members == nil {
		return stream.GroupInfo{}, fmt.Errorf("embedded: group %q: %w", group, stream.ErrGroupNotFound)
	}
	for _, o := range offs {
		end := o.p.end.Load()
		gp := stream.GroupOffset{Topic: o.p.t.topic.Name, Partition: o.p.index, Committed: o.off, End: end, Lag: max(0, end-o.off)}
		if gp.Lag > 0 {
			at := max(o.off, o.p.start.Load())
			ts, err := b.timeAt(ctx, o.p, at)
			if err != nil {
				return stream.GroupInfo{}, fmt.Errorf("embedded: describe group %q: %w", group, err)
			}
			gp.Oldest = ts
		}
		info.Offsets = append(info.Offsets, gp)
	}
	slices.SortFunc(info.Offsets, func(a, b stream.GroupOffset) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return info, nil
}

// ResetOffsets moves a group's committed offsets on one topic, durably. The
// group must have no live members (ErrGroupActive). A group that never
// consumed may be positioned this way before its first member starts; it is
// then registered for the topic. Offsets for ResetOffset must lie between a
// partition's start and end (otherwise the error wraps both ErrInvalid and
// ErrOffsetOutOfRange).
func (b *Broker) ResetOffsets(ctx context.Context, group, topic string, to stream.Reset) ([]stream.GroupOffset, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	if err := stream.ValidateGroupName(group); err != nil {
		return nil, fmt.Errorf("embedded: reset offsets: %w", err)
	}
	if err := to.Validate(); err != nil {
		return nil, fmt.Errorf("embedded: reset offsets of group %q: %w", group, err)
	}
	t := b.lookup(topic)
	if t == nil {
		if err := stream.ValidateTopicName(topic); err != nil {
			return nil, fmt.Errorf("embedded: reset offsets of group %q: %w", group, err)
		}
		return nil, fmt.Errorf("embedded: reset offsets of group %q: topic %q: %w", group, topic, stream.ErrTopicNotFound)
	}
	parts := t.parts
	if len(to.Partitions) > 0 {
		parts = nil
		for _, i := range to.Partitions {
			if i >= t.topic.Partitions {
				return nil, stream.Invalidf("embedded: reset offsets of group %q: topic %q has no partition %d; it has %d", group, topic, i, t.topic.Partitions)
			}
			if !slices.Contains(parts, t.parts[i]) {
				parts = append(parts, t.parts[i])
			}
		}
	}
	// Hold the group so no member joins while its offsets move.
	unlock, err := b.coord.hold(group)
	if err != nil {
		return nil, fmt.Errorf("embedded: reset offsets of group %q: %w", group, err)
	}
	defer unlock()

	commits := make([]offsetCommit, 0, len(parts))
	for _, p := range parts {
		start, end := p.start.Load(), p.end.Load()
		var off int64
		switch to.To {
		case stream.ResetEarliest:
			off = start
		case stream.ResetLatest:
			off = end
		case stream.ResetTime:
			if off, err = b.offsetForTime(ctx, p, to.Time); err != nil {
				return nil, fmt.Errorf("embedded: reset offsets of group %q: %w", group, err)
			}
		case stream.ResetOffset:
			if to.Offset < start || to.Offset > end {
				return nil, fmt.Errorf("embedded: reset group %q on topic %q partition %d to offset %d: %w (%w): the partition holds offsets %d to %d",
					group, topic, p.index, to.Offset, stream.ErrInvalid, stream.ErrOffsetOutOfRange, start, end)
			}
			off = to.Offset
		}
		commits = append(commits, offsetCommit{p: p, off: off})
	}
	if err := b.register(group, []*topicState{t}); err != nil {
		return nil, fmt.Errorf("embedded: reset offsets of group %q: %w", group, err)
	}
	if err := b.w.submit(&op{kind: opCommit, group: group, commits: commits}); err != nil {
		return nil, fmt.Errorf("embedded: reset offsets of group %q: %w", group, err)
	}
	out := make([]stream.GroupOffset, 0, len(commits))
	for _, c := range commits {
		end := c.p.end.Load()
		out = append(out, stream.GroupOffset{Topic: topic, Partition: c.p.index, Committed: c.off, End: end, Lag: max(0, end-c.off)})
	}
	slices.SortFunc(out, func(a, b stream.GroupOffset) int { return int(a.Partition - b.Partition) })
	return out, nil
}

// register records durably that group consumes topics, so that retention
// keeps what it has not committed.
func (b *Broker) register(group string, topics []*topicState) error {
	var missing []*topicState
	b.mu.RLock()
	g := b.groups[group]
	for _, t := range topics {
		if g == nil || !g.topics[t.id] {
			missing = append(missing, t)
		}
	}
	b.mu.RUnlock()
	if len(missing) == 0 {
		return nil
	}
	return b.w.exclusive(func(c *dbConn) (func(), error) {
		now := time.Now().UnixNano()
		var added []*topicState
		for _, t := range missing {
			if t.dropped {
				continue
			}
			if _, err := c.exec(sqlRegisterGroup, group, t.id, now); err != nil {
				return nil, err
			}
			added = append(added, t)
		}
		return func() {
			b.mu.Lock()
			g := b.group(group)
			for _, t := range added {
				g.topics[t.id] = true
			}
			b.mu.Unlock()
		}, nil
	})
}

// DeleteGroup forgets a group, its registrations and its offsets; retention
// no longer waits for it. A group with live members cannot be deleted
// (ErrGroupActive).
func (b *Broker) DeleteGroup(ctx context.Context, group string) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := stream.ValidateGroupName(group); err != nil {
		return fmt.Errorf("embedded: delete group: %w", err)
	}
	unlock, err := b.coord.hold(group)
	if err != nil {
		return fmt.Errorf("embedded: delete group %q: %w", group, err)
	}
	defer unlock()
	return b.w.exclusive(func(c *dbConn) (func(), error) {
		b.mu.RLock()
		_, ok := b.groups[group]
		b.mu.RUnlock()
		if !ok {
			return nil, fmt.Errorf("embedded: delete group %q: %w", group, stream.ErrGroupNotFound)
		}
		if _, err := c.exec(sqlDeleteGroupTopics, group); err != nil {
			return nil, err
		}
		if _, err := c.exec(sqlDeleteGroupOffsets, group); err != nil {
			return nil, err
		}
		return func() {
			b.mu.Lock()
			delete(b.groups, group)
			b.mu.Unlock()
		}, nil
	})
}

var _ stream.Sizer = (*Broker)(nil)

// TopicSizes returns the bytes of record data each named topic holds.
func (b *Broker) TopicSizes(ctx context.Context, topics []string) (map[string]int64, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(topics))
	for _, name := range topics {
		t := b.lookup(name)
		if t == nil {
			continue
		}
		var n int64
		for _, p := range t.parts {
			n += p.bytes.Load()
		}
		out[name] = n
	}
	return out, nil
}
