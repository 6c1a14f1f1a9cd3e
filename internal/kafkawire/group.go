package kafkawire

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
)

// The group coordinator runs Kafka's classic consumer group protocol:
// members join (JoinGroup), the coordinator picks a protocol (the
// assignor) every member offers and a leader, the leader computes the
// assignment on the client side and hands it over (SyncGroup), and members
// keep their session alive (Heartbeat) until they leave. Cooperative
// assignors (cooperative-sticky) run over the same protocol: their
// incremental steps are the clients' business. Membership lives in memory;
// committed offsets live in the log.

type groupState int

const (
	groupEmpty groupState = iota
	groupPreparing
	groupCompleting
	groupStable
)

func (s groupState) String() string {
	return [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable"}[s]
}

// claimOwner names this protocol in the log's refusal of its own consumers.
const claimOwner = "Kafka protocol"

type coordinator struct {
	l      *Listener
	mu     sync.Mutex
	groups map[string]*group
	// pending are member ids handed out (KIP-394) and not joined yet.
	pending map[pendingKey]bool
}

type pendingKey struct{ group, member string }

// maxPending bounds the ids handed out and never used.
const maxPending = 10000

func (co *coordinator) addPending(group, id string) {
	if len(co.pending) >= maxPending {
		clear(co.pending)
	}
	co.pending[pendingKey{group, id}] = true
}

type group struct {
	name         string
	state        groupState
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*groupMember
	order        []string // member ids in join order
	release      func()   // the log's claim on the group
	joinTimer    *time.Timer
}

type groupMember struct {
	id             string
	clientID, host string
	protocolType   string
	protocols      []kmsg.JoinGroupRequestProtocol
	session        time.Duration
	rebalance      time.Duration
	assignment     []byte
	joined         chan *kmsg.JoinGroupResponse // set while waiting in JoinGroup
	synced         chan *kmsg.SyncGroupResponse // set while waiting in SyncGroup
	sessionTimer   *time.Timer
}

func newCoordinator(l *Listener) *coordinator {
	return &coordinator{l: l, groups: make(map[string]*group), pending: make(map[pendingKey]bool)}
}

// close ends every group: waiting members are answered and the log's
// claims released.
func (co *coordinator) close() {
	co.mu.Lock()
	defer co.mu.Unlock()
	for _, g := range co.groups {
		if g.joinTimer != nil {
			g.joinTimer.Stop()
		}
		for _, m := range g.members {
			if m.sessionTimer != nil {
				m.sessionTimer.Stop()
			}
		}
		g.members, g.order = nil, nil
		co.dropIfEmpty(g)
	}
}

func newMemberID(clientID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	if clientID == "" {
		clientID = "member"
	}
	return clientID + "-" + hex.EncodeToString(b[:])
}

// armSession (re)starts a member's session timer; when it fires the member
// is removed and the group rebalances.
func (co *coordinator) armSession(g *group, m *groupMember) {
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	m.sessionTimer = time.AfterFunc(m.session, func() {
		co.mu.Lock()
		defer co.mu.Unlock()
		if g.members[m.id] != m || m.joined != nil {
			return
		}
		co.l.log.Info("kafkawire: group member's session expired", "group", g.name, "member", m.id)
		co.removeMember(g, m, kerr.UnknownMemberID.Code)
		co.dropIfEmpty(g)
	})
}

// removeMember takes a member out of its group, answering any request of
// its that waits, and rebalances the others.
func (co *coordinator) removeMember(g *group, m *groupMember, code int16) {
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	if m.joined != nil {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.ErrorCode, resp.MemberID, resp.Generation = code, m.id, -1
		m.joined <- resp
		m.joined = nil
	}
	if m.synced != nil {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.ErrorCode = code
		m.synced <- resp
		m.synced = nil
	}
	delete(g.members, m.id)
	g.order = slices.DeleteFunc(g.order, func(id string) bool { return id == m.id })
	if len(g.members) == 0 {
		g.state = groupEmpty
		g.leader, g.protocol = "", ""
		g.generation++
		if g.joinTimer != nil {
			g.joinTimer.Stop()
			g.joinTimer = nil
		}
		return
	}
	switch g.state {
	case groupStable, groupCompleting:
		co.prepareRebalance(g)
	case groupPreparing:
		co.maybeCompleteJoin(g)
	}
}

// dropIfEmpty forgets a group without members and releases the log's
// claim on it; its offsets stay in the log.
func (co *coordinator) dropIfEmpty(g *group) {
	if len(g.members) > 0 {
		return
	}
	if co.groups[g.name] == g {
		delete(co.groups, g.name)
	}
	if g.release != nil {
		g.release()
		g.release = nil
	}
}

// prepareRebalance moves a group to PreparingRebalance: members waiting
// for their assignment are told to join again, and the join phase ends
// when every member has rejoined or the longest rebalance timeout passes.
func (co *coordinator) prepareRebalance(g *group) {
	if g.state == groupCompleting {
		for _, m := range g.members {
			if m.synced != nil {
				resp := kmsg.NewPtrSyncGroupResponse()
				resp.ErrorCode = kerr.RebalanceInProgress.Code
				m.synced <- resp
				m.synced = nil
			}
		}
	}
	g.state = groupPreparing
	var timeout time.Duration
	for _, m := range g.members {
		timeout = max(timeout, m.rebalance)
	}
	if g.joinTimer != nil {
		g.joinTimer.Stop()
	}
	gen := g.generation
	g.joinTimer = time.AfterFunc(timeout, func() {
		co.mu.Lock()
		defer co.mu.Unlock()
		if g.state != groupPreparing || g.generation != gen || co.groups[g.name] != g {
			return
		}
		for _, m := range g.members {
			if m.joined == nil {
				co.l.log.Info("kafkawire: group member did not rejoin in time", "group", g.name, "member", m.id)
				delete(g.members, m.id)
				g.order = slices.DeleteFunc(g.order, func(id string) bool { return id == m.id })
				if m.sessionTimer != nil {
					m.sessionTimer.Stop()
				}
			}
		}
		co.completeJoin(g)
		co.dropIfEmpty(g)
	})
	co.maybeCompleteJoin(g)
}

// maybeCompleteJoin ends the join phase once every member waits in
// JoinGroup.
func (co *coordinator) maybeCompleteJoin(g *group) {
	if g.state != groupPreparing {
		return
	}
	for _, m := range g.members {
		if m.joined == nil {
			return
		}
	}
	co.completeJoin(g)
}

// completeJoin starts the next generation: picks the protocol and the
// leader and answers every waiting JoinGroup.
func (co *coordinator) completeJoin(g *group) {
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	if len(g.members) == 0 {
		g.state = groupEmpty
		return
	}
	g.generation++
	g.protocol = chooseProtocol(g)
	if _, ok := g.members[g.leader]; !ok {
		g.leader = g.order[0]
	}
	g.state = groupCompleting
	var all []kmsg.JoinGroupResponseMember
	for _, id := range g.order {
		m := g.members[id]
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		for _, p := range m.protocols {
			if p.Name == g.protocol {
				jm.ProtocolMetadata = p.Metadata
			}
		}
		all = append(all, jm)
	}
	for _, m := range g.members {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Generation, resp.MemberID, resp.LeaderID = g.generation, m.id, g.leader
		pt, proto := g.protocolType, g.protocol
		resp.ProtocolType, resp.Protocol = &pt, &proto
		if m.id == g.leader {
			resp.Members = all
		}
		m.assignment = nil
		if m.joined != nil {
			m.joined <- resp
			m.joined = nil
		}
		co.armSession(g, m)
	}
}

// chooseProtocol picks the protocol every member offers that most members
// prefer (each member votes for the first of its protocols all offer).
func chooseProtocol(g *group) string {
	var common []string
	for i, id := range g.order {
		var names []string
		for _, p := range g.members[id].protocols {
			names = append(names, p.Name)
		}
		if i == 0 {
			common = names
			continue
		}
		common = slices.DeleteFunc(common, func(n string) bool { return !slices.Contains(names, n) })
	}
	votes := map[string]int{}
	for _, id := range g.order {
		for _, p := range g.members[id].protocols {
			if slices.Contains(common, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, n := range common {
		if best == "" || votes[n] > votes[best] {
			best = n
		}
	}
	return best
}

// offersCommon reports whether protocols share a name with every member's.
func offersCommon(g *group, protocols []kmsg.JoinGroupRequestProtocol, except string) bool {
	for _, p := range protocols {
		ok := true
		for id, m := range g.members {
			if id == except {
				continue
			}
			if !slices.ContainsFunc(m.protocols, func(q kmsg.JoinGroupRequestProtocol) bool { return q.Name == p.Name }) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (g *group) String() string {
	return fmt.Sprintf("group %q (%s, generation %d)", g.name, g.state, g.generation)
}

// membersOf returns what lists a group's Kafka members and the partitions
// each was assigned, for the log's group descriptions (`arus groups`, the
// console).
func (co *coordinator) membersOf(name string) func() []stream.Member {
	return func() []stream.Member {
		co.mu.Lock()
		defer co.mu.Unlock()
		g := co.groups[name]
		if g == nil {
			return nil
		}
		out := make([]stream.Member, 0, len(g.order))
		for _, id := range g.order {
			m := g.members[id]
			sm := stream.Member{ID: id, Partitions: []stream.TopicPartition{}}
			var a kmsg.ConsumerMemberAssignment
			if g.protocolType == "consumer" && len(m.assignment) > 0 && a.ReadFrom(m.assignment) == nil {
				for _, t := range a.Topics {
					for _, p := range t.Partitions {
						sm.Partitions = append(sm.Partitions, stream.TopicPartition{Topic: t.Topic, Partition: p})
					}
				}
			}
			slices.SortFunc(sm.Partitions, func(a, b stream.TopicPartition) int {
				if a.Topic != b.Topic {
					return strings.Compare(a.Topic, b.Topic)
				}
				return int(a.Partition - b.Partition)
			})
			out = append(out, sm)
		}
		return out
	}
}
