package kafkawire

import (
	"context"
	"errors"
	"runtime"
	"sync"
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

// readParts fills each partition's records from its fetch offset, reading
// the partitions in parallel, and returns the bytes read over all of them.
// Each partition gets an even share of what is left of maxBytes (at most
// its own limit), and at least one record.
func (c *conn) readParts(parts []*fetchPart, maxBytes int) int {
	ctx, cancel := c.requestContext()
	defer cancel()
	var active []*fetchPart
	for _, fp := range parts {
		if !fp.done && c.position(fp) {
			active = append(active, fp)
		}
	}
	if len(active) == 0 || maxBytes <= 0 {
		return 0
	}
	share := max(maxBytes/len(active), 1)
	sizes := make([]int, len(active))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))
	for i, fp := range active {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sizes[i] = c.readPart(ctx, fp, min(int(fp.req.PartitionMaxBytes), share))
		})
	}
	wg.Wait()
	total := 0
	for _, n := range sizes {
		total += n
	}
	return total
}

// position checks a partition's fetch offset against its bounds and
// reports whether there are records to read.
func (c *conn) position(fp *fetchPart) bool {
	sp := fp.resp
	start, end, next, err := c.l.cfg.Log.Watch(fp.topic, fp.req.Partition)
	if err != nil {
		sp.ErrorCode, fp.done = kafkaCode(err), true
		if errors.Is(err, stream.ErrInvalid) {
			sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		return false
	}
	fp.next = next
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = end, end, start
	off := fp.req.FetchOffset
	if off < start || off > end {
		sp.ErrorCode, fp.done = kerr.OffsetOutOfRange.Code, true
		return false
	}
	return off < end
}

// readPart reads one partition's records up to limit bytes (at least one
// record, so that a record larger than the limit still moves the consumer
// on) and encodes them as one batch; it returns the batch's size. When
// more records wait, it reads the next batch ahead while the client
// handles this one.
func (c *conn) readPart(ctx context.Context, fp *fetchPart, limit int) int {
	sp := fp.resp
	limit = max(limit, 1)
	tp := stream.TopicPartition{Topic: fp.topic, Partition: fp.req.Partition}
	batch, n, next := c.takeAhead(ctx, tp, fp.req.FetchOffset, limit)
	if batch == nil {
		recs, err := c.readRecords(ctx, tp, fp.req.FetchOffset, sp.HighWatermark, limit)
		if err != nil {
			sp.ErrorCode, fp.done = kafkaCode(err), true
			return 0
		}
		if len(recs) == 0 {
			return 0
		}
		batch, n, next = encodeRecords(recs)
	}
	sp.RecordBatches = batch
	fp.done = true
	c.l.metrics.fetched(n)
	if next < sp.HighWatermark {
		c.readAhead(tp, next, sp.HighWatermark, limit)
	}
	return len(batch)
}

// readRecords reads a partition's records from off, below end, up to
// limit bytes and at least one.
func (c *conn) readRecords(ctx context.Context, tp stream.TopicPartition, off, end int64, limit int) ([]*stream.Record, error) {
	var recs []*stream.Record
	size := 0
	for size < limit && off < end {
		// Guess the count from 256-byte records; read on when they are smaller.
		n := max(1, min((limit-size)/256, 10000))
		got, err := c.l.cfg.Log.Read(ctx, tp.Topic, tp.Partition, off, n)
		if err != nil {
			if len(recs) == 0 {
				return nil, err
			}
			break
		}
		full := false
		for _, r := range got {
			s := r.Size() + 32
			if len(recs) > 0 && size+s > limit {
				full = true
				break
			}
			size += s
			recs = append(recs, r)
		}
		if full || len(got) < n {
			break
		}
		off = recs[len(recs)-1].Offset + 1
	}
	return recs, nil
}

func encodeRecords(recs []*stream.Record) (batch []byte, n int, next int64) {
	size := 128
	for _, r := range recs {
		size += r.Size() + 32
	}
	return appendBatch(make([]byte, 0, size), recs), len(recs), recs[len(recs)-1].Offset + 1
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
