package embedded

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/arus-platform/arus/stream"
)

// coordinator runs the consumer groups of this process. Each Consume call is
// one member. The coordinator spreads the partitions of a group's topics
// evenly over its live members and moves them when members join or leave.
// A partition moves in two steps: its current worker is told to stop, and
// only once it has finished its handler call and committed does the new
// owner's worker start. A partition is therefore never handled by two
// members at once.
type coordinator struct {
	b      *Broker
	mu     sync.Mutex
	groups map[string]*liveGroup
}

type liveGroup struct {
	name    string
	members []*member // in join order
	slots   map[*partState]*slot
	// held is set while an admin operation changes the group's offsets.
	held bool
	// claims are the ClaimGroup calls not yet released.
	claims map[*claim]struct{}
	cond   *sync.Cond
}

// slot is one partition of a group: who should own it and which worker runs.
type slot struct {
	owner  *member
	worker *worker
}

type member struct {
	id     string
	g      *liveGroup
	cfg    stream.ConsumerConfig
	h      stream.Handler
	left   bool
	wg     sync.WaitGroup // its workers, assigned or running
	topics map[string]bool
	// ready are workers assigned to the member and not yet running: its
	// Consume call runs them, with its context, when wake fires.
	ready []*worker
	wake  chan struct{} // capacity 1
}

func newCoordinator(b *Broker) *coordinator {
	return &coordinator{b: b, groups: make(map[string]*liveGroup)}
}

func (c *coordinator) liveGroup(name string) *liveGroup {
	g := c.groups[name]
	if g == nil {
		g = &liveGroup{name: name, slots: make(map[*partState]*slot)}
		g.cond = sync.NewCond(&c.mu)
		c.groups[name] = g
	}
	return g
}

// unheld returns a group once no admin operation holds it. The caller holds
// c.mu.
func (c *coordinator) unheld(name string) *liveGroup {
	for {
		g := c.liveGroup(name)
		if !g.held {
			return g
		}
		g.cond.Wait()
	}
}

// join adds a member to its group and rebalances. It fails with
// ErrGroupActive while the group is claimed by another protocol.
func (c *coordinator) join(cfg stream.ConsumerConfig, h stream.Handler) (*member, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.unheld(cfg.Group)
	for cl := range g.claims {
		return nil, fmt.Errorf("%w: its members consume it over the %s; stop them or use another group", stream.ErrGroupActive, cl.owner)
	}
	m := &member{id: cfg.Member, g: g, cfg: cfg, h: h, topics: make(map[string]bool), wake: make(chan struct{}, 1)}
	for _, t := range cfg.Topics {
		m.topics[t] = true
	}
	for n := 2; slices.ContainsFunc(g.members, func(o *member) bool { return o.id == m.id }); n++ {
		m.id = fmt.Sprintf("%s-%d", cfg.Member, n)
	}
	g.members = append(g.members, m)
	c.rebalance(g)
	return m, nil
}

// leave removes a member; its partitions move to the others once its
// workers have stopped.
func (c *coordinator) leave(m *member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.left = true
	g := m.g
	g.members = slices.DeleteFunc(g.members, func(o *member) bool { return o == m })
	c.rebalance(g)
	c.forget(g)
}

// forget drops a group with no members and no running workers.
func (c *coordinator) forget(g *liveGroup) {
	if len(g.members) == 0 && len(g.slots) == 0 && !g.held && len(g.claims) == 0 && c.groups[g.name] == g {
		delete(c.groups, g.name)
	}
}

// topicsChanged rebalances every group after topics were created or deleted.
func (c *coordinator) topicsChanged() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.groups {
		c.rebalance(g)
	}
}

