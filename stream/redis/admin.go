package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
)

// CreateTopic creates a topic. It fails with [stream.ErrTopicExists] when
// the topic exists, whatever its settings.
func (b *Broker) CreateTopic(ctx context.Context, t stream.Topic) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	err := b.s.ensureTopic.Run(ctx, b.client, []string{b.k.meta(t.Name), b.k.topics()},
		t.Name, t.Partitions, int64(t.RetentionTime), t.RetentionBytes, "1").Err()
	if _, ok := scriptError(err, "ARUS_EXISTS"); ok {
		return fmt.Errorf("redis: create topic %q: %w", t.Name, stream.ErrTopicExists)
	}
	if err != nil {
		return b.fail(fmt.Sprintf("create topic %q", t.Name), err)
	}
	b.mu.Lock()
	b.topicCache[t.Name] = t.Partitions
	b.mu.Unlock()
	return nil
}

// DeleteTopic deletes a topic, its records and every group's offsets on
// it, atomically. Consumers of the topic lose its partitions.
func (b *Broker) DeleteTopic(ctx context.Context, name string) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	if err := stream.ValidateTopicName(name); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	op := fmt.Sprintf("delete topic %q", name)
	n, err := b.topicPartitions(ctx, name)
	if err != nil {
		return err
	}
	groups, err := b.client.SMembers(ctx, b.k.topicGroups(name)).Result()
	if err != nil {
		return b.fail(op, err)
	}
	_, err = b.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		del := []string{b.k.meta(name), b.k.topicGroups(name)}
		for i := range n {
			del = append(del, b.k.partition(name, i), b.k.index(name, i))
		}
		for _, g := range groups {
			del = append(del, b.k.offsets(g, name))
			for i := range n {
				del = append(del, b.k.lease(g, name, i))
			}
			p.SRem(ctx, b.k.groupTopics(g), name)
		}
		for c := range slices.Chunk(del, 512) {
			p.Del(ctx, c...)
		}
		p.SRem(ctx, b.k.topics(), name)
		return nil
	})
	b.forget(name)
	return b.fail(op, err)
}

// topicPartitions reads a topic's partition count from Redis.
func (b *Broker) topicPartitions(ctx context.Context, name string) (int32, error) {
	s, err := b.client.HGet(ctx, b.k.meta(name), "partitions").Result()
	if errors.Is(err, goredis.Nil) {
		return 0, fmt.Errorf("redis: topic %q: %w", name, stream.ErrTopicNotFound)
	}
	if err != nil {
		return 0, b.fail(fmt.Sprintf("topic %q", name), err)
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("redis: topic %q: partition count %q is not a number", name, s)
	}
	return int32(n), nil
}

// ListTopics returns every topic with its partitions' bounds, sorted by
// name.
func (b *Broker) ListTopics(ctx context.Context) ([]stream.TopicInfo, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	names, err := b.client.SMembers(ctx, b.k.topics()).Result()
	if err != nil {
		return nil, b.fail("list topics", err)
	}
	slices.Sort(names)
	infos, err := b.describeTopics(ctx, names)
	if err != nil {
		return nil, err
	}
	out := make([]stream.TopicInfo, 0, len(infos))
	for _, info := range infos {
		if info != nil {
			out = append(out, *info)
		}
	}
	return out, nil
}

// DescribeTopic returns a topic's settings and its partitions' bounds.
func (b *Broker) DescribeTopic(ctx context.Context, name string) (stream.TopicInfo, error) {
	if err := b.checkOpen(); err != nil {
		return stream.TopicInfo{}, err
	}
	if err := stream.ValidateTopicName(name); err != nil {
		return stream.TopicInfo{}, fmt.Errorf("redis: %w", err)
	}
	infos, err := b.describeTopics(ctx, []string{name})
	if err != nil {
		return stream.TopicInfo{}, err
	}
	if infos[0] == nil {
		return stream.TopicInfo{}, fmt.Errorf("redis: topic %q: %w", name, stream.ErrTopicNotFound)
	}
	return *infos[0], nil
}

