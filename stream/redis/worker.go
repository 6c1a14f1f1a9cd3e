package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
)

// queuedBatches is how many fetched batches may wait for a partition's
// handler.
const queuedBatches = 2

// worker handles one partition while its member holds the lease.
type worker struct {
	c      *consumer
	tp     tp
	key    string // the partition's stream
	lease  lease
	ch     chan []goredis.XMessage // fetched entries, from the fetcher
	cancel context.CancelFunc

	// throttled is set by the fetcher when it skipped the partition for a
	// full queue; the worker then wakes the fetcher when it takes a batch.
	throttled atomic.Bool
	// until is the local deadline of the lease, in Unix nanoseconds.
	until    atomic.Int64
	lost     atomic.Bool
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}

	committed int64
	delivered int64 // highest offset known delivered to the Redis group
}

func newWorker(c *consumer, x tp, l lease, sent time.Time, cancel context.CancelFunc) *worker {
	w := &worker{
		c:         c,
		cancel:    cancel,
		tp:        x,
		key:       c.b.k.partition(x.topic, x.partition),
		lease:     l,
		ch:        make(chan []goredis.XMessage, queuedBatches),
		stopCh:    make(chan struct{}),
		done:      make(chan struct{}),
		committed: l.committed,
		delivered: l.delivered,
	}
	w.extend(sent)
	return w
}

// extend moves the lease's local deadline to a renewal sent at sent. The
// server's deadline is at least sent+TTL; the margin covers clock drift.
func (w *worker) extend(sent time.Time) {
	w.until.Store(sent.Add(w.c.ttl - w.c.ttl/20).UnixNano())
}

func (w *worker) leaseValid() bool { return time.Now().UnixNano() < w.until.Load() }

// requestStop asks the worker to finish its batch, commit and release the
// lease.
func (w *worker) requestStop() { w.stopOnce.Do(func() { close(w.stopCh) }) }

// lose stops the worker at once, cancelling its handler, without commit.
func (w *worker) lose() {
	w.lost.Store(true)
	w.requestStop()
	w.cancel()
}

func (w *worker) stopping() bool {
	select {
	case <-w.stopCh:
		return true
	default:
		return false
	}
}

// run handles the partition until the worker is asked to stop, loses its
// lease or ctx ends; ctx is cancelled by lose.
//
// A batch's commit runs while the next batch is handled: the worker waits
// for it before committing again, before waiting out a handler error and
// before handing the partition over, and stops when it failed.
func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	defer w.cancel()
	log := w.c.log.With("topic", w.tp.topic, "partition", w.tp.partition)
	bg := context.WithoutCancel(ctx)
	var inflight chan bool // the result of the commit in flight, nil for none
	await := func() bool {
		if inflight == nil {
			return !w.lost.Load()
		}
		ok := <-inflight
		inflight = nil
		return ok
	}
	defer await()
	next := w.committed
	var buf []*stream.Record
	for {
		batch, ok := w.nextBatch(ctx, &buf, &next)
		if !ok {
			break
		}
		if !w.leaseValid() {
			log.Warn("redis: lease expired before the batch was handled; handing the partition over")
			w.lost.Store(true)
			return
		}
		herr := w.c.h(ctx, batch)
		if n := stream.Processed(herr, len(batch)); n > 0 {
			if !await() {
				return
			}
			next = batch[n-1].Offset + 1
			inflight = make(chan bool, 1)
			go func(to int64, result chan<- bool) { result <- w.commitRetry(bg, to, false) }(next, inflight)
		}
		if herr != nil {
			if !await() {
				return
			}
			log.Warn("redis: handler failed; delivering again from the committed offset",
				"offset", w.committed, "retry_in", w.c.cfg.RetryBackoff, "err", herr)
			t := time.NewTimer(w.c.cfg.RetryBackoff)
			select {
			case <-t.C:
			case <-w.stopCh:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
	if await() && !w.lost.Load() {
		w.commitRetry(bg, w.committed, true)
	}
}

// commitRetry commits offset to (and releases the lease when release is
// set), retrying while Redis cannot be reached and the lease lasts. It
// reports whether the worker may go on.
func (w *worker) commitRetry(ctx context.Context, to int64, release bool) bool {
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		gen, err := w.c.b.commit(cctx, w.c.cfg.Group, w.tp, w.lease.token, w.committed, to, release)
		cancel()
		if err == nil {
			w.committed = to
			w.c.sawGen(gen)
			return true
		}
		if errors.Is(err, errFenced) || errors.Is(err, stream.ErrClosed) || !w.leaseValid() {
			w.c.log.Warn("redis: commit failed; the records are delivered again to the partition's next owner",
				"topic", w.tp.topic, "partition", w.tp.partition, "offset", to, "err", err)
			w.lost.Store(true)
			return false
		}
		if attempt == 1 {
			w.c.log.Warn("redis: commit failed; retrying", "topic", w.tp.topic, "partition", w.tp.partition, "offset", to, "err", err)
		}
		time.Sleep(min(time.Duration(attempt)*50*time.Millisecond, time.Second))
	}
}

// nextBatch returns the records from offset *next on: from the fetched
// buffer when it starts there, else from the stream (entries already
// delivered to the group but not committed, or skipped because another
// reader took them), else it waits for the fetcher. It returns false when the
// worker should stop.
func (w *worker) nextBatch(ctx context.Context, buf *[]*stream.Record, next *int64) ([]*stream.Record, bool) {
	limit := w.c.cfg.MaxBatch
	for {
		if w.stopping() || ctx.Err() != nil {
			return nil, false
		}
		b := *buf
		i := 0
		for i < len(b) && b[i].Offset < *next {
			i++
		}
		b = b[i:]
		*buf = b
		if len(b) > 0 && b[0].Offset == *next {
			k := 1
			for k < len(b) && k < limit && b[k].Offset == b[k-1].Offset+1 {
				k++
			}
			*buf = b[k:]
			return b[:k:k], true
		}
		hi := w.delivered
		if len(b) > 0 {
			hi = b[0].Offset - 1
		}
		if *next <= hi {
			count := min(int64(w.c.fetch.count(1)), hi-*next+1)
			msgs, err := w.c.b.client.XRangeN(ctx, w.key, entryID(*next), entryID(hi), count).Result()
			if err != nil {
				if ctx.Err() == nil {
					w.c.log.Warn("redis: reading partition failed", "topic", w.tp.topic, "partition", w.tp.partition, "offset", *next, "err", err)
					w.sleep(ctx, 200*time.Millisecond)
				}
				continue
			}
			recs := w.c.fetch.decode(w.tp, msgs)
			if len(recs) == 0 {
				w.c.log.Warn("redis: records were deleted before the group consumed them",
					"topic", w.tp.topic, "partition", w.tp.partition, "from", *next, "to", hi)
				*next = hi + 1
				continue
			}
			return recs, true
		}
		select {
		case msgs := <-w.ch:
			if w.throttled.CompareAndSwap(true, false) {
				w.c.fetch.wake()
			}
			recs := w.c.fetch.decode(w.tp, msgs)
			if len(recs) > 0 {
				w.delivered = max(w.delivered, recs[len(recs)-1].Offset)
				*buf = append(*buf, recs...)
			}
		case <-w.stopCh:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

func (w *worker) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.stopCh:
	case <-ctx.Done():
	}
}