// rebalance computes the wanted owner of every partition and moves toward it:
// it stops workers whose member no longer owns their partition and starts
// workers on free partitions. The caller holds c.mu.
func (c *coordinator) rebalance(g *liveGroup) {
	var names []string
	for _, m := range g.members {
		for t := range m.topics {
			names = append(names, t)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	want := make(map[*partState]*member)
	k := 0
	for _, name := range names {
		t := c.b.lookup(name)
		if t == nil {
			continue
		}
		var subs []*member
		for _, m := range g.members {
			if m.topics[name] {
				subs = append(subs, m)
			}
		}
		for _, p := range t.parts {
			want[p] = subs[k%len(subs)]
			k++
		}
	}
	for p, s := range g.slots {
		if _, ok := want[p]; !ok {
			s.owner = nil
		}
	}
	for p, m := range want {
		s := g.slots[p]
		if s == nil {
			s = &slot{}
			g.slots[p] = s
		}
		s.owner = m
	}
	for p, s := range g.slots {
		if s.worker != nil && s.worker.m != s.owner {
			s.worker.stop()
		}
		if s.worker == nil {
			c.start(g, p, s)
		}
	}
}

// start assigns a worker to the slot's owner, if it has one that can run;
// the owner's Consume call runs it. The caller holds c.mu.
func (c *coordinator) start(g *liveGroup, p *partState, s *slot) {
	m := s.owner
	if m == nil || m.left || p.t.isGone() {
		if m == nil || p.t.isGone() {
			delete(g.slots, p)
		}
		return
	}
	w := &worker{b: c.b, m: m, p: p, quit: make(chan struct{})}
	s.worker = w
	m.wg.Add(1)
	m.ready = append(m.ready, w)
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// run runs the workers assigned to m since the last call, with ctx.
func (c *coordinator) run(ctx context.Context, m *member) {
	c.mu.Lock()
	ws := m.ready
	m.ready = nil
	c.mu.Unlock()
	for _, w := range ws {
		go w.run(ctx)
	}
}

// workerDone is called by a worker that has stopped and committed; the
// partition's next owner may start.
func (c *coordinator) workerDone(w *worker) {
	c.mu.Lock()
	g := w.m.g
	if s := g.slots[w.p]; s != nil && s.worker == w {
		s.worker = nil
		c.start(g, w.p, s)
	}
	c.forget(g)
	c.mu.Unlock()
	w.m.wg.Done()
}

// members returns the live members of a group and the partitions each owns,
// nil when it has none.
func (c *coordinator) members(group string) []stream.Member {
	c.mu.Lock()
	g := c.groups[group]
	var others []func() []stream.Member
	if g != nil {
		for cl := range g.claims {
			if cl.members != nil {
				others = append(others, cl.members)
			}
		}
	}
	c.mu.Unlock()
	if len(others) > 0 {
		// Called without c.mu: they take the claimer's own locks.
		var out []stream.Member
		for _, f := range others {
			out = append(out, f()...)
		}
		slices.SortFunc(out, func(a, b stream.Member) int { return strings.Compare(a.ID, b.ID) })
		return out
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g == nil || len(g.members) == 0 {
		return nil
	}
	out := make([]stream.Member, 0, len(g.members))
	for _, m := range g.members {
		sm := stream.Member{ID: m.id, Partitions: []stream.TopicPartition{}}
		for p, s := range g.slots {
			if s.owner == m {
				sm.Partitions = append(sm.Partitions, stream.TopicPartition{Topic: p.t.topic.Name, Partition: p.index})
			}
		}
		slices.SortFunc(sm.Partitions, func(a, b stream.TopicPartition) int {
			if c := strings.Compare(a.Topic, b.Topic); c != 0 {
				return c
			}
			return int(a.Partition - b.Partition)
		})
		out = append(out, sm)
	}
	slices.SortFunc(out, func(a, b stream.Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// liveGroups returns the names of groups with live members.
func (c *coordinator) liveGroups() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for name, g := range c.groups {
		if len(g.members) > 0 || len(g.claims) > 0 {
			names = append(names, name)
		}
	}
	return names
}

// hold keeps members from joining a group until unlock is called; it fails
// with ErrGroupActive when the group has live members or running workers.
func (c *coordinator) hold(group string) (unlock func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.unheld(group)
	if len(g.members) > 0 || len(g.slots) > 0 || len(g.claims) > 0 {
		n := len(g.members) + len(g.claims)
		c.forget(g)
		return nil, fmt.Errorf("%w: %d live member(s); stop its consumers first", stream.ErrGroupActive, n)
	}
	g.held = true
	return func() {
		c.mu.Lock()
		g.held = false
		g.cond.Broadcast()
		c.forget(g)
		c.mu.Unlock()
	}, nil
}
