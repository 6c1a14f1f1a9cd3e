package kafkawire

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

// maxFetchWait bounds a fetch's long poll whatever the client asks.
const maxFetchWait = 30 * time.Second

// fetchPart is one partition of a fetch request.
type fetchPart struct {
	topic string
	req   *kmsg.FetchRequestTopicPartition
	resp  *kmsg.FetchResponseTopicPartition
	next  <-chan struct{}
	done  bool // answered with an error; not read again
}

// fetch answers with the records after each partition's fetch offset. When
// they add up to fewer than MinBytes, it waits up to MaxWait for appends
// to any of the partitions (woken by the log, not by polling), then reads
// again.
func (c *conn) fetch(r *kmsg.FetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	if r.Version >= 7 && r.SessionID != 0 {
		// Fetch sessions are declined (session id 0 in every answer), so a
		// client never holds one of ours.
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp
	}
	var parts []*fetchPart
	for _, rt := range r.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, st)
		tresp := &resp.Topics[len(resp.Topics)-1]
		for i := range rt.Partitions {
			sp := &tresp.Partitions[i]
			sp.Default()
			sp.Partition = rt.Partitions[i].Partition
			sp.RecordBatches = []byte{} // librdkafka refuses a null record set
			fp := &fetchPart{topic: rt.Topic, req: &rt.Partitions[i], resp: sp}
			if !c.can(auth.PermRecordsRead, rt.Topic) {
				sp.ErrorCode, fp.done = kerr.TopicAuthorizationFailed.Code, true
			}
			parts = append(parts, fp)
		}
	}
	maxBytes := int(r.MaxBytes)
	if r.Version < 3 || maxBytes <= 0 {
		maxBytes = 50 << 20
	}
	wait := min(time.Duration(r.MaxWaitMillis)*time.Millisecond, maxFetchWait)
	deadline := time.Now().Add(wait)
	var timer *time.Timer
	total := 0
	for {
		total += c.readParts(parts, maxBytes-total)
		if total >= int(r.MinBytes) || wait <= 0 {
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		if timer == nil {
			timer = time.NewTimer(left)
			defer timer.Stop()
		}
		if !c.waitAppend(parts, timer.C) {
			break
		}
	}
	return resp
}

// readParts fills each partition's records from its fetch offset and
// returns the bytes read over all of them.
func (c *conn) readParts(parts []*fetchPart, maxBytes int) int {
	ctx, cancel := c.requestContext()
	defer cancel()
	total := 0
	for _, fp := range parts {
		if fp.done {
			continue
		}
		sp := fp.resp
		start, end, next, err := c.l.cfg.Log.Watch(fp.topic, fp.req.Partition)
		if err != nil {
			sp.ErrorCode, fp.done = kafkaCode(err), true
			if errors.Is(err, stream.ErrInvalid) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			continue
		}
		fp.next = next
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = end, end, start
		off := fp.req.FetchOffset
		if off < start || off > end {
			sp.ErrorCode, fp.done = kerr.OffsetOutOfRange.Code, true
			continue
		}
		if off == end || maxBytes-total <= 0 {
			continue
		}
		limit := min(int(fp.req.PartitionMaxBytes), maxBytes-total)
		if limit <= 0 {
			limit = 1
		}
		n := max(1, min(limit/64, 10000))
		recs, err := c.l.cfg.Log.Read(ctx, fp.topic, fp.req.Partition, off, n)
		if err != nil {
			sp.ErrorCode, fp.done = kafkaCode(err), true
			continue
		}
		// Keep what fits in the limit, but at least one record, so that a
		// record larger than the limit still moves the consumer on.
		size, keep := 0, 0
		for _, r := range recs {
			s := r.Size() + 32
			if keep > 0 && size+s > limit {
				break
			}
			size += s
			keep++
		}
		if keep == 0 {
			continue
		}
		sp.RecordBatches = appendBatch(sp.RecordBatches[:0], recs[:keep])
		fp.done = true
		total += len(sp.RecordBatches)
		c.l.metrics.fetched(keep)
	}
	return total
}

// waitAppend waits until a partition being fetched grows, the timer fires
// or the connection ends; it reports whether to read again.
func (c *conn) waitAppend(parts []*fetchPart, timer <-chan time.Time) bool {
	wake := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	watching := 0
	for _, fp := range parts {
		if fp.done || fp.next == nil {
			continue
		}
		watching++
		go func(next <-chan struct{}) {
			select {
			case <-next:
				select {
				case wake <- struct{}{}:
				default:
				}
			case <-stop:
			}
		}(fp.next)
	}
	if watching == 0 {
		select {
		case <-timer:
		case <-c.ctx.Done():
		}
		return false
	}
	select {
	case <-wake:
		return true
	case <-timer:
		return false
	case <-c.ctx.Done():
		return false
	}
}

func (c *conn) listOffsets(r *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	ctx, cancel := c.requestContext()
	defer cancel()
	for _, rt := range r.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset = -1, -1
			if !c.can(auth.PermRecordsRead, rt.Topic) {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			start, end, _, err := c.l.cfg.Log.Watch(rt.Topic, rp.Partition)
			if err != nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			switch ts := rp.Timestamp; {
			case ts == -1: // latest
				sp.Offset = end
			case ts == -2: // earliest
				sp.Offset = start
			case ts == -3: // the record with the largest timestamp: the last
				if end > start {
					sp.Offset = end - 1
					if recs, err := c.l.cfg.Log.Read(ctx, rt.Topic, rp.Partition, end-1, 1); err == nil && len(recs) == 1 {
						sp.Timestamp = recs[0].Timestamp.UnixMilli()
					}
				}
			case ts >= 0:
				off, err := c.l.cfg.Log.OffsetForTime(ctx, rt.Topic, rp.Partition, time.UnixMilli(ts))
				if err != nil {
					sp.ErrorCode = kafkaCode(err)
					break
				}
				if off < end {
					sp.Offset = off
					if recs, err := c.l.cfg.Log.Read(ctx, rt.Topic, rp.Partition, off, 1); err == nil && len(recs) == 1 {
						sp.Timestamp = recs[0].Timestamp.UnixMilli()
					}
				}
			default:
				sp.ErrorCode = kerr.InvalidRequest.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
