package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/arus-platform/arus/stream"
)

// retentionWarnFraction is how much of a topic's retention.ms a group's
// oldest unconsumed record may have used up before Arus warns.
const retentionWarnFraction = 0.8

// ListGroups returns every consumer group, sorted by name, described as by
// [Broker.DescribeGroup].
func (b *Broker) ListGroups(ctx context.Context) ([]stream.GroupInfo, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	listed, err := b.adm.ListGroups(ctx)
	if err != nil {
		return nil, wrapErr("list groups", err)
	}
	var names []string
	for _, g := range listed.Sorted() {
		if g.ProtocolType == "" || g.ProtocolType == "consumer" {
			names = append(names, g.Group)
		}
	}
	infos := make([]stream.GroupInfo, 0, len(names))
	for _, name := range names {
		info, err := b.describeGroup(ctx, name)
		if errors.Is(err, stream.ErrGroupNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// DescribeGroup returns a group's live members with the partitions each is
// assigned, and for every partition of the topics the group has committed
// offsets for (or is assigned), its committed offset, end offset, lag and
// the timestamp of the oldest unconsumed record (read from the record at
// the committed offset). A partition the group has not committed yet has
// NoCommit set, and its lag counts from the partition's start offset.
// Members carry the coordinator's member id, the client id and the host. It
// logs a warning for every partition whose oldest unconsumed record has
// used up more than 80% of its topic's retention.ms (see
// [Broker.RetentionRisks]). It fails with [stream.ErrGroupNotFound] for a
// group with neither members nor committed offsets.
func (b *Broker) DescribeGroup(ctx context.Context, group string) (stream.GroupInfo, error) {
	if err := stream.ValidateGroupName(group); err != nil {
		return stream.GroupInfo{}, err
	}
	if err := b.check(); err != nil {
		return stream.GroupInfo{}, err
	}
	info, err := b.describeGroup(ctx, group)
	if err != nil {
		return stream.GroupInfo{}, err
	}
	risks, err := b.retentionRisks(ctx, info)
	if err == nil {
		for _, r := range risks {
			b.log.Warn("kafka: group's oldest unconsumed record nears the topic's retention; it may be deleted unconsumed",
				"group", group, "topic", r.Topic, "partition", r.Partition, "offset", r.Committed,
				"age", r.Age.Round(time.Second), "retention", r.Retention)
		}
	}
	return info, nil
}

func (b *Broker) describeGroup(ctx context.Context, group string) (stream.GroupInfo, error) {
	info := stream.GroupInfo{Group: group, Members: []stream.Member{}, Offsets: []stream.GroupOffset{}}
	dg, err := b.describeClassic(ctx, group)
	if err != nil {
		return info, err
	}
	fetched, err := b.adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return info, wrapErr(fmt.Sprintf("fetch offsets of group %q", group), err)
	}

	committed := make(map[stream.TopicPartition]int64)
	topics := make(map[string]bool)
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			committed[stream.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.At
			topics[o.Topic] = true
		}
	})
	for _, m := range dg.Members {
		member := stream.Member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Partitions: []stream.TopicPartition{}}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				topics[t.Topic] = true
				for _, p := range t.Partitions {
					member.Partitions = append(member.Partitions, stream.TopicPartition{Topic: t.Topic, Partition: p})
				}
			}
		}
		slices.SortFunc(member.Partitions, compareTP)
		info.Members = append(info.Members, member)
	}
	slices.SortFunc(info.Members, func(a, b stream.Member) int { return cmp.Compare(a.ID, b.ID) })
	if len(info.Members) == 0 && len(committed) == 0 {
		return info, fmt.Errorf("kafka: group %q: %w", group, stream.ErrGroupNotFound)
	}
	if len(topics) == 0 {
		return info, nil
	}

	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	slices.Sort(names)
	starts, err := b.adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return info, wrapErr(fmt.Sprintf("list start offsets for group %q", group), err)
	}
	ends, err := b.adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return info, wrapErr(fmt.Sprintf("list end offsets for group %q", group), err)
	}
	lagging := make(map[stream.TopicPartition]int64)
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil || e.Partition < 0 {
			return
		}
		tp := stream.TopicPartition{Topic: e.Topic, Partition: e.Partition}
		at, ok := committed[tp]
		noCommit := !ok
		if !ok {
			s, found := starts.Lookup(e.Topic, e.Partition)
			if !found || s.Err != nil {
				return
			}
			at = s.Offset
		}
		o := stream.GroupOffset{Topic: e.Topic, Partition: e.Partition, Committed: at, End: e.Offset, Lag: max(e.Offset-at, 0), NoCommit: noCommit}
		if o.Lag > 0 {
			lagging[tp] = at
		}
		info.Offsets = append(info.Offsets, o)
	})
	slices.SortFunc(info.Offsets, func(a, b stream.GroupOffset) int {
		return compareTP(stream.TopicPartition{Topic: a.Topic, Partition: a.Partition}, stream.TopicPartition{Topic: b.Topic, Partition: b.Partition})
	})
	oldest := b.oldest(ctx, lagging)
	for i := range info.Offsets {
		o := &info.Offsets[i]
		o.Oldest = oldest[stream.TopicPartition{Topic: o.Topic, Partition: o.Partition}]
	}
	return info, nil
}

