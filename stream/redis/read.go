package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
)

// Read returns up to max records of a partition from offset on, in offset
// order, without a consumer group. An offset below the partition's start
// reads from the start; an offset equal to its end returns no records; an
// offset beyond the end fails with [stream.ErrOffsetOutOfRange]. An unknown
// topic fails with [stream.ErrTopicNotFound] and a partition the topic does
// not have with [stream.ErrInvalid].
func (b *Broker) Read(ctx context.Context, topic string, partition int32, offset int64, max int) ([]*stream.Record, error) {
	if err := b.checkOpen(); err != nil {
		return nil, err
	}
	if err := checkPosition(topic, partition, offset); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, fmt.Errorf("redis: read: %w", stream.Invalidf("max %d records: want 1 or more", max))
	}
	var meta *goredis.SliceCmd
	var rng *goredis.XMessageSliceCmd
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		meta = p.HMGet(ctx, b.k.meta(topic), "partitions", "n"+strconv.Itoa(int(partition)))
		rng = p.XRangeN(ctx, b.k.partition(topic, partition), entryID(offset), "+", int64(max))
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, b.fail(fmt.Sprintf("read topic %q partition %d", topic, partition), err)
	}
	_, end, err := partitionMeta(topic, partition, meta.Val())
	if err != nil {
		return nil, err
	}
	msgs := rng.Val()
	if len(msgs) == 0 && offset > end {
		return nil, fmt.Errorf("redis: read topic %q partition %d at offset %d: %w: the end offset is %d",
			topic, partition, offset, stream.ErrOffsetOutOfRange, end)
	}
	return decodeAll(topic, partition, msgs)
}

func decodeAll(topic string, partition int32, msgs []goredis.XMessage) ([]*stream.Record, error) {
	out, err := decodeMessages(topic, partition, msgs, nil)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return out, nil
}

func checkPosition(topic string, partition int32, offset int64) error {
	if err := stream.ValidateTopicName(topic); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if partition < 0 {
		return fmt.Errorf("redis: %w", stream.Invalidf("topic %q: partition %d is negative", topic, partition))
	}
	if offset < 0 {
		return fmt.Errorf("redis: %w", stream.Invalidf("topic %q partition %d: offset %d is negative", topic, partition, offset))
	}
	return nil
}

// partitionMeta checks the reply of HMGET meta partitions n<p> and returns
// the topic's partition count and the partition's end offset.
func partitionMeta(topic string, partition int32, vals []any) (int32, int64, error) {
	if len(vals) < 2 || vals[0] == nil {
		return 0, 0, fmt.Errorf("redis: topic %q: %w", topic, stream.ErrTopicNotFound)
	}
	ps, _ := vals[0].(string)
	n, err := strconv.ParseInt(ps, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("redis: topic %q: partition count %q is not a number", topic, ps)
	}
	if int64(partition) >= n {
		return 0, 0, fmt.Errorf("redis: %w", stream.Invalidf("topic %q has %d partitions; partition %d does not exist", topic, n, partition))
	}
	var end int64
	if s, ok := vals[1].(string); ok {
		if end, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("redis: topic %q partition %d: end offset %q is not a number", topic, partition, s)
		}
	}
	return int32(n), end, nil
}

// OffsetForTime returns the offset of the first record of a partition whose
// timestamp is at or after t, or the end offset when there is none. It
// finds the batch that holds that record by binary search over the
// partition's batch index, then scans that batch, so it is exact whatever
// order the timestamps were produced in.
func (b *Broker) OffsetForTime(ctx context.Context, topic string, partition int32, t time.Time) (int64, error) {
	if err := b.checkOpen(); err != nil {
		return 0, err
	}
	if err := checkPosition(topic, partition, 0); err != nil {
		return 0, err
	}
	meta, err := b.client.HMGet(ctx, b.k.meta(topic), "partitions", "n"+strconv.Itoa(int(partition))).Result()
	if err != nil {
		return 0, b.fail(fmt.Sprintf("topic %q", topic), err)
	}
	if _, _, err := partitionMeta(topic, partition, meta); err != nil {
		return 0, err
	}
	return b.offsetForTime(ctx, topic, partition, t)
}

func (b *Broker) offsetForTime(ctx context.Context, topic string, partition int32, t time.Time) (int64, error) {
	ts := encodeTime(t)
	res, err := b.s.offsetForTime.Run(ctx, b.client,
		[]string{b.k.meta(topic), b.k.partition(topic, partition), b.k.index(topic, partition)},
		partition, ts).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, b.fail(fmt.Sprintf("offset for time in topic %q partition %d", topic, partition), err)
	}
	from, end := res[0], res[1]
	for from < end {
		msgs, err := b.client.XRangeN(ctx, b.k.partition(topic, partition), entryID(from), "+", 100).Result()
		if err != nil {
			return 0, b.fail(fmt.Sprintf("offset for time in topic %q partition %d", topic, partition), err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			if s := entryTime(m.Values); s != "" && s >= ts {
				return entryOffset(m.ID)
			}
		}
		last, err := entryOffset(msgs[len(msgs)-1].ID)
		if err != nil {
			return 0, err
		}
		from = last + 1
	}
	return end, nil
}
