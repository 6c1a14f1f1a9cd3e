package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-platform/arus/stream"
)

// worker handles the records of one partition, one batch at a time.
type worker struct {
	c  *consumer
	tp topicPartition

	mu        sync.Mutex
	queue     []*kgo.Record // fetched, not yet handled successfully
	bytes     int
	paused    bool
	next      int64 // offset to commit (one past the last handled record), -1 before any
	epoch     int32 // leader epoch of the last handled record
	committed int64 // last offset committed, -1 before any

	wake     chan struct{} // 1-buffered: records arrived
	room     chan struct{} // 1-buffered: the queue fell below its limit
	stop     chan struct{} // closed: finish the running handler call and return
	stopOnce sync.Once
	done     chan struct{} // closed when run returns
}

// push queues fetched records and reports whether the queue was already
// full before them: a worker holds at most its limit plus one fetch, so
// that the next fetch can be under way while it works through the last.
func (w *worker) push(recs []*kgo.Record) (full bool) {
	w.mu.Lock()
	full = w.fullLocked()
	w.queue = append(w.queue, recs...)
	for _, r := range recs {
		w.bytes += recordBytes(r)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return full
}

func (w *worker) fullLocked() bool {
	return len(w.queue) >= w.c.maxRecs || w.bytes >= maxBufferedBytes
}

// waitRoom waits until the queue is below its limit or the deadline
// passes, and reports whether it is.
func (w *worker) waitRoom(deadline time.Time) bool {
	for {
		w.mu.Lock()
		full := w.fullLocked()
		w.mu.Unlock()
		if !full {
			return true
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return false
		}
		t := time.NewTimer(wait)
		select {
		case <-w.room:
			t.Stop()
		case <-w.stop:
			t.Stop()
			return false
		case <-t.C:
			return false
		}
	}
}

// pause stops fetching the partition until advance resumes it. The caller
// holds the consumer's mu and has checked that w is still its worker, so
// that a partition given up in a rebalance is never left paused.
func (w *worker) pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.paused && w.fullLocked() {
		w.paused = true
		w.c.cl.PauseFetchPartitions(map[string][]int32{w.tp.topic: {w.tp.partition}})
	}
}

func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// batch waits for records and returns up to MaxBatch of them from the head
// of the queue, or nil once the worker is told to stop.
func (w *worker) batch() []*kgo.Record {
	for {
		select {
		case <-w.stop:
			return nil
		default:
		}
		w.mu.Lock()
		if len(w.queue) > 0 {
			b := w.queue[:min(len(w.queue), w.c.cfg.MaxBatch)]
			w.mu.Unlock()
			return b
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-w.stop:
			return nil
		}
	}
}

// advance drops the first n records of the queue, which the handler
// finished, records their offset for the next commit and resumes fetching
// when the queue has room again.
func (w *worker) advance(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	last := w.queue[n-1]
	w.next, w.epoch = last.Offset+1, last.LeaderEpoch
	for i := range n {
		w.bytes -= recordBytes(w.queue[i])
		w.queue[i] = nil
	}
	w.queue = w.queue[n:]
	if !w.fullLocked() {
		select {
		case w.room <- struct{}{}:
		default:
		}
	}
	if w.paused && len(w.queue) <= w.c.maxRecs/2 && w.bytes <= maxBufferedBytes/2 {
		w.paused = false
		w.c.cl.ResumeFetchPartitions(map[string][]int32{w.tp.topic: {w.tp.partition}})
	}
}

func (w *worker) uncommitted() (kgo.EpochOffset, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.next > w.committed {
		return kgo.EpochOffset{Epoch: w.epoch, Offset: w.next}, true
	}
	return kgo.EpochOffset{}, false
}

func (w *worker) markCommitted(offset int64) {
	w.mu.Lock()
	w.committed = max(w.committed, offset)
	w.mu.Unlock()
}

func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	c := w.c
	for attempt := 1; ; {
		batch := w.batch()
		if batch == nil {
			return
		}
		err := c.h(ctx, fromKgoBatch(batch))
		n := stream.Processed(err, len(batch))
		if n > 0 {
			w.advance(n)
			c.requestCommit()
		}
		if err == nil {
			attempt = 1
			continue
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("kafka: handler failed; records will be delivered again",
			"topic", w.tp.topic, "partition", w.tp.partition, "offset", batch[min(n, len(batch)-1)].Offset,
			"attempt", attempt, "retry_in", c.cfg.RetryBackoff, "err", err)
		attempt++
		t := time.NewTimer(c.cfg.RetryBackoff)
		select {
		case <-t.C:
		case <-w.stop:
			t.Stop()
			return
		}
	}
}

// fromKgoBatch converts fetched records with one allocation each for the
// records, their pointers and their headers.
func fromKgoBatch(batch []*kgo.Record) []*stream.Record {
	nh := 0
	for _, kr := range batch {
		nh += len(kr.Headers)
	}
	recs := make([]stream.Record, len(batch))
	ptrs := make([]*stream.Record, len(batch))
	headers := make([]stream.Header, nh)
	// Field by field: the memory is fresh and zeroed, and assigning whole
	// structs would copy them through a bulk write barrier while the GC
	// marks, at several times the cost.
	for i, kr := range batch {
		r := &recs[i]
		r.Topic = kr.Topic
		r.Partition = kr.Partition
		r.Offset = kr.Offset
		r.Key = kr.Key
		r.Value = kr.Value
		r.Timestamp = kr.Timestamp
		if n := len(kr.Headers); n > 0 {
			hs := headers[:n:n]
			headers = headers[n:]
			for j := range kr.Headers {
				hs[j].Key = kr.Headers[j].Key
				hs[j].Value = kr.Headers[j].Value
			}
			r.Headers = hs
		}
		ptrs[i] = r
	}
	return ptrs
}

// fromKgo converts a fetched record.
func fromKgo(kr *kgo.Record) *stream.Record {
	r := &stream.Record{
		Topic:     kr.Topic,
		Partition: kr.Partition,
		Offset:    kr.Offset,
		Key:       kr.Key,
		Value:     kr.Value,
		Timestamp: kr.Timestamp,
	}
	if len(kr.Headers) > 0 {
		r.Headers = make([]stream.Header, len(kr.Headers))
		for i, h := range kr.Headers {
			r.Headers[i] = stream.Header{Key: h.Key, Value: h.Value}
		}
	}
	return r
}