// describeClassic describes a group; a group Kafka does not know comes back
// empty, not as an error.
func (b *Broker) describeClassic(ctx context.Context, group string) (kadm.DescribedGroup, error) {
	described, err := b.adm.DescribeGroups(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return kadm.DescribedGroup{}, wrapErr(fmt.Sprintf("describe group %q", group), err)
	}
	dg, ok := described[group]
	if !ok || errors.Is(dg.Err, kerr.GroupIDNotFound) {
		return kadm.DescribedGroup{Group: group, State: "Dead"}, nil
	}
	if dg.Err != nil {
		return dg, wrapErr(fmt.Sprintf("describe group %q", group), dg.Err)
	}
	return dg, nil
}

func compareTP(a, b stream.TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// ResetOffsets moves a group's committed offsets on one topic to its
// earliest or latest records, to the first record at or after a time, or to
// an exact offset, on all partitions or those in to.Partitions. The group
// must have no live members: it fails with [stream.ErrGroupActive]
// otherwise. An exact offset outside a partition's start and end fails
// with an error that is both [stream.ErrInvalid] and
// [stream.ErrOffsetOutOfRange]. It returns the offsets after the reset,
// sorted by partition.
func (b *Broker) ResetOffsets(ctx context.Context, group, topic string, to stream.Reset) ([]stream.GroupOffset, error) {
	if err := stream.ValidateGroupName(group); err != nil {
		return nil, err
	}
	if err := stream.ValidateTopicName(topic); err != nil {
		return nil, err
	}
	if err := to.Validate(); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	dg, err := b.describeClassic(ctx, group)
	if err != nil {
		return nil, err
	}
	if len(dg.Members) > 0 {
		return nil, fmt.Errorf("kafka: reset offsets of group %q: %w (%d live members); stop its consumers first",
			group, stream.ErrGroupActive, len(dg.Members))
	}
	tds, err := b.topicDetails(ctx, topic)
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("look up topic %q", topic), err)
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return nil, topicNotFound(topic)
	}
	parts := to.Partitions
	if len(parts) == 0 {
		parts = td.Partitions.Numbers()
	}
	for _, p := range parts {
		if _, ok := td.Partitions[p]; !ok {
			return nil, stream.Invalidf("reset group %q: topic %q has %d partitions; partition %d does not exist",
				group, topic, len(td.Partitions), p)
		}
	}
	starts, err := b.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("list start offsets of topic %q", topic), err)
	}
	ends, err := b.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("list end offsets of topic %q", topic), err)
	}
	var atTime kadm.ListedOffsets
	if to.To == stream.ResetTime {
		if atTime, err = b.adm.ListOffsetsAfterMilli(ctx, max(to.Time.UnixMilli(), 0), topic); err != nil {
			return nil, wrapErr(fmt.Sprintf("list offsets of topic %q after %s", topic, to.Time), err)
		}
	}

	commit := make(kadm.Offsets)
	out := make([]stream.GroupOffset, 0, len(parts))
	for _, p := range parts {
		start, err := lookupOffset(starts, topic, p)
		if err != nil {
			return nil, err
		}
		end, err := lookupOffset(ends, topic, p)
		if err != nil {
			return nil, err
		}
		var at int64
		switch to.To {
		case stream.ResetEarliest:
			at = start
		case stream.ResetLatest:
			at = end
		case stream.ResetTime:
			if at, err = lookupOffset(atTime, topic, p); err != nil {
				return nil, err
			}
		case stream.ResetOffset:
			if to.Offset < start || to.Offset > end {
				return nil, fmt.Errorf("kafka: reset group %q topic %q partition %d to offset %d: %w: %w: the partition holds offsets %d to %d",
					group, topic, p, to.Offset, stream.ErrInvalid, stream.ErrOffsetOutOfRange, start, end)
			}
			at = to.Offset
		}
		commit.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
		out = append(out, stream.GroupOffset{Topic: topic, Partition: p, Committed: at, End: end, Lag: max(end-at, 0)})
	}
	resps, err := b.adm.CommitOffsets(ctx, group, commit)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) {
			return nil, fmt.Errorf("kafka: reset offsets of group %q: %w: a member joined meanwhile: %w", group, stream.ErrGroupActive, err)
		}
		return nil, wrapErr(fmt.Sprintf("reset offsets of group %q", group), err)
	}
	slices.SortFunc(out, func(a, b stream.GroupOffset) int { return cmp.Compare(a.Partition, b.Partition) })
	lagging := make(map[stream.TopicPartition]int64)
	for _, o := range out {
		if o.Lag > 0 {
			lagging[stream.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Committed
		}
	}
	oldest := b.oldest(ctx, lagging)
	for i := range out {
		out[i].Oldest = oldest[stream.TopicPartition{Topic: out[i].Topic, Partition: out[i].Partition}]
	}
	return out, nil
}

