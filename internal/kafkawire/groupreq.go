package kafkawire

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

// Session timeouts a member may ask for, as Kafka's group.min/max.session.timeout.ms.
const (
	minSession = 1 * time.Second
	maxSession = 30 * time.Minute
)

func (c *conn) joinGroup(r *kmsg.JoinGroupRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation = -1
	fail := func(code int16) kmsg.Response {
		resp.ErrorCode = code
		return resp
	}
	if stream.ValidateGroupName(r.Group) != nil {
		return fail(kerr.InvalidGroupID.Code)
	}
	if !c.can(auth.PermGroupsReset, r.Group) {
		return fail(kerr.GroupAuthorizationFailed.Code)
	}
	if r.InstanceID != nil {
		// Static membership is not implemented; members join dynamically.
		c.l.log.Debug("kafkawire: group.instance.id ignored; static membership is not supported", "group", r.Group)
	}
	session := time.Duration(r.SessionTimeoutMillis) * time.Millisecond
	if session < minSession || session > maxSession {
		return fail(kerr.InvalidSessionTimeout.Code)
	}
	rebalance := session
	if r.Version >= 1 && r.RebalanceTimeoutMillis > 0 {
		rebalance = time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
	}
	if r.ProtocolType == "" || len(r.Protocols) == 0 {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}

	co := c.l.groups
	co.mu.Lock()
	g := co.groups[r.Group]
	if g == nil {
		release, err := c.l.cfg.Log.ClaimGroup(r.Group, claimOwner, co.membersOf(r.Group))
		if err != nil {
			co.mu.Unlock()
			c.l.log.Warn("kafkawire: refused a Kafka member: the group has live Arus consumers", "group", r.Group, "err", err)
			return fail(kerr.InconsistentGroupProtocol.Code)
		}
		g = &group{name: r.Group, members: map[string]*groupMember{}, release: release}
		co.groups[r.Group] = g
	}
	if len(g.members) > 0 && (r.ProtocolType != g.protocolType || !offersCommon(g, r.Protocols, r.MemberID)) {
		co.mu.Unlock()
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	id := r.MemberID
	m := g.members[id]
	switch {
	case id == "" && r.Version >= 4:
		// KIP-394: hand out an id; the member joins again with it.
		id = newMemberID(c.clientID)
		co.addPending(r.Group, id)
		co.dropIfEmpty(g)
		co.mu.Unlock()
		resp.MemberID = id
		return fail(kerr.MemberIDRequired.Code)
	case id == "":
		id = newMemberID(c.clientID)
	case m == nil && !co.pending[pendingKey{r.Group, id}]:
		co.dropIfEmpty(g)
		co.mu.Unlock()
		resp.MemberID = id
		return fail(kerr.UnknownMemberID.Code)
	}
	delete(co.pending, pendingKey{r.Group, id})
	if m == nil {
		m = &groupMember{id: id}
		g.members[id] = m
		g.order = append(g.order, id)
	}
	if m.joined != nil {
		// A join sent again while the first waits: the first is answered
		// as superseded.
		old := kmsg.NewPtrJoinGroupResponse()
		old.ErrorCode, old.MemberID, old.Generation = kerr.RebalanceInProgress.Code, id, -1
		m.joined <- old
	}
	m.clientID, m.host = c.clientID, "/"+hostOf(c.nc.RemoteAddr().String())
	m.protocolType, m.protocols = r.ProtocolType, r.Protocols
	m.session, m.rebalance = session, rebalance
	g.protocolType = r.ProtocolType
	joined := make(chan *kmsg.JoinGroupResponse, 1)
	m.joined = joined
	if m.sessionTimer != nil {
		m.sessionTimer.Stop()
	}
	if g.state == groupPreparing {
		co.maybeCompleteJoin(g)
	} else {
		co.prepareRebalance(g)
	}
	co.mu.Unlock()

	select {
	case jr := <-joined:
		jr.SetVersion(r.Version)
		jr.ThrottleMillis = 0
		return jr
	case <-c.ctx.Done():
		co.mu.Lock()
		if m.joined == joined {
			m.joined = nil
			co.armSession(g, m)
		}
		co.mu.Unlock()
		return fail(kerr.CoordinatorNotAvailable.Code)
	}
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

// member returns a group's member after checking the request's generation,
// or the error code to answer with.
func (co *coordinator) member(group, id string, generation int32) (*group, *groupMember, int16) {
	g := co.groups[group]
	if g == nil {
		return nil, nil, kerr.UnknownMemberID.Code
	}
	m := g.members[id]
	if m == nil {
		return g, nil, kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return g, m, kerr.IllegalGeneration.Code
	}
	return g, m, 0
}

func (c *conn) syncGroup(r *kmsg.SyncGroupRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	if !c.can(auth.PermGroupsReset, r.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	co := c.l.groups
	co.mu.Lock()
	g, m, code := co.member(r.Group, r.MemberID, r.Generation)
	if code != 0 {
		co.mu.Unlock()
		resp.ErrorCode = code
		return resp
	}
	co.armSession(g, m)
	switch g.state {
	case groupPreparing:
		co.mu.Unlock()
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		return resp
	case groupStable:
		resp.MemberAssignment = m.assignment
		co.setProtocol(g, resp)
		co.mu.Unlock()
		return resp
	}
	if r.MemberID == g.leader {
		for _, a := range r.GroupAssignment {
			if gm := g.members[a.MemberID]; gm != nil {
				gm.assignment = a.MemberAssignment
			}
		}
		g.state = groupStable
		for _, gm := range g.members {
			if gm.synced != nil {
				sr := kmsg.NewPtrSyncGroupResponse()
				sr.MemberAssignment = gm.assignment
				gm.synced <- sr
				gm.synced = nil
			}
		}
		resp.MemberAssignment = m.assignment
		co.setProtocol(g, resp)
		co.mu.Unlock()
		return resp
	}
	synced := make(chan *kmsg.SyncGroupResponse, 1)
	m.synced = synced
	co.mu.Unlock()
	select {
	case sr := <-synced:
		sr.SetVersion(r.Version)
		if sr.ErrorCode == 0 {
			co.mu.Lock()
			co.setProtocol(g, sr)
			co.mu.Unlock()
		}
		return sr
	case <-c.ctx.Done():
		co.mu.Lock()
		if m.synced == synced {
			m.synced = nil
		}
		co.mu.Unlock()
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
}

func (co *coordinator) setProtocol(g *group, resp *kmsg.SyncGroupResponse) {
	pt, p := g.protocolType, g.protocol
	resp.ProtocolType, resp.Protocol = &pt, &p
}

func (c *conn) heartbeat(r *kmsg.HeartbeatRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	if !c.can(auth.PermGroupsReset, r.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	co := c.l.groups
	co.mu.Lock()
	defer co.mu.Unlock()
	g, m, code := co.member(r.Group, r.MemberID, r.Generation)
	if m != nil && m.joined == nil {
		co.armSession(g, m)
	}
	if code == 0 && g.state == groupPreparing {
		code = kerr.RebalanceInProgress.Code
	}
	resp.ErrorCode = code
	return resp
}

func (c *conn) leaveGroup(r *kmsg.LeaveGroupRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	if !c.can(auth.PermGroupsReset, r.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	ids := []string{r.MemberID}
	if r.Version >= 3 {
		ids = nil
		for _, m := range r.Members {
			ids = append(ids, m.MemberID)
		}
	}
	co := c.l.groups
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[r.Group]
	for _, id := range ids {
		code := kerr.UnknownMemberID.Code
		if g != nil {
			if m := g.members[id]; m != nil {
				co.removeMember(g, m, kerr.UnknownMemberID.Code)
				code = 0
			}
		}
		if r.Version >= 3 {
			lm := kmsg.NewLeaveGroupResponseMember()
			lm.MemberID, lm.ErrorCode = id, code
			resp.Members = append(resp.Members, lm)
		} else {
			resp.ErrorCode = code
		}
	}
	if g != nil {
		co.dropIfEmpty(g)
	}
	return resp
}

// offsetCommit commits into the log. A member commits in its generation; a
// commit without a member (generation -1, as admin tools and consumers
// without a group send) is taken only while the group has no live members.
func (c *conn) offsetCommit(r *kmsg.OffsetCommitRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	code := int16(0)
	switch {
	case stream.ValidateGroupName(r.Group) != nil:
		code = kerr.InvalidGroupID.Code
	case !c.can(auth.PermGroupsReset, r.Group):
		code = kerr.GroupAuthorizationFailed.Code
	}
	var release func()
	if code == 0 {
		co := c.l.groups
		co.mu.Lock()
		if r.Generation < 0 && r.MemberID == "" {
			if g := co.groups[r.Group]; g != nil && len(g.members) > 0 {
				code = kerr.UnknownMemberID.Code
			} else if rel, err := c.l.cfg.Log.ClaimGroup(r.Group, claimOwner, nil); err != nil {
				// Live Arus consumers own the group's position.
				code = kerr.UnknownMemberID.Code
			} else {
				release = rel
			}
		} else {
			g, _, mcode := co.member(r.Group, r.MemberID, r.Generation)
			code = mcode
			if code == 0 && g.state == groupCompleting {
				code = kerr.RebalanceInProgress.Code
			}
		}
		co.mu.Unlock()
	}
	if release != nil {
		defer release()
	}
	offsets := map[stream.TopicPartition]int64{}
	codes := map[stream.TopicPartition]int16{}
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			tp := stream.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			switch {
			case code != 0:
				codes[tp] = code
			case !c.can(auth.PermRecordsRead, rt.Topic):
				codes[tp] = kerr.TopicAuthorizationFailed.Code
			default:
				if _, _, _, err := c.l.cfg.Log.Watch(rt.Topic, rp.Partition); err != nil {
					codes[tp] = kerr.UnknownTopicOrPartition.Code
				} else {
					offsets[tp] = max(rp.Offset, 0)
				}
			}
		}
	}
	if len(offsets) > 0 {
		ctx, cancel := c.requestContext()
		err := c.l.cfg.Log.CommitOffsets(ctx, r.Group, offsets)
		cancel()
		if err != nil {
			c.l.log.Warn("kafkawire: offset commit failed", "group", r.Group, "err", err)
			for tp := range offsets {
				codes[tp] = kafkaCode(err)
				if errors.Is(err, stream.ErrInvalid) {
					codes[tp] = kerr.UnknownTopicOrPartition.Code
				}
			}
		}
	}
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = codes[stream.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (c *conn) offsetFetch(r *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	if !c.can(auth.PermGroupsRead, r.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp
	}
	committed := c.l.cfg.Log.Committed(r.Group)
	byTopic := map[string][]int32{}
	var topics []string
	if r.Topics == nil {
		for tp := range committed {
			if _, ok := byTopic[tp.Topic]; !ok {
				topics = append(topics, tp.Topic)
			}
			byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
		}
		slices.Sort(topics)
	} else {
		for _, rt := range r.Topics {
			topics = append(topics, rt.Topic)
			byTopic[rt.Topic] = rt.Partitions
		}
	}
	for _, name := range topics {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = name
		parts := byTopic[name]
		slices.Sort(parts)
		for _, p := range parts {
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			sp.Partition, sp.Offset, sp.LeaderEpoch = p, -1, -1
			empty := ""
			sp.Metadata = &empty
			if !c.can(auth.PermRecordsRead, name) {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if off, ok := committed[stream.TopicPartition{Topic: name, Partition: p}]; ok {
				sp.Offset = off
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (c *conn) describeGroups(r *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	co := c.l.groups
	for _, name := range r.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = name
		if !c.can(auth.PermGroupsRead, name) {
			dg.ErrorCode = kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		co.mu.Lock()
		g := co.groups[name]
		if g != nil && len(g.members) > 0 {
			dg.State, dg.ProtocolType, dg.Protocol = g.state.String(), g.protocolType, g.protocol
			for _, id := range g.order {
				m := g.members[id]
				dm := kmsg.NewDescribeGroupsResponseGroupMember()
				dm.MemberID, dm.ClientID, dm.ClientHost = m.id, m.clientID, m.host
				for _, p := range m.protocols {
					if p.Name == g.protocol {
						dm.ProtocolMetadata = p.Metadata
					}
				}
				dm.MemberAssignment = m.assignment
				dg.Members = append(dg.Members, dm)
			}
		}
		co.mu.Unlock()
		if dg.State == "" {
			dg.State = "Dead"
			if c.l.cfg.Log.Committed(name) != nil {
				dg.State, dg.ProtocolType = "Empty", "consumer"
			}
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *conn) listGroups(r *kmsg.ListGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	states := map[string]string{}
	co := c.l.groups
	co.mu.Lock()
	for name, g := range co.groups {
		if len(g.members) > 0 {
			states[name] = g.state.String()
		}
	}
	co.mu.Unlock()
	ctx, cancel := c.requestContext()
	defer cancel()
	infos, err := c.l.cfg.Log.ListGroups(ctx)
	if err != nil {
		resp.ErrorCode = errCode(err)
		return resp
	}
	for _, info := range infos {
		if _, ok := states[info.Group]; !ok {
			states[info.Group] = "Empty"
			if len(info.Members) > 0 {
				states[info.Group] = "Stable"
			}
		}
	}
	names := make([]string, 0, len(states))
	for name := range states {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !c.can(auth.PermGroupsRead, name) {
			continue
		}
		if len(r.StatesFilter) > 0 && !slices.ContainsFunc(r.StatesFilter, func(s string) bool { return strings.EqualFold(s, states[name]) }) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState = name, "consumer", states[name]
		resp.Groups = append(resp.Groups, lg)
	}
	return resp
}

func (c *conn) deleteGroups(r *kmsg.DeleteGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	ctx, cancel := c.requestContext()
	defer cancel()
	co := c.l.groups
	for _, name := range r.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = name
		co.mu.Lock()
		live := co.groups[name] != nil && len(co.groups[name].members) > 0
		co.mu.Unlock()
		switch {
		case !c.can(auth.PermGroupsReset, name):
			dg.ErrorCode = kerr.GroupAuthorizationFailed.Code
		case live:
			dg.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			dg.ErrorCode = errCode(c.l.cfg.Log.DeleteGroup(ctx, name))
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}
