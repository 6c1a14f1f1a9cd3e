package embedded

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/arus-platform/arus/stream"
)

// Group commit limits: one transaction takes queued operations until it holds
// this many records or bytes.
const (
	maxTxRecords = 16384
	maxTxBytes   = 8 << 20
	queueLength  = 4096
	// freeChunks is how many chunk buffers the writer keeps for reuse.
	freeChunks = 64
	// maxYields bounds how often the writer yields to let callers queue
	// more work into a transaction smaller than the last one.
	maxYields = 4
)

type opKind int

const (
	opProduce opKind = iota
	opCommit
	opExclusive
)

// op is one unit of work for the writer. Produce and commit ops are grouped
// into shared transactions; exclusive ops (topic and group administration,
// retention) run in a transaction of their own.
type op struct {
	kind    opKind
	records []*stream.Record
	parts   []*partState // the partition of each record
	bytes   int

	group   string
	commits []offsetCommit

	// fn runs inside the transaction; after runs on the writer goroutine
	// once it has committed.
	fn func(c *dbConn) (after func(), err error)

	done chan error
}

type offsetCommit struct {
	p   *partState
	off int64
}

// writer is the only goroutine that writes to the log. It takes operations
// from a queue and runs as many as are waiting in one transaction, so that
// concurrent produce calls and offset commits share one fsync (group
// commit). An operation's done channel is answered only after its
// transaction committed, or failed.
type writer struct {
	b    *Broker
	conn *dbConn

	mu      sync.RWMutex // guards stopped and the sends on ops
	stopped bool
	ops     chan *op
	done    chan struct{}

	free    [][]byte // chunk buffers to reuse
	lastOps int      // ops in the last transaction
	written int      // bytes of chunks written since the last checkpoint request
}

func newWriter(b *Broker, c *dbConn) *writer {
	w := &writer{b: b, conn: c, ops: make(chan *op, queueLength), done: make(chan struct{})}
	go w.run()
	return w
}

// submit queues o and waits for its outcome.
func (w *writer) submit(o *op) error {
	if err := w.enqueue(o); err != nil {
		return err
	}
	return <-o.done
}

// enqueue queues o; its outcome arrives on o.done.
func (w *writer) enqueue(o *op) error {
	o.done = make(chan error, 1)
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.stopped {
		return stream.ErrClosed
	}
	w.ops <- o
	return nil
}

// exclusive runs fn in a transaction of its own and, once it committed,
// after on the writer goroutine.
func (w *writer) exclusive(fn func(c *dbConn) (after func(), err error)) error {
	return w.submit(&op{kind: opExclusive, fn: fn})
}

// stop lets the writer finish what is queued and waits for it to exit.
// Later submissions fail with ErrClosed.
func (w *writer) stop() {
	w.mu.Lock()
	if !w.stopped {
		w.stopped = true
		close(w.ops)
	}
	w.mu.Unlock()
	<-w.done
}

func (w *writer) run() {
	defer close(w.done)
	var batch []*op
	var next *op
	for {
		first := next
		next = nil
		if first == nil {
			o, ok := <-w.ops
			if !ok {
				return
			}
			first = o
		}
		if first.kind == opExclusive {
			w.runExclusive(first)
			continue
		}
		batch = append(batch[:0], first)
		n, size := len(first.records)+len(first.commits), first.bytes
		yields := 0
	drain:
		for n < maxTxRecords && size < maxTxBytes {
			select {
			case o, ok := <-w.ops:
				if !ok {
					break drain
				}
				if o.kind == opExclusive {
					next = o
					break drain
				}
				batch = append(batch, o)
				n += len(o.records) + len(o.commits)
				size += o.bytes
			default:
				// Callers answered by the last commit are likely about to
				// call again: let them run before committing without them.
				if yields < maxYields && len(batch) < w.lastOps {
					yields++
					runtime.Gosched()
					continue
				}
				break drain
			}
		}
		w.lastOps = len(batch)
		w.runBatch(batch)
		clear(batch)
	}
}

func (w *writer) runExclusive(o *op) {
	var after func()
	err := w.tx(func() error {
		var err error
		after, err = o.fn(w.conn)
		return err
	})
	if err == nil && after != nil {
		after()
	}
	o.done <- err
}

// runBatch runs produce and commit ops in one transaction. When it fails, each
// op is tried again in a transaction of its own, so that one bad op does not
// fail the others.
func (w *writer) runBatch(batch []*op) {
	st := txState{parts: make(map[*partState]*partDelta), commits: make(map[commitKey]int64)}
	err := w.tx(func() error { return w.apply(batch, &st) })
	if err == nil {
		if w.written >= walCheckpoint {
			w.written = 0
			w.b.cp.request()
		}
		w.b.stats.transactions.Add(1)
		for _, o := range batch {
			w.b.stats.records.Add(int64(len(o.records)))
		}
		w.publish(&st)
		for _, o := range batch {
			o.done <- nil
		}
		return
	}
	if len(batch) == 1 {
		batch[0].done <- err
		return
	}
	for _, o := range batch {
		w.runBatch([]*op{o})
	}
}