// DeleteGroup deletes a group and its committed offsets. It fails with
// [stream.ErrGroupNotFound] when Kafka does not know the group and with
// [stream.ErrGroupActive] while it has live members.
func (b *Broker) DeleteGroup(ctx context.Context, group string) error {
	if err := stream.ValidateGroupName(group); err != nil {
		return err
	}
	if err := b.check(); err != nil {
		return err
	}
	if _, err := b.adm.DeleteGroup(ctx, group); err != nil {
		return wrapErr(fmt.Sprintf("delete group %q", group), err)
	}
	return nil
}

// RetentionRisk is a partition on which a group's oldest unconsumed record
// has used up most of its topic's retention time: Kafka deletes records by
// age whether or not a group consumed them, so these records may be lost to
// the group unless it catches up.
type RetentionRisk struct {
	stream.GroupOffset
	// Age is how old the oldest unconsumed record is.
	Age time.Duration
	// Retention is the topic's retention.ms.
	Retention time.Duration
}

// RetentionRisks returns the partitions on which group's oldest unconsumed
// record is older than 80% of its topic's retention.ms, sorted by topic and
// partition. Topics without a time limit never appear.
func (b *Broker) RetentionRisks(ctx context.Context, group string) ([]RetentionRisk, error) {
	if err := stream.ValidateGroupName(group); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	info, err := b.describeGroup(ctx, group)
	if err != nil {
		return nil, err
	}
	return b.retentionRisks(ctx, info)
}

func (b *Broker) retentionRisks(ctx context.Context, info stream.GroupInfo) ([]RetentionRisk, error) {
	var topics []string
	for _, o := range info.Offsets {
		if !o.Oldest.IsZero() && !slices.Contains(topics, o.Topic) {
			topics = append(topics, o.Topic)
		}
	}
	if len(topics) == 0 {
		return nil, nil
	}
	rcs, err := b.adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, wrapErr("describe topic configs", err)
	}
	retention := make(map[string]time.Duration)
	for _, rc := range rcs {
		if v, ok := configValue(rc, configRetentionMs); ok && rc.Err == nil {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
				retention[rc.Name] = time.Duration(ms) * time.Millisecond
			}
		}
	}
	now := time.Now()
	var risks []RetentionRisk
	for _, o := range info.Offsets {
		r, ok := retention[o.Topic]
		if !ok || o.Oldest.IsZero() {
			continue
		}
		if age := now.Sub(o.Oldest); float64(age) > retentionWarnFraction*float64(r) {
			risks = append(risks, RetentionRisk{GroupOffset: o, Age: age, Retention: r})
		}
	}
	return risks, nil
}
