package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// EnforceRetention deletes, in every partition, the oldest records that the
// topic's retention allows to go: records older than its retention time and,
// while the partition holds more than its retention bytes, its oldest
// records. It never deletes a record at or after the committed offset of a
// group registered on the topic (a group that has joined it and not been
// deleted), nor any record of a partition for which such a group has no
// offset yet, unless [Config.HardCapBytes] is set and the partition is above
// it: then it deletes the oldest records down to the cap, logs a warning and
// counts them in [Broker.Stats]. Retention works on whole produced batches,
// so it may keep a few records more than the limits allow. It returns how
// many records it deleted.
//
// The broker runs it every [Config.RetentionInterval]; with several brokers
// on one prefix, one of them runs it per interval.
func (b *Broker) EnforceRetention(ctx context.Context) (int64, error) {
	if err := b.checkOpen(); err != nil {
		return 0, err
	}
	names, err := b.client.SMembers(ctx, b.k.topics()).Result()
	if err != nil {
		return 0, b.fail("retention: list topics", err)
	}
	var deleted int64
	for _, t := range names {
		n, err := b.retainTopic(ctx, t)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

func (b *Broker) retainTopic(ctx context.Context, topic string) (int64, error) {
	var meta *goredis.SliceCmd
	var groups *goredis.StringSliceCmd
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		meta = p.HMGet(ctx, b.k.meta(topic), "partitions", "rtime", "rbytes")
		groups = p.SMembers(ctx, b.k.topicGroups(topic))
		return nil
	})
	if err != nil {
		return 0, b.fail(fmt.Sprintf("retention of topic %q", topic), err)
	}
	v := meta.Val()
	str := func(i int) string { s, _ := v[i].(string); return s }
	n, err := strconv.ParseInt(str(0), 10, 32)
	if err != nil {
		return 0, nil // deleted meanwhile
	}
	rtime, _ := strconv.ParseInt(str(1), 10, 64)
	rbytes, _ := strconv.ParseInt(str(2), 10, 64)
	if rtime <= 0 && rbytes <= 0 && b.cfg.HardCapBytes <= 0 {
		return 0, nil
	}
	cutoff := ""
	if rtime > 0 {
		cutoff = encodeTime(time.Now().Add(-time.Duration(rtime)))
	}
	var deleted int64
	for p := range int32(n) {
		keys := []string{b.k.meta(topic), b.k.partition(topic, p), b.k.index(topic, p)}
		for _, g := range groups.Val() {
			keys = append(keys, b.k.offsets(g, topic))
		}
		res, err := b.s.retain.Run(ctx, b.client, keys, p, cutoff, rbytes, b.cfg.HardCapBytes).Int64Slice()
		if err != nil || len(res) != 2 {
			return deleted, b.fail(fmt.Sprintf("retention of topic %q partition %d", topic, p), err)
		}
		deleted += res[0]
		if forced := res[1]; forced > 0 {
			b.forcedTrims.Add(1)
			b.forcedRecords.Add(forced)
			b.client.HIncrBy(ctx, b.k.stats(), "forced_records", forced)
			b.log.Warn("redis: hard cap deleted records that a consumer group had not consumed",
				"topic", topic, "partition", p, "records", forced, "hard_cap_bytes", b.cfg.HardCapBytes)
		}
	}
	return deleted, nil
}

// retainLoop runs retention every RetentionInterval until the broker
// closes. A lock key lets one broker per prefix do it per interval.
func (b *Broker) retainLoop() {
	defer b.background.Done()
	t := time.NewTicker(b.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RetentionInterval)
		ok, err := b.client.SetNX(ctx, b.k.retentionLock(), "1", b.cfg.RetentionInterval*9/10).Result()
		if err == nil && ok {
			if n, err := b.EnforceRetention(ctx); err != nil {
				b.log.Warn("redis: retention failed", "err", err)
			} else if n > 0 {
				b.log.Debug("redis: retention deleted records", "records", n)
			}
		}
		cancel()
	}
}
