package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
)

// readMaxBytes bounds the bytes one fetch request of Read asks for; Kafka
// still returns a whole first batch when it is larger.
const readMaxBytes = 4 << 20

// Read returns up to max records of a partition starting at offset, in
// offset order, by fetching directly from the partition's leader without a
// consumer group. An offset below the partition's start reads from the
// start; an offset equal to the end returns no records; an offset beyond
// the end fails with [stream.ErrOffsetOutOfRange]. An unknown topic fails
// with [stream.ErrTopicNotFound], a partition the topic does not have with
// [stream.ErrInvalid]. Offsets may have gaps (Kafka transaction markers and
// compaction), so the records need not have consecutive offsets.
func (b *Broker) Read(ctx context.Context, topic string, partition int32, offset int64, limit int) ([]*stream.Record, error) {
	if err := stream.ValidateTopicName(topic); err != nil {
		return nil, err
	}
	switch {
	case partition < 0:
		return nil, stream.Invalidf("read topic %q: partition %d is negative", topic, partition)
	case offset < 0:
		return nil, stream.Invalidf("read topic %q partition %d: offset %d is negative", topic, partition, offset)
	case limit < 0:
		return nil, stream.Invalidf("read topic %q partition %d: max %d is negative", topic, partition, limit)
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	pd, id, err := b.partitionDetail(ctx, topic, partition)
	if err != nil {
		return nil, err
	}
	start, end, err := b.bounds(ctx, topic, partition)
	if err != nil {
		return nil, err
	}
	if offset > end {
		return nil, fmt.Errorf("kafka: read topic %q partition %d at offset %d: %w: the end offset is %d",
			topic, partition, offset, stream.ErrOffsetOutOfRange, end)
	}
	offset = max(offset, start)
	out := make([]*stream.Record, 0, min(int64(limit), end-offset))
	for retries := 0; len(out) < limit && offset < end; {
		fp, next, err := b.fetch(ctx, pd.Leader, topic, id, partition, offset, readMaxBytes)
		if err != nil && retries < 3 && ctx.Err() == nil {
			retries++
			if errors.Is(err, kerr.OffsetOutOfRange) {
				// Retention removed records while we read: go on from
				// the new start.
				if s, _, berr := b.bounds(ctx, topic, partition); berr == nil && s > offset {
					offset = s
					continue
				}
			} else if kerr.IsRetriable(err) {
				// The leader moved or is being elected: look it up again.
				time.Sleep(time.Duration(retries) * 100 * time.Millisecond)
				if npd, _, perr := b.partitionDetail(ctx, topic, partition); perr == nil {
					pd = npd
					continue
				}
			}
		}
		if err != nil {
			return nil, wrapErr(fmt.Sprintf("read topic %q partition %d at offset %d", topic, partition, offset), err)
		}
		for _, kr := range fp.Records {
			if len(out) == limit || kr.Offset >= end {
				break
			}
			out = append(out, fromKgo(kr))
		}
		if next <= offset {
			break // no progress: nothing more is readable now
		}
		offset = next
	}
	return out, nil
}

// OffsetForTime returns the offset of the first record of a partition whose
// timestamp is at or after t (Kafka keeps milliseconds; t is truncated to
// them), or the end offset when there is none.
func (b *Broker) OffsetForTime(ctx context.Context, topic string, partition int32, t time.Time) (int64, error) {
	if err := stream.ValidateTopicName(topic); err != nil {
		return 0, err
	}
	if partition < 0 {
		return 0, stream.Invalidf("offset for time in topic %q: partition %d is negative", topic, partition)
	}
	if err := b.check(); err != nil {
		return 0, err
	}
	lo, err := b.adm.ListOffsetsAfterMilli(ctx, max(t.UnixMilli(), 0), topic)
	if err != nil {
		return 0, wrapErr(fmt.Sprintf("offset for time in topic %q", topic), err)
	}
	return lookupOffset(lo, topic, partition)
}

// bounds returns a partition's start and end offsets.
func (b *Broker) bounds(ctx context.Context, topic string, partition int32) (start, end int64, err error) {
	starts, err := b.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, 0, wrapErr(fmt.Sprintf("list start offsets of topic %q", topic), err)
	}
	ends, err := b.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, 0, wrapErr(fmt.Sprintf("list end offsets of topic %q", topic), err)
	}
	if start, err = lookupOffset(starts, topic, partition); err != nil {
		return 0, 0, err
	}
	if end, err = lookupOffset(ends, topic, partition); err != nil {
		return 0, 0, err
	}
	return start, end, nil
}

