package kafka

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
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
	stampIDs(records)
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

// stampIDs gives every record without a [stream.HeaderID] a new id, as
// [stream.Options.Prepare] would, but for the whole call at once: one read
// of the system's random source and one allocation each for the ids and
// the headers, instead of several per record. The ids are the same UUIDv7
// strings as [stream.NewID] returns, ordered by creation time.
func stampIDs(records []*stream.Record) {
	n := 0
	for _, r := range records {
		if r != nil && !hasID(r) {
			n++
		}
	}
	if n == 0 {
		return
	}
	random := make([]byte, 16*n)
	if _, err := rand.Read(random); err != nil {
		return // Prepare stamps them one by one
	}
	src := bytes.NewReader(random)
	text := make([]byte, 36*n)
	hdrs := make([]stream.Header, n)
	j := 0
	for _, r := range records {
		if r == nil || hasID(r) {
			continue
		}
		id, err := uuid.NewV7FromReader(src)
		if err != nil {
			return
		}
		t := text[36*j : 36*j+36 : 36*j+36]
		encodeUUID(t, id)
		hdrs[j] = stream.Header{Key: stream.HeaderID, Value: t}
		if len(r.Headers) == 0 {
			r.Headers = hdrs[j : j+1 : j+1]
		} else {
			r.Headers = append(r.Headers, hdrs[j])
		}
		j++
	}
}

func hasID(r *stream.Record) bool {
	for _, h := range r.Headers {
		if h.Key == stream.HeaderID {
			return true
		}
	}
	return false
}

// encodeUUID writes id in its canonical 36-character form to dst.
func encodeUUID(dst []byte, id uuid.UUID) {
	hex.Encode(dst[0:8], id[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], id[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], id[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], id[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:], id[10:16])
}
