package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-platform/arus/stream"
)

// Produce stores records and returns once all of them are acknowledged by
// every in-sync replica (acks=all, idempotent producer). Records are
// validated first with [stream.Options.Prepare], which stamps missing ids
// and timestamps; a bad record fails the call before anything is sent.
// Partitions are assigned by [stream.Partitioner]: murmur2 of the key, the
// same as Kafka's default partitioner, and round robin for records without
// a key. Records of one call for the same partition are stored in slice
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

	p := &produceCall{records: records}
	krs := make([]kgo.Record, len(records))
	p.wg.Add(len(records))
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
			kr.Headers = make([]kgo.RecordHeader, len(r.Headers))
			for j, h := range r.Headers {
				kr.Headers[j] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
			}
		}
		kr.Context = ctxIndex{ctx, i}
		b.cl.Produce(ctx, kr, p.promise)
	}
	p.wg.Wait()
	if len(p.failed) == 0 {
		return nil
	}
	slices.Sort(p.failed)
	first := p.errs[p.failed[0]]
	if errors.Is(first, kerr.UnknownTopicOrPartition) {
		// Deleted behind our back: look it up again next time.
		b.topics.forget(records[p.failed[0]].Topic)
	}
	return &stream.ProduceError{
		Failed: p.failed,
		Err:    wrapErr(fmt.Sprintf("produce to topic %q", records[p.failed[0]].Topic), first),
	}
}

// produceCall collects the outcome of one Produce call's records.
type produceCall struct {
	records []*stream.Record
	wg      sync.WaitGroup
	mu      sync.Mutex
	failed  []int
	errs    map[int]error
}

// ctxIndex carries a record's index in its call through franz-go, in the
// record's Context, so that one promise serves every record of a call.
type ctxIndex struct {
	context.Context
	i int
}

func (p *produceCall) promise(kr *kgo.Record, err error) {
	i := kr.Context.(ctxIndex).i
	if err != nil {
		p.mu.Lock()
		p.failed = append(p.failed, i)
		if p.errs == nil {
			p.errs = make(map[int]error)
		}
		p.errs[i] = err
		p.mu.Unlock()
	} else {
		r := p.records[i]
		r.Partition = kr.Partition
		r.Offset = kr.Offset
	}
	p.wg.Done()
}
