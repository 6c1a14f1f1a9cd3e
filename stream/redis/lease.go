package redis

import (
	"cmp"
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

// tp names one partition of one topic.
type tp struct {
	topic     string
	partition int32
}

func compareTP(a, b tp) int {
	if c := strings.Compare(a.topic, b.topic); c != 0 {
		return c
	}
	return cmp.Compare(a.partition, b.partition)
}

// memberSub is a live member instance and the topics it consumes.
type memberSub struct {
	instance string
	topics   []string
}

// subscription encodes a member's display name and topics for the group's
// subscriptions hash; parseSubscription decodes it.
func subscription(name string, topics []string) string {
	t := slices.Clone(topics)
	slices.Sort(t)
	return name + "\n" + strings.Join(slices.Compact(t), ",")
}

func parseSubscription(s string) (name string, topics []string) {
	name, rest, _ := strings.Cut(s, "\n")
	if rest != "" {
		topics = strings.Split(rest, ",")
	}
	return name, topics
}

// assign splits the partitions of the members' topics among the members:
// round robin over the partitions sorted by topic and partition, each going
// to the next member (in instance order) that consumes its topic, so every
// member gets an even share. Every member computes the same assignment from
// the same membership. counts holds the partition count of each topic; a
// topic missing from it has no partitions.
func assign(members []memberSub, counts map[string]int32) map[string][]tp {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b memberSub) int { return strings.Compare(a.instance, b.instance) })
	subscribed := make([]map[string]bool, len(ms))
	topics := map[string]bool{}
	for i, m := range ms {
		subscribed[i] = map[string]bool{}
		for _, t := range m.topics {
			subscribed[i][t] = true
			topics[t] = true
		}
	}
	var all []tp
	for t := range topics {
		for p := range counts[t] {
			all = append(all, tp{t, p})
		}
	}
	slices.SortFunc(all, compareTP)
	out := make(map[string][]tp)
	next := 0
	for _, x := range all {
		for k := range ms {
			i := (next + k) % len(ms)
			if subscribed[i][x.topic] {
				out[ms[i].instance] = append(out[ms[i].instance], x)
				next = (i + 1) % len(ms)
				break
			}
		}
	}
	return out
}

// membership is the result of a heartbeat: the generation and the live
// members.
type membership struct {
	gen     int64
	members []memberSub
	names   map[string]string
}

// heartbeat records that instance is alive (or, with leave, that it left)
// and returns the group's live members.
func (b *Broker) heartbeat(ctx context.Context, group, instance, sub string, ttl time.Duration, leave bool) (membership, error) {
	op := "beat"
	if leave {
		op = "leave"
	}
	res, err := b.s.membership.Run(ctx, b.client,
		[]string{b.k.members(group), b.k.subs(group), b.k.gen(group)},
		instance, ttl.Milliseconds(), sub, op).Slice()
	if err != nil {
		return membership{}, b.fail(fmt.Sprintf("group %q: heartbeat", group), err)
	}
	var m membership
	m.names = make(map[string]string)
	if len(res) > 0 {
		m.gen, _ = res[0].(int64)
	}
	for i := 1; i+1 < len(res); i += 2 {
		inst, _ := res[i].(string)
		s, _ := res[i+1].(string)
		name, topics := parseSubscription(s)
		m.members = append(m.members, memberSub{instance: inst, topics: topics})
		m.names[inst] = name
	}
	return m, nil
}

// lease is a member's hold on one partition.
type lease struct {
	epoch     int64
	token     string // "epoch|instance", the lease key's value
	committed int64  // the group's committed offset when the lease was taken
	delivered int64  // offset of the last entry the Redis group delivered
}

// errLeaseHeld is returned by acquire when another member holds the lease.
var errLeaseHeld = errors.New("lease held by another member")

// errFenced is returned by commit when the caller no longer holds the
// lease.
var errFenced = errors.New("lease lost to another member")

