package kafkawire

import (
	"context"
	"sync"

	"github.com/arus-platform/arus/stream"
)

// maxAheadBytes bounds the batches one connection reads ahead.
const maxAheadBytes = 32 << 20

// ahead is a batch read ahead for a consumer's next fetch of a partition.
type ahead struct {
	offset int64 // where the batch starts
	limit  int
	done   chan struct{}
	batch  []byte
	n      int
	next   int64
	id     string // the arus-id of its first record, to check it is still there
}

// aheads are a connection's batches read ahead, one per partition at most.
type aheads struct {
	mu    sync.Mutex
	m     map[stream.TopicPartition]*ahead
	bytes int
	wg    sync.WaitGroup
}

// readAhead starts reading the batch a consumer fetching from offset will
// ask for next, within the connection's budget.
func (c *conn) readAhead(tp stream.TopicPartition, offset, end int64, limit int) {
	a := &c.ahead
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = make(map[stream.TopicPartition]*ahead)
	}
	if old := a.m[tp]; old != nil {
		return // still being read or not yet taken
	}
	if a.bytes+limit > maxAheadBytes {
		return
	}
	e := &ahead{offset: offset, limit: limit, done: make(chan struct{})}
	a.m[tp] = e
	a.bytes += limit
	a.wg.Go(func() {
		defer close(e.done)
		recs, err := c.readRecords(c.ctx, tp, offset, end, limit)
		if err != nil || len(recs) == 0 {
			return
		}
		e.batch, e.n, e.next = encodeRecords(recs)
		e.id = recs[0].ID()
	})
}

// takeAhead returns the batch read ahead for a fetch of tp from offset,
// nil when there is none that fits. A batch is used only when its first
// record is still the one at offset (the topic was not deleted and made
// again meanwhile).
func (c *conn) takeAhead(ctx context.Context, tp stream.TopicPartition, offset int64, limit int) (batch []byte, n int, next int64) {
	a := &c.ahead
	a.mu.Lock()
	e := a.m[tp]
	if e != nil {
		delete(a.m, tp)
	}
	a.mu.Unlock()
	if e == nil {
		return nil, 0, 0
	}
	select {
	case <-e.done:
	case <-ctx.Done():
	}
	a.mu.Lock()
	a.bytes -= e.limit
	a.mu.Unlock()
	select {
	case <-e.done:
	default:
		return nil, 0, 0
	}
	if e.batch == nil || e.offset != offset || e.limit > limit {
		return nil, 0, 0
	}
	recs, err := c.l.cfg.Log.Read(ctx, tp.Topic, tp.Partition, offset, 1)
	if err != nil || len(recs) != 1 || recs[0].ID() != e.id {
		return nil, 0, 0
	}
	return e.batch, e.n, e.next
}