func (w *writer) tx(fn func() error) error {
	if _, err := w.conn.exec("BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(); err != nil {
		w.conn.exec("ROLLBACK")
		return err
	}
	if _, err := w.conn.exec("COMMIT"); err != nil {
		w.conn.exec("ROLLBACK")
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// txState is what a transaction changes, applied to memory once it commits.
type txState struct {
	parts   map[*partState]*partDelta
	commits map[commitKey]int64
}

type partDelta struct {
	end, bytes, maxTime int64
	chunk               *openChunk
}

// openChunk is a chunk being filled by the current transaction.
type openChunk struct {
	base, last, maxTime int64
	data                []byte
}

type commitKey struct {
	group string
	p     *partState
}

func (st *txState) part(p *partState) *partDelta {
	d := st.parts[p]
	if d == nil {
		d = &partDelta{end: p.wEnd, bytes: p.wBytes, maxTime: p.wMaxTime}
		st.parts[p] = d
	}
	return d
}

func (w *writer) apply(batch []*op, st *txState) error {
	for _, o := range batch {
		switch o.kind {
		case opProduce:
			for i, r := range o.records {
				p := o.parts[i]
				if p.t.dropped {
					return fmt.Errorf("topic %q: %w", p.t.topic.Name, stream.ErrTopicNotFound)
				}
				d := st.part(p)
				r.Offset = d.end
				d.end++
				if ts := r.Timestamp.UnixNano(); ts > d.maxTime {
					d.maxTime = ts
				}
				n := recordLen(r)
				size := uvarintLen(n) + n
				if c := d.chunk; c != nil && len(c.data)+size > chunkBytes {
					if err := w.insertChunk(p, c); err != nil {
						return err
					}
					d.chunk = nil
				}
				if d.chunk == nil {
					d.chunk = &openChunk{base: r.Offset, data: append(w.buffer(), chunkHead...)}
					d.bytes += int64(len(chunkHead))
				}
				c := d.chunk
				c.data = appendRecord(c.data, r)
				c.last, c.maxTime = r.Offset, d.maxTime
				d.bytes += int64(size)
			}
		case opCommit:
			for _, c := range o.commits {
				if c.p.t.dropped {
					continue
				}
				st.commits[commitKey{o.group, c.p}] = c.off
			}
		}
	}
	for p, d := range st.parts {
		if d.chunk != nil {
			if err := w.insertChunk(p, d.chunk); err != nil {
				return err
			}
			d.chunk = nil
		}
	}
	for k, off := range st.commits {
		if _, err := w.conn.exec(sqlCommitOffset, k.group, k.p.pid, off); err != nil {
			return fmt.Errorf("commit offset: %w", err)
		}
	}
	return nil
}

// insertChunk writes a chunk and recycles its buffer.
func (w *writer) insertChunk(p *partState, c *openChunk) error {
	_, err := w.conn.exec(sqlInsertChunk,
		p.pid, c.base, c.last, c.maxTime, len(c.data), c.data)
	w.written += len(c.data)
	if cap(c.data) <= 2*chunkBytes && len(w.free) < freeChunks {
		w.free = append(w.free, c.data[:0])
	}
	c.data = nil
	if err != nil {
		return fmt.Errorf("insert records: %w", err)
	}
	return nil
}

// buffer returns an empty chunk buffer.
func (w *writer) buffer() []byte {
	if n := len(w.free); n > 0 {
		b := w.free[n-1]
		w.free = w.free[:n-1]
		return b
	}
	return make([]byte, 0, chunkBytes)
}

// publish makes a committed transaction visible: partition bounds, committed
// offsets, and a wake-up for the readers of every partition that grew.
func (w *writer) publish(st *txState) {
	for p, d := range st.parts {
		p.wEnd, p.wBytes, p.wMaxTime = d.end, d.bytes, d.maxTime
		p.bytes.Store(d.bytes)
		p.end.Store(d.end)
	}
	if len(st.commits) > 0 {
		w.b.mu.Lock()
		for k, off := range st.commits {
			w.b.group(k.group).offsets[k.p] = off
		}
		w.b.mu.Unlock()
	}
	for p := range st.parts {
		p.signal()
	}
}

// close closes the writer's connection, the last one open: SQLite then
// checkpoints the whole write-ahead log into the database and removes it.
func (w *writer) close() error {
	return w.conn.close()
}
