package embedded

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"

	"github.com/arus-platform/arus/stream"
)

// Group commit limits: one transaction takes queued operations until it holds
// this many records or bytes.
const (
	maxTxRecords = 8192
	maxTxBytes   = 8 << 20
	// Rows per multi-row INSERT, and the bytes of data one INSERT binds.
	insertRows  = 64
	insertBytes = 1 << 20
	queueLength = 4096
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

	inserts map[int]driver.Stmt
	arena   []byte
	rows    []row
	args    []driver.NamedValue
}

// row is one record being inserted.
type row struct {
	pid, off, maxTime int64
	start, end        int // its data in the arena
}

func newWriter(b *Broker, c *dbConn) *writer {
	w := &writer{b: b, conn: c, ops: make(chan *op, queueLength), done: make(chan struct{}), inserts: make(map[int]driver.Stmt)}
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
				break drain
			}
		}
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
	w.arena = w.arena[:0]
	w.rows = w.rows[:0]
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
				start := len(w.arena)
				w.arena = appendRecord(w.arena, r)
				d.bytes += int64(len(w.arena) - start)
				w.rows = append(w.rows, row{pid: p.pid, off: r.Offset, maxTime: d.maxTime, start: start, end: len(w.arena)})
				if len(w.rows) == insertRows || len(w.arena) >= insertBytes {
					if err := w.flushRows(); err != nil {
						return err
					}
				}
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
	if err := w.flushRows(); err != nil {
		return err
	}
	for p, d := range st.parts {
		if _, err := w.conn.exec(`UPDATE partitions SET end_offset = ?, bytes = ?, max_time = ? WHERE id = ?`,
			d.end, d.bytes, d.maxTime, p.pid); err != nil {
			return fmt.Errorf("update partition: %w", err)
		}
	}
	for k, off := range st.commits {
		if _, err := w.conn.exec(`INSERT INTO group_offsets (grp, pid, committed) VALUES (?, ?, ?)
			ON CONFLICT (grp, pid) DO UPDATE SET committed = excluded.committed`, k.group, k.p.pid, off); err != nil {
			return fmt.Errorf("commit offset: %w", err)
		}
	}
	return nil
}

// flushRows inserts the pending rows with one multi-row INSERT.
func (w *writer) flushRows() error {
	n := len(w.rows)
	if n == 0 {
		return nil
	}
	s, err := w.insertStmt(n)
	if err != nil {
		return err
	}
	w.args = w.args[:0]
	for _, r := range w.rows {
		k := len(w.args)
		w.args = append(w.args,
			driver.NamedValue{Ordinal: k + 1, Value: r.pid},
			driver.NamedValue{Ordinal: k + 2, Value: r.off},
			driver.NamedValue{Ordinal: k + 3, Value: r.maxTime},
			driver.NamedValue{Ordinal: k + 4, Value: w.arena[r.start:r.end]},
		)
	}
	if _, err := w.conn.execStmt(s, w.args); err != nil {
		return fmt.Errorf("insert records: %w", err)
	}
	w.rows = w.rows[:0]
	w.arena = w.arena[:0]
	return nil
}

func (w *writer) insertStmt(n int) (driver.Stmt, error) {
	if s, ok := w.inserts[n]; ok {
		return s, nil
	}
	var q strings.Builder
	q.WriteString("INSERT INTO records (pid, off, max_time, data) VALUES ")
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?)")
	}
	s, err := w.conn.conn.Prepare(q.String())
	if err != nil {
		return nil, fmt.Errorf("prepare insert: %w", err)
	}
	w.inserts[n] = s
	return s, nil
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

func (w *writer) close() {
	for _, s := range w.inserts {
		s.Close()
	}
	w.conn.close()
}