// acquire takes the lease of a partition for instance (errLeaseHeld when
// another member holds it), sets the group's offset from startAt when it has
// none, and acknowledges the pending entries below the committed offset.
func (b *Broker) acquire(ctx context.Context, group, instance string, x tp, ttl time.Duration, startAt stream.StartAt) (lease, error) {
	start := "earliest"
	if startAt == stream.StartLatest {
		start = "latest"
	}
	res, err := b.s.acquire.Run(ctx, b.client, []string{
		b.k.lease(group, x.topic, x.partition), b.k.epoch(group), b.k.offsets(group, x.topic),
		b.k.partition(x.topic, x.partition), b.k.meta(x.topic), b.k.groups(), b.k.groupTopics(group), b.k.topicGroups(x.topic),
	}, instance, ttl.Milliseconds(), x.partition, start, group, x.topic).Int64Slice()
	if _, ok := scriptError(err, "ARUS_NOTOPIC"); ok {
		return lease{}, fmt.Errorf("redis: topic %q: %w", x.topic, stream.ErrTopicNotFound)
	}
	if err != nil {
		return lease{}, b.fail(fmt.Sprintf("group %q: take lease of topic %q partition %d", group, x.topic, x.partition), err)
	}
	if len(res) == 1 && res[0] == 0 {
		return lease{}, errLeaseHeld
	}
	if len(res) != 3 {
		return lease{}, fmt.Errorf("redis: group %q: take lease of topic %q partition %d: unexpected reply %v", group, x.topic, x.partition, res)
	}
	return lease{
		epoch:     res[0],
		token:     strconv.FormatInt(res[0], 10) + "|" + instance,
		committed: res[1],
		delivered: res[2],
	}, nil
}

// renew extends the leases whose tokens are given and reports, for each,
// whether it is still held.
func (b *Broker) renew(ctx context.Context, group string, parts []tp, tokens []string, ttl time.Duration) ([]bool, error) {
	keys := make([]string, len(parts))
	args := make([]any, 0, 1+len(tokens))
	args = append(args, ttl.Milliseconds())
	for i, x := range parts {
		keys[i] = b.k.lease(group, x.topic, x.partition)
		args = append(args, tokens[i])
	}
	res, err := b.s.renew.Run(ctx, b.client, keys, args...).Int64Slice()
	if err != nil {
		return nil, b.fail(fmt.Sprintf("group %q: renew leases", group), err)
	}
	held := make([]bool, len(parts))
	for i := range held {
		held[i] = i < len(res) && res[i] == 1
	}
	return held, nil
}

// commit sets the group's committed offset of a partition to "to" and
// drops the lease when release is set, provided the caller's token still
// holds the lease (errFenced otherwise). It returns the group's membership
// generation.
func (b *Broker) commit(ctx context.Context, group string, x tp, token string, from, to int64, release bool) (int64, error) {
	rel := "0"
	if release {
		rel = "1"
	}
	op := fmt.Sprintf("group %q: commit offset %d of topic %q partition %d", group, to, x.topic, x.partition)
	gen, err := b.s.commit.Run(ctx, b.client, []string{
		b.k.lease(group, x.topic, x.partition), b.k.offsets(group, x.topic), b.k.partition(x.topic, x.partition), b.k.gen(group),
	}, token, x.partition, from, to, group, rel).Int64()
	if _, ok := scriptError(err, "ARUS_FENCED"); ok {
		return 0, fmt.Errorf("redis: %s: %w", op, errFenced)
	}
	return gen, b.fail(op, err)
}

// topicCounts reads the partition counts of topics; topics that do not exist
// are left out.
func (b *Broker) topicCounts(ctx context.Context, topics []string) (map[string]int32, error) {
	cmds := make([]*goredis.StringCmd, len(topics))
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, t := range topics {
			cmds[i] = p.HGet(ctx, b.k.meta(t), "partitions")
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, b.fail("read partition counts", err)
	}
	out := make(map[string]int32, len(topics))
	for i, t := range topics {
		if n, err := strconv.ParseInt(cmds[i].Val(), 10, 32); err == nil {
			out[t] = int32(n)
		}
	}
	return out, nil
}
