package embedded

import (
	"context"
	"fmt"

	"github.com/arus-platform/arus/stream"
)

// Produce stores records and returns once the transaction holding them has
// committed, which with the default SyncFull means fsynced: an acknowledged
// record survives a kill -9 and a power loss. Records are validated first
// (topic name, maximum size) and a bad one fails the whole call before
// anything is stored. Unknown topics are created with the default partition
// count unless Options.Strict is set.
//
// Each record gets its partition (murmur2 of the key, round robin without a
// key) and the next offset of that partition; records of one call for the
// same partition keep their slice order, and a call's records are stored all
// together or not at all. Concurrent calls share transactions (group
// commit). Once a call has been handed to the writer it waits for the outcome
// even when ctx ends, so that its answer is exact. On failure the error is a
// [*stream.ProduceError] listing every record, since none was stored.
func (b *Broker) Produce(ctx context.Context, records ...*stream.Record) error {
	if b.closed.Load() {
		return stream.AllFailed(len(records), stream.ErrClosed)
	}
	if len(records) == 0 {
		return nil
	}
	if err := b.cfg.Prepare(records); err != nil {
		return err
	}
	o := &op{kind: opProduce, records: records, parts: make([]*partState, len(records))}
	var t *topicState
	for i, r := range records {
		if t == nil || t.topic.Name != r.Topic {
			var err error
			if t, err = b.topic(ctx, r.Topic, !b.cfg.Strict); err != nil {
				return stream.AllFailed(len(records), fmt.Errorf("embedded: produce record %d: %w", i, err))
			}
		}
		p := t.parts[b.partitioner.Partition(r.Key, t.topic.Partitions)]
		r.Partition = p.index
		o.parts[i] = p
		o.bytes += r.Size()
	}
	if err := ctx.Err(); err != nil {
		return stream.AllFailed(len(records), err)
	}
	if err := b.w.submit(o); err != nil {
		return stream.AllFailed(len(records), fmt.Errorf("embedded: produce: %w", err))
	}
	return nil
}

// topic returns a topic's state, creating the topic with the defaults when
// create is set and it does not exist.
func (b *Broker) topic(ctx context.Context, name string, create bool) (*topicState, error) {
	b.mu.RLock()
	t := b.topics[name]
	b.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	if !create {
		return nil, fmt.Errorf("topic %q: %w", name, stream.ErrTopicNotFound)
	}
	err := b.createTopic(ctx, stream.Topic{Name: name, Partitions: b.cfg.DefaultPartitions}, true)
	if err != nil {
		return nil, err
	}
	b.mu.RLock()
	t = b.topics[name]
	b.mu.RUnlock()
	if t == nil {
		// Deleted again right after it was created.
		return nil, fmt.Errorf("topic %q: %w", name, stream.ErrTopicNotFound)
	}
	return t, nil
}

// lookup returns a topic's state, or nil.
func (b *Broker) lookup(name string) *topicState {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.topics[name]
}