// describeTopics returns the description of each topic, nil for those that
// do not exist.
func (b *Broker) describeTopics(ctx context.Context, names []string) ([]*stream.TopicInfo, error) {
	metas := make([]*goredis.MapStringStringCmd, len(names))
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, n := range names {
			metas[i] = p.HGetAll(ctx, b.k.meta(n))
		}
		return nil
	})
	if err != nil {
		return nil, b.fail("describe topics", err)
	}
	out := make([]*stream.TopicInfo, len(names))
	lens := make([][]*goredis.IntCmd, len(names))
	ends := make([]*goredis.MapStringStringCmd, len(names))
	// Each partition's end (in the meta hash) and length are read in one
	// transaction, so that a produce between them, which changes both at
	// once, cannot make the start look negative.
	_, err = b.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for i, name := range names {
			m := metas[i].Val()
			n, err := strconv.ParseInt(m["partitions"], 10, 32)
			if err != nil {
				continue
			}
			rt, _ := strconv.ParseInt(m["rtime"], 10, 64)
			rb, _ := strconv.ParseInt(m["rbytes"], 10, 64)
			out[i] = &stream.TopicInfo{Topic: stream.Topic{
				Name: name, Partitions: int32(n), RetentionTime: time.Duration(rt), RetentionBytes: rb,
			}}
			ends[i] = p.HGetAll(ctx, b.k.meta(name))
			for j := range int32(n) {
				lens[i] = append(lens[i], p.XLen(ctx, b.k.partition(name, j)))
			}
		}
		return nil
	})
	if err != nil {
		return nil, b.fail("describe topics", err)
	}
	for i, info := range out {
		if info == nil {
			continue
		}
		m := ends[i].Val()
		for j, l := range lens[i] {
			end, _ := strconv.ParseInt(m["n"+strconv.Itoa(j)], 10, 64)
			info.Offsets = append(info.Offsets, stream.PartitionOffsets{Partition: int32(j), Start: end - l.Val(), End: end})
		}
	}
	return out, nil
}

// ListGroups returns every consumer group, sorted by name, described as by
// DescribeGroup.
func (b *Broker) ListGroups(ctx context.Context) ([]stream.GroupInfo, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	names, err := b.client.SMembers(ctx, b.k.groups()).Result()
	if err != nil {
		return nil, b.fail("list groups", err)
	}
	slices.Sort(names)
	out := make([]stream.GroupInfo, 0, len(names))
	for _, g := range names {
		info, err := b.describeGroup(ctx, g, "", nil)
		if errors.Is(err, stream.ErrGroupNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// DescribeGroup returns a group's live members with the partitions each
// owns (holds the lease of, and keeps under the current membership; a
// partition being handed over is shown under no member), and for each
// partition the group has an offset for,
// its committed offset, the end offset, the exact lag and the timestamp of
// the oldest unconsumed record. A group is known from the moment a member
// first joins it.
func (b *Broker) DescribeGroup(ctx context.Context, group string) (stream.GroupInfo, error) {
	if err := b.checkOpen(); err != nil {
		return stream.GroupInfo{}, err
	}
	if err := stream.ValidateGroupName(group); err != nil {
		return stream.GroupInfo{}, fmt.Errorf("redis: %w", err)
	}
	return b.describeGroup(ctx, group, "", nil)
}

// describeGroup describes a group, limited to one topic and some of its
// partitions when topic is not empty and only is not nil.
func (b *Broker) describeGroup(ctx context.Context, group, topic string, only []int32) (stream.GroupInfo, error) {
	op := fmt.Sprintf("describe group %q", group)
	var (
		known   *goredis.BoolCmd
		now     *goredis.TimeCmd
		members *goredis.ZSliceCmd
		subs    *goredis.MapStringStringCmd
		topics  *goredis.StringSliceCmd
	)
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		known = p.SIsMember(ctx, b.k.groups(), group)
		now = p.Time(ctx)
		members = p.ZRangeWithScores(ctx, b.k.members(group), 0, -1)
		subs = p.HGetAll(ctx, b.k.subs(group))
		topics = p.SMembers(ctx, b.k.groupTopics(group))
		return nil
	})
	if err != nil {
		return stream.GroupInfo{}, b.fail(op, err)
	}
	if !known.Val() {
		return stream.GroupInfo{}, fmt.Errorf("redis: group %q: %w", group, stream.ErrGroupNotFound)
	}
	info := stream.GroupInfo{Group: group}
	nowMS := float64(now.Val().UnixMilli())
	byInstance := make(map[string]int)
	var live []memberSub
	var subscribed []string
	for _, z := range members.Val() {
		inst, _ := z.Member.(string)
		if z.Score <= nowMS {
			continue
		}
		name, topics := parseSubscription(subs.Val()[inst])
		if name == "" {
			name = inst
		}
		byInstance[inst] = len(info.Members)
		info.Members = append(info.Members, stream.Member{ID: name})
		live = append(live, memberSub{instance: inst, topics: topics})
		subscribed = append(subscribed, topics...)
	}
	// A member is shown owning a partition when it holds the lease and the
	// current membership assigns the partition to it, so that a hand-over
	// in progress shows the partition as owned by nobody rather than by a
	// member about to give it up.
	slices.Sort(subscribed)
	counts, err := b.topicCounts(ctx, slices.Compact(subscribed))
	if err != nil {
		return stream.GroupInfo{}, err
	}
	assigned := make(map[tp]string)
	for inst, tps := range assign(live, counts) {
		for _, x := range tps {
			assigned[x] = inst
		}
	}
	names := topics.Val()
	if topic != "" {
		names = []string{topic}
	}
	slices.Sort(names)

	type topicCmds struct {
		name    string
		offsets *goredis.MapStringStringCmd
		meta    *goredis.MapStringStringCmd
	}
	tcs := make([]topicCmds, len(names))
	_, err = b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, t := range names {
			tcs[i] = topicCmds{name: t, offsets: p.HGetAll(ctx, b.k.offsets(group, t)), meta: p.HGetAll(ctx, b.k.meta(t))}
		}
		return nil
	})
	if err != nil {
		return stream.GroupInfo{}, b.fail(op, err)
	}

	type partCmds struct {
		lease  *goredis.StringCmd
		oldest *goredis.XMessageSliceCmd
		offset int
	}
	var pcs []partCmds
	_, err = b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, tc := range tcs {
			meta := tc.meta.Val()
			n, err := strconv.ParseInt(meta["partitions"], 10, 32)
			if err != nil {
				continue
			}
			for part := range int32(n) {
				if only != nil && !slices.Contains(only, part) {
					continue
				}
				pc := partCmds{lease: p.Get(ctx, b.k.lease(group, tc.name, part)), offset: -1}
				if cs, ok := tc.offsets.Val()[strconv.Itoa(int(part))]; ok {
					c, _ := strconv.ParseInt(cs, 10, 64)
					end, _ := strconv.ParseInt(meta["n"+strconv.Itoa(int(part))], 10, 64)
					o := stream.GroupOffset{Topic: tc.name, Partition: part, Committed: c, End: end, Lag: max(0, end-c)}
					if o.Lag > 0 {
						pc.oldest = p.XRangeN(ctx, b.k.partition(tc.name, part), entryID(c), "+", 1)
					}
					pc.offset = len(info.Offsets)
					info.Offsets = append(info.Offsets, o)
				}
				pcs = append(pcs, pc)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return stream.GroupInfo{}, b.fail(op, err)
	}
	i := 0
	for _, tc := range tcs {
		n, err := strconv.ParseInt(tc.meta.Val()["partitions"], 10, 32)
		if err != nil {
			continue
		}
		for part := range int32(n) {
			if only != nil && !slices.Contains(only, part) {
				continue
			}
			pc := pcs[i]
			i++
			if pc.oldest != nil && len(pc.oldest.Val()) > 0 {
				if ts, err := decodeTime(entryTime(pc.oldest.Val()[0].Values)); err == nil {
					info.Offsets[pc.offset].Oldest = ts
				}
			}
			if lease, err := pc.lease.Result(); err == nil {
				_, inst, _ := strings.Cut(lease, "|")
				if m, ok := byInstance[inst]; ok && assigned[tp{tc.name, part}] == inst {
					info.Members[m].Partitions = append(info.Members[m].Partitions, stream.TopicPartition{Topic: tc.name, Partition: part})
				}
			}
		}
	}
	slices.SortStableFunc(info.Members, func(a, b stream.Member) int { return strings.Compare(a.ID, b.ID) })
	return info, nil
}

