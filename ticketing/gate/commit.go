package gate

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/store"
)

// maxGroup is the most scans one group commit holds.
const maxGroup = 512

// job is one scan waiting for its group's commit: the pass as the
// requester read it, and the rule that decides it.
type job struct {
	eventID, passID string
	st              passState
	version         int64
	build           func(passState) (Scan, Result)
	nonce           string
	at              time.Time

	res  Result
	ok   bool
	done chan struct{}
}

// committer groups concurrent scans into one transaction: while one group
// commits, the scans that arrive wait and form the next. Within a group
// scans are decided in arrival order, each on the state its pass has after
// the group's earlier scans, so two scans of one ticket in a group get the
// answers they would get one after the other. A group whose commit fails
// (another process appended to one of its passes, a nonce raced) is
// rolled back and written again without the scans of that pass, which
// are decided again alone.
type committer struct {
	s       *Service
	mu      sync.Mutex
	queue   []*job
	running bool
}

func newCommitter(s *Service) *committer { return &committer{s: s} }

// submit queues j and waits for its group's commit. ok false means the
// group did not commit: the caller decides the scan alone.
func (c *committer) submit(ctx context.Context, j *job) (Result, bool) {
	j.done = make(chan struct{})
	c.mu.Lock()
	c.queue = append(c.queue, j)
	if !c.running {
		c.running = true
		go c.loop(context.WithoutCancel(ctx))
	}
	c.mu.Unlock()
	<-j.done
	return j.res, j.ok
}

// loop commits groups until the queue is empty.
func (c *committer) loop(ctx context.Context) {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		n := min(len(c.queue), maxGroup)
		group := c.queue[:n:n]
		c.queue = append([]*job(nil), c.queue[n:]...)
		c.mu.Unlock()
		c.commit(ctx, group)
		for _, j := range group {
			close(j.done)
		}
	}
}

type passAt struct {
	st      passState
	version int64
}

// commit writes a group in one transaction, its scans appended in one
// statement. When one scan's pass conflicts (another process scanned it)
// or its nonce was answered meanwhile, the scans of that pass leave the
// group, to be decided alone, and the rest is written again; any other
// failure sends the whole group to be decided alone.
func (c *committer) commit(ctx context.Context, group []*job) {
	s := c.s
	for len(group) > 0 {
		results := make([]Result, len(group))
		parts := make([]eventsource.StreamAppend, len(group))
		failed := -1
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			seen := map[string]passAt{}
			for i, j := range group {
				id := streamID(j.eventID, j.passID)
				cur, ok := seen[id]
				if !ok {
					cur = passAt{j.st, j.version}
				}
				sc, res := j.build(cur.st)
				parts[i] = eventsource.StreamAppend{StreamID: id, Expected: cur.version, Events: []eventsource.Event{event(evScanned, sc, j.at)}}
				cur.st.applyScan(sc)
				cur.version++
				seen[id] = cur
				results[i] = res
			}
			// The appends first: on PostgreSQL they lock the passes, in
			// one order, before any nonce is written.
			if _, err := s.es.AppendStreamsTx(ctx, tx, parts); err != nil {
				if conflict := (*eventsource.ConflictError)(nil); errors.As(err, &conflict) {
					failed = slices.IndexFunc(parts, func(p eventsource.StreamAppend) bool { return p.StreamID == conflict.StreamID })
				}
				return err
			}
			for i, j := range group {
				if err := s.remember(ctx, tx, j.eventID, j.nonce, results[i]); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if err == nil {
			for i, j := range group {
				j.res, j.ok = results[i], true
			}
			return
		}
		s.log.Debug("gate: a group of scans did not commit", "scans", len(group), "err", err)
		if failed < 0 || !(errors.Is(err, eventsource.ErrConflict) || store.IsUniqueViolation(err)) {
			return
		}
		// The scans of the failing pass are decided alone; the others
		// are written again.
		bad := streamID(group[failed].eventID, group[failed].passID)
		rest := group[:0:0]
		for _, j := range group {
			if streamID(j.eventID, j.passID) != bad {
				rest = append(rest, j)
			}
		}
		group = rest
	}
}
