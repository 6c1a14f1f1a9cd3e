package embedded

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-platform/arus/stream"
)

// The in-memory catalog. The writer is the only goroutine that changes it,
// and only after the transaction holding the change has committed, so it
// always mirrors durable state.

type topicState struct {
	id    int64
	topic stream.Topic
	parts []*partState
	// gone is closed when the topic is deleted.
	gone chan struct{}
	// dropped is set by the writer when the topic is deleted (writer only).
	dropped bool
}

func (t *topicState) isGone() bool {
	select {
	case <-t.gone:
		return true
	default:
		return false
	}
}

type partState struct {
	t     *topicState
	pid   int64
	index int32

	// Visible bounds, published after each commit.
	start atomic.Int64
	end   atomic.Int64
	bytes atomic.Int64

	// Writer-owned copies of what is durable.
	wEnd, wBytes, wMaxTime int64

	mu   sync.Mutex
	wake chan struct{}
}

func newPart(t *topicState, pid int64, index int32) *partState {
	return &partState{t: t, pid: pid, index: index, wake: make(chan struct{})}
}

// waitChan returns a channel closed at the next append to the partition.
// Take it before checking for new records, so no append is missed.
func (p *partState) waitChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wake
}

// signal wakes every reader waiting on the partition.
func (p *partState) signal() {
	p.mu.Lock()
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

// groupState is a group's durable state: the topics it is registered for and
// its committed offsets.
type groupState struct {
	topics  map[int64]bool
	offsets map[*partState]int64
}

func newGroupState() *groupState {
	return &groupState{topics: make(map[int64]bool), offsets: make(map[*partState]int64)}
}

// loadCatalog reads topics, partitions and groups into memory.
func (b *Broker) loadCatalog(c *dbConn) error {
	rs, err := c.query(sqlLoadTopics)
	if err != nil {
		return err
	}
	byID := make(map[int64]*topicState)
	for rs.next() {
		t := &topicState{id: rs.int(0), gone: make(chan struct{})}
		t.topic = stream.Topic{Name: rs.str(1), Partitions: int32(rs.int(2)),
			RetentionTime: time.Duration(rs.int(3)), RetentionBytes: rs.int(4)}
		t.parts = make([]*partState, t.topic.Partitions)
		byID[t.id] = t
		b.topics[t.topic.Name] = t
	}
	if err := rs.close(); err != nil {
		return err
	}
	rs, err = c.query(sqlLoadPartitions)
	if err != nil {
		return err
	}
	byPID := make(map[int64]*partState)
	for rs.next() {
		t := byID[rs.int(1)]
		i := rs.int(2)
		if t == nil || i < 0 || i >= int64(len(t.parts)) {
			continue
		}
		p := newPart(t, rs.int(0), int32(i))
		p.start.Store(rs.int(3))
		p.wEnd, p.wMaxTime = rs.int(3), minTime
		t.parts[i] = p
		byPID[p.pid] = p
	}
	if err := rs.close(); err != nil {
		return err
	}
	// End offset, bytes and largest timestamp from the chunks' index.
	rs, err = c.query(sqlLoadEnds)
	if err != nil {
		return err
	}
	for rs.next() {
		if p := byPID[rs.int(0)]; p != nil {
			p.wEnd, p.wMaxTime, p.wBytes = max(p.wEnd, rs.int(1)+1), rs.int(2), rs.int(3)
		}
	}
	if err := rs.close(); err != nil {
		return err
	}
	for _, p := range byPID {
		p.end.Store(p.wEnd)
		p.bytes.Store(p.wBytes)
	}
	for _, t := range byID {
		for i, p := range t.parts {
			if p == nil {
				return fmt.Errorf("topic %q: partition %d is missing from the catalog", t.topic.Name, i)
			}
		}
	}
	rs, err = c.query(sqlLoadGroupTopics)
	if err != nil {
		return err
	}
	for rs.next() {
		if byID[rs.int(1)] != nil {
			b.group(rs.str(0)).topics[rs.int(1)] = true
		}
	}
	if err := rs.close(); err != nil {
		return err
	}
	rs, err = c.query(sqlLoadOffsets)
	if err != nil {
		return err
	}
	for rs.next() {
		if p := byPID[rs.int(1)]; p != nil {
			b.group(rs.str(0)).offsets[p] = rs.int(2)
		}
	}
	return rs.close()
}

// group returns the durable state of a group, creating it in memory.
// The caller holds b.mu for writing (or is loading the catalog).
func (b *Broker) group(name string) *groupState {
	g := b.groups[name]
	if g == nil {
		g = newGroupState()
		b.groups[name] = g
	}
	return g
}