func lookupOffset(lo kadm.ListedOffsets, topic string, partition int32) (int64, error) {
	if o, ok := lo.Lookup(topic, -1); ok && o.Err != nil {
		return 0, topicNotFound(topic)
	}
	o, ok := lo.Lookup(topic, partition)
	if !ok {
		if len(lo[topic]) == 0 {
			return 0, topicNotFound(topic)
		}
		return 0, stream.Invalidf("topic %q has %d partitions; partition %d does not exist", topic, len(lo[topic]), partition)
	}
	if o.Err != nil {
		return 0, wrapErr(fmt.Sprintf("list offsets of topic %q partition %d", topic, partition), o.Err)
	}
	return o.Offset, nil
}

// partitionDetail returns a partition's metadata (its leader) and its
// topic's id.
func (b *Broker) partitionDetail(ctx context.Context, topic string, partition int32) (kadm.PartitionDetail, kadm.TopicID, error) {
	tds, err := b.topicDetails(ctx, topic)
	if err != nil {
		return kadm.PartitionDetail{}, kadm.TopicID{}, wrapErr(fmt.Sprintf("look up topic %q", topic), err)
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return kadm.PartitionDetail{}, kadm.TopicID{}, topicNotFound(topic)
	}
	pd, ok := td.Partitions[partition]
	if !ok {
		return kadm.PartitionDetail{}, kadm.TopicID{}, stream.Invalidf("topic %q has %d partitions; partition %d does not exist",
			topic, len(td.Partitions), partition)
	}
	return pd, td.ID, nil
}

// fetch issues one fetch request for one partition to its leader and
// returns the records at or after offset and the offset to fetch next.
func (b *Broker) fetch(ctx context.Context, leader int32, topic string, id kadm.TopicID, partition int32, offset int64, maxBytes int32) (kgo.FetchPartition, int64, error) {
	if leader < 0 {
		return kgo.FetchPartition{}, offset, kerr.LeaderNotAvailable
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = maxBytes
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rt.TopicID = id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = maxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	resp, err := req.RequestWith(ctx, b.cl.Broker(int(leader)))
	if err != nil {
		return kgo.FetchPartition{}, offset, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return kgo.FetchPartition{}, offset, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return kgo.FetchPartition{}, offset, fmt.Errorf("fetch response for %d topics, want 1", len(resp.Topics))
	}
	part := &resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(part.ErrorCode); err != nil {
		return kgo.FetchPartition{}, offset, err
	}
	fp, last := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset:    offset,
		Topic:     topic,
		Partition: partition,
	}, part, kgo.DefaultDecompressor(), nil)
	if fp.Err != nil {
		return fp, offset, fp.Err
	}
	return fp, max(last, offset), nil
}

// oldest returns the timestamp of the record at each given offset (the
// oldest record a group has not consumed), reading one record per
// partition, a few partitions at a time. Partitions it cannot read cheaply
// are left out.
func (b *Broker) oldest(ctx context.Context, at map[stream.TopicPartition]int64) map[stream.TopicPartition]time.Time {
	out := make(map[stream.TopicPartition]time.Time, len(at))
	if len(at) == 0 {
		return out
	}
	topics := make([]string, 0)
	seen := make(map[string]bool)
	for tp := range at {
		if !seen[tp.Topic] {
			seen[tp.Topic] = true
			topics = append(topics, tp.Topic)
		}
	}
	tds, err := b.topicDetails(ctx, topics...)
	if err != nil {
		return out
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, 8)
	)
	for tp, offset := range at {
		td, ok := tds[tp.Topic]
		if !ok || td.Err != nil {
			continue
		}
		pd, ok := td.Partitions[tp.Partition]
		if !ok {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fp, _, err := b.fetch(ctx, pd.Leader, tp.Topic, td.ID, tp.Partition, offset, 1)
			if err != nil || len(fp.Records) == 0 {
				return
			}
			mu.Lock()
			out[tp] = fp.Records[0].Timestamp
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