// ResetOffsets moves a group's committed offsets on one topic (on
// to.Partitions, or all partitions) to the earliest or latest retained
// record, the first record at or after a time, or an exact offset, which
// must lie between each partition's start and end offsets (otherwise the
// error wraps both [stream.ErrInvalid] and [stream.ErrOffsetOutOfRange]). The group must have no live
// members ([stream.ErrGroupActive]). A group that never had a member fails
// with [stream.ErrGroupNotFound]. The reset is atomic: either every
// partition moves or none does.
func (b *Broker) ResetOffsets(ctx context.Context, group, topic string, to stream.Reset) ([]stream.GroupOffset, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	if err := stream.ValidateGroupName(group); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if err := stream.ValidateTopicName(topic); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if err := to.Validate(); err != nil {
		return nil, fmt.Errorf("redis: reset group %q on topic %q: %w", group, topic, err)
	}
	op := fmt.Sprintf("reset group %q on topic %q", group, topic)
	known, err := b.client.SIsMember(ctx, b.k.groups(), group).Result()
	if err != nil {
		return nil, b.fail(op, err)
	}
	if !known {
		return nil, fmt.Errorf("redis: %s: group %q: %w", op, group, stream.ErrGroupNotFound)
	}
	n, err := b.topicPartitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	parts := slices.Clone(to.Partitions)
	if len(parts) == 0 {
		for p := range n {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	mode := map[stream.ResetTo]string{stream.ResetEarliest: "earliest", stream.ResetLatest: "latest", stream.ResetTime: "time", stream.ResetOffset: "offset"}[to.To]
	keys := []string{b.k.members(group), b.k.offsets(group, topic), b.k.meta(topic), b.k.groups(), b.k.groupTopics(group), b.k.topicGroups(topic)}
	args := []any{group, topic, mode}
	for _, p := range parts {
		if p >= n {
			return nil, fmt.Errorf("redis: %s: %w", op, stream.Invalidf("topic %q has %d partitions; partition %d does not exist", topic, n, p))
		}
		v := to.Offset
		if to.To == stream.ResetTime {
			if v, err = b.offsetForTime(ctx, topic, p, to.Time); err != nil {
				return nil, err
			}
		}
		keys = append(keys, b.k.partition(topic, p))
		args = append(args, p, v)
	}
	err = b.s.reset.Run(ctx, b.client, keys, args...).Err()
	if _, ok := scriptError(err, "ARUS_ACTIVE"); ok {
		return nil, fmt.Errorf("redis: %s: %w", op, stream.ErrGroupActive)
	}
	if rest, ok := scriptError(err, "ARUS_RANGE"); ok {
		f := strings.Fields(rest)
		if len(f) == 3 {
			return nil, fmt.Errorf("redis: %s: %w: partition %s: offset %d is outside the partition's offsets %s to %s (%w)",
				op, stream.ErrInvalid, f[0], to.Offset, f[1], f[2], stream.ErrOffsetOutOfRange)
		}
		return nil, fmt.Errorf("redis: %s: %w: offset %d (%w)", op, stream.ErrInvalid, to.Offset, stream.ErrOffsetOutOfRange)
	}
	if err != nil {
		return nil, b.fail(op, err)
	}
	info, err := b.describeGroup(ctx, group, topic, parts)
	if err != nil {
		return nil, err
	}
	return info.Offsets, nil
}

// DeleteGroup forgets a group: its offsets, its Redis consumer groups and
// its registration, so retention no longer waits for it. A group with live
// members fails with [stream.ErrGroupActive].
func (b *Broker) DeleteGroup(ctx context.Context, group string) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	if err := stream.ValidateGroupName(group); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	op := fmt.Sprintf("delete group %q", group)
	topics, err := b.client.SMembers(ctx, b.k.groupTopics(group)).Result()
	if err != nil {
		return b.fail(op, err)
	}
	del := []string{b.k.groupTopics(group), b.k.subs(group), b.k.gen(group), b.k.epoch(group)}
	var sets, streams []string
	for _, t := range topics {
		del = append(del, b.k.offsets(group, t))
		sets = append(sets, b.k.topicGroups(t))
		n, err := b.topicPartitions(ctx, t)
		if errors.Is(err, stream.ErrTopicNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		for p := range n {
			del = append(del, b.k.lease(group, t, p))
			streams = append(streams, b.k.partition(t, p))
		}
	}
	keys := append([]string{b.k.members(group), b.k.groups()}, del...)
	keys = append(keys, sets...)
	keys = append(keys, streams...)
	err = b.s.deleteGroup.Run(ctx, b.client, keys, group, len(del), len(sets)).Err()
	if _, ok := scriptError(err, "ARUS_ACTIVE"); ok {
		return fmt.Errorf("redis: %s: %w", op, stream.ErrGroupActive)
	}
	if _, ok := scriptError(err, "ARUS_NOGROUP"); ok {
		return fmt.Errorf("redis: %s: %w", op, stream.ErrGroupNotFound)
	}
	return b.fail(op, err)
}

var _ stream.Sizer = (*Broker)(nil)

// TopicSizes returns, for each named topic, the memory its partitions'
// streams and offset indexes take, as MEMORY USAGE estimates it.
func (b *Broker) TopicSizes(ctx context.Context, topics []string) (map[string]int64, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	infos, err := b.describeTopics(ctx, topics)
	if err != nil {
		return nil, err
	}
	type usage struct {
		topic string
		cmd   *goredis.IntCmd
	}
	var cmds []usage
	_, err = b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, info := range infos {
			if info == nil {
				continue
			}
			for _, po := range info.Offsets {
				for _, key := range []string{b.k.partition(info.Name, po.Partition), b.k.index(info.Name, po.Partition)} {
					cmds = append(cmds, usage{info.Name, p.MemoryUsage(ctx, key)})
				}
			}
		}
		return nil
	})
	// A key that does not exist (an empty partition) answers nil.
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis: topic sizes: %w", err)
	}
	out := make(map[string]int64, len(topics))
	for _, info := range infos {
		if info != nil {
			out[info.Name] = 0
		}
	}
	for _, u := range cmds {
		n, err := u.cmd.Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return nil, fmt.Errorf("redis: topic sizes: %w", err)
		}
		out[u.topic] += n
	}
	return out, nil
}
