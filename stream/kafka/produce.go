package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-platform/arus/stream"
)

// Produce stores records and returns once all of them are acknowledged by
// every in-sync replica (acks=all, idempotent producer). Records are
// validated first with [stream.Options.Prepare], which stamps missing ids
// and timestamps; a bad record fails the call before anything is sent.
// Partitions are assigned by [stream.Partitioner]: murmur2 of the key, the
// same as the Java producer's default partitioner and librdkafka's
// murmur2_random, and round robin for records with a nil key (an empty key
// is hashed). Records of one call for the same partition are stored in slice
// order. Unknown topics are created with DefaultPartitions unless Strict is
// set, in which case the call fails with [stream.ErrTopicNotFound].
//
// All records of a call are produced concurrently and many calls may run at
// once; they share batches. On success every record has its Partition and
// Offset set. On failure the error is a [*stream.ProduceError] whose Failed
// lists exactly the records that were not acknowledged; the others are
// stored, with their Partition and Offset set.
func (b *Broker) Produce(ctx context.Context, records ...*stream.Record) error {
	if len(records) == 0 {
		return nil
	}
	if err := b.check(); err != nil {
		return stream.AllFailed(len(records), err)
	}
	if err := b.cfg.Prepare(records); err != nil {
		return err
	}

	// Resolve each topic's partition count once per call; a call nearly
	// always has a single topic.
	var (
		lastTopic string
		lastN     int32
		counts    map[string]int32
	)
	for _, r := range records {
		if r.Topic == lastTopic {
			continue
		}
		n, ok := counts[r.Topic]
		if !ok {
			var err error
			n, err = b.partitions(ctx, r.Topic, !b.cfg.Strict)
			if err != nil {
				return stream.AllFailed(len(records), err)
			}
			if counts == nil {
				counts = make(map[string]int32, 1)
			}
			counts[r.Topic] = n
		}
		lastTopic, lastN = r.Topic, n
	}
	lastTopic = ""

	// One allocation each for the records, their pointers and all headers.
	nh := 0
	for _, r := range records {
		nh += len(r.Headers)
	}
	krs := make([]kgo.Record, len(records))
	ptrs := make([]*kgo.Record, len(records))
	headers := make([]kgo.RecordHeader, 0, nh)
	for i, r := range records {
		if r.Topic != lastTopic {
			lastTopic, lastN = r.Topic, counts[r.Topic]
		}
		kr := &krs[i]
		kr.Topic = r.Topic
		kr.Key = r.Key
		kr.Value = r.Value
		kr.Timestamp = r.Timestamp
		kr.Partition = b.partitioner.Partition(r.Key, lastN)
		if len(r.Headers) > 0 {
			first := len(headers)
			for _, h := range r.Headers {
				headers = append(headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			kr.Headers = headers[first:len(headers):len(headers)]
		}
		ptrs[i] = kr
	}
	// ProduceSync, unlike Produce, sends the touched partitions at once
	// instead of waiting for the linger: a synchronous caller gains
	// nothing from lingering, while concurrent callers still share
	// batches with what is buffered.
	results := b.cl.ProduceSync(ctx, ptrs...)
	var failed []int
	var firstErr error
	if results.FirstErr() != nil {
		index := make(map[*kgo.Record]int, len(ptrs))
		for i, kr := range ptrs {
			index[kr] = i
		}
		for _, res := range results {
			if res.Err != nil {
				failed = append(failed, index[res.Record])
			}
		}
		slices.Sort(failed)
		for _, res := range results {
			if res.Err != nil && index[res.Record] == failed[0] {
				firstErr = res.Err
			}
		}
	}
	next := 0
	for i, r := range records {
		if next < len(failed) && failed[next] == i {
			next++
			continue
		}
		r.Partition, r.Offset = krs[i].Partition, krs[i].Offset
	}
	if len(failed) == 0 {
		return nil
	}
	if errors.Is(firstErr, kerr.UnknownTopicOrPartition) {
		// Deleted behind our back: look it up again next time.
		b.topics.forget(records[failed[0]].Topic)
	}
	return &stream.ProduceError{
		Failed: failed,
		Err:    wrapErr(fmt.Sprintf("produce to topic %q", records[failed[0]].Topic), firstErr),
	}
}
