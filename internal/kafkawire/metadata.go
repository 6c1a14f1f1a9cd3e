package kafkawire

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

// nodeID is the listener's broker id: it is the only broker, and leads
// every partition.
const nodeID = 0

// clusterID is what Metadata reports as the cluster id.
const clusterID = "arus"

// errCode maps an error of the log to the Kafka error code clients act on.
func errCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, stream.ErrTopicNotFound):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, stream.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, stream.ErrRecordTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, stream.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, stream.ErrGroupActive):
		return kerr.NonEmptyGroup.Code
	case errors.Is(err, stream.ErrGroupNotFound):
		return kerr.GroupIDNotFound.Code
	case errors.Is(err, stream.ErrClosed), errors.Is(err, stream.ErrUnavailable):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, stream.ErrInvalid):
		return kerr.InvalidRequest.Code
	}
	return kerr.UnknownServerError.Code
}

// errMessage returns err's text for the responses that carry one.
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

// advertised returns the host and port clients reached this connection on,
// which is what Metadata tells them to use.
func (c *conn) advertised() (string, int32) {
	host, port, err := net.SplitHostPort(c.nc.LocalAddr().String())
	if err != nil {
		return "127.0.0.1", 9092
	}
	p, _ := strconv.Atoi(port)
	return host, int32(p)
}

func (c *conn) requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, 30*time.Second)
}

func (c *conn) metadata(r *kmsg.MetadataRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	ctx, cancel := c.requestContext()
	defer cancel()
	host, port := c.advertised()
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = nodeID, host, port
	resp.Brokers = []kmsg.MetadataResponseBroker{b}
	cid := clusterID
	resp.ClusterID = &cid
	resp.ControllerID = nodeID

	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		infos, err := c.l.cfg.Log.ListTopics(ctx)
		if err != nil {
			c.l.log.Warn("kafkawire: metadata: list topics", "err", err)
		}
		for _, info := range infos {
			if c.can(auth.PermTopicsRead, info.Name) {
				resp.Topics = append(resp.Topics, topicMetadata(info, 0))
			}
		}
		return resp
	}
	create := r.Version < 4 || r.AllowAutoTopicCreation
	for _, rt := range r.Topics {
		name := ""
		if rt.Topic != nil {
			name = *rt.Topic
		}
		var info stream.TopicInfo
		var err error
		switch {
		case stream.ValidateTopicName(name) != nil:
			err = kerr.InvalidTopicException
		case !c.can(auth.PermTopicsRead, name):
			err = kerr.TopicAuthorizationFailed
		default:
			info, err = c.l.cfg.Log.DescribeTopic(ctx, name)
			if errors.Is(err, stream.ErrTopicNotFound) && create &&
				(c.can(auth.PermTopicsWrite, name) || c.can(auth.PermRecordsProduce, name)) {
				info, err = c.l.cfg.Log.EnsureTopic(ctx, name)
			}
		}
		if err != nil {
			t := kmsg.NewMetadataResponseTopic()
			t.Topic = &name
			t.ErrorCode = kafkaCode(err)
			resp.Topics = append(resp.Topics, t)
			continue
		}
		resp.Topics = append(resp.Topics, topicMetadata(info, 0))
	}
	return resp
}

// kafkaCode is errCode that also passes Kafka errors through.
func kafkaCode(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return errCode(err)
}

func topicMetadata(info stream.TopicInfo, code int16) kmsg.MetadataResponseTopic {
	t := kmsg.NewMetadataResponseTopic()
	name := info.Name
	t.Topic = &name
	t.ErrorCode = code
	for i := range info.Partitions {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition = i
		p.Leader = nodeID
		p.LeaderEpoch = 0
		p.Replicas = []int32{nodeID}
		p.ISR = []int32{nodeID}
		t.Partitions = append(t.Partitions, p)
	}
	return t
}

func (c *conn) findCoordinator(r *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := c.advertised()
	code := int16(0)
	var msg *string
	if r.CoordinatorType != 0 {
		code = kerr.InvalidRequest.Code
		m := "transactions are not supported by Arus's Kafka listener"
		msg = &m
	}
	if r.Version >= 4 {
		for _, key := range r.CoordinatorKeys {
			co := kmsg.NewFindCoordinatorResponseCoordinator()
			co.Key, co.NodeID, co.Host, co.Port, co.ErrorCode, co.ErrorMessage = key, nodeID, host, port, code, msg
			resp.Coordinators = append(resp.Coordinators, co)
		}
		return resp
	}
	resp.NodeID, resp.Host, resp.Port, resp.ErrorCode, resp.ErrorMessage = nodeID, host, port, code, msg
	return resp
}

// Topic configs the listener reports and accepts.
const (
	configRetentionMs    = "retention.ms"
	configRetentionBytes = "retention.bytes"
	configMaxMessage     = "max.message.bytes"
	configCleanupPolicy  = "cleanup.policy"
)

// topicFromConfigs builds the topic a CreateTopics entry asks for.
func topicFromConfigs(name string, partitions int32, configs []kmsg.CreateTopicsRequestTopicConfig) (stream.Topic, error) {
	t := stream.Topic{Name: name, Partitions: partitions}
	for _, cf := range configs {
		v := ""
		if cf.Value != nil {
			v = *cf.Value
		}
		switch cf.Name {
		case configRetentionMs:
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms < -1 {
				return t, stream.Invalidf("config %s=%q: use -1 or a number of milliseconds", cf.Name, v)
			}
			if ms > 0 {
				t.RetentionTime = time.Duration(ms) * time.Millisecond
			}
		case configRetentionBytes:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < -1 {
				return t, stream.Invalidf("config %s=%q: use -1 or a number of bytes", cf.Name, v)
			}
			if n > 0 {
				t.RetentionBytes = n
			}
		case configCleanupPolicy:
			if v != "delete" {
				return t, stream.Invalidf("config %s=%q: only delete is supported", cf.Name, v)
			}
		case configMaxMessage, "min.insync.replicas", "segment.bytes", "segment.ms", "compression.type", "message.timestamp.type":
			// Accepted and not applied: the log has one record size limit
			// and no segments; replicas and compression are Kafka's own.
		default:
			return t, stream.Invalidf("config %s is not supported; supported: %s, %s, %s", cf.Name, configRetentionMs, configRetentionBytes, configCleanupPolicy)
		}
	}
	return t, t.Validate()
}

func (c *conn) createTopics(r *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	ctx, cancel := c.requestContext()
	defer cancel()
	for _, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		partitions := rt.NumPartitions
		var err error
		switch {
		case !c.can(auth.PermTopicsWrite, rt.Topic):
			err = kerr.TopicAuthorizationFailed
		case len(rt.ReplicaAssignment) > 0:
			err = kerr.InvalidReplicaAssignment
		case rt.ReplicationFactor > 1:
			err = kerr.InvalidReplicationFactor
		}
		if partitions <= 0 {
			partitions = c.l.opts.DefaultPartitions
		}
		var t stream.Topic
		if err == nil {
			t, err = topicFromConfigs(rt.Topic, partitions, rt.Configs)
			if err != nil && stream.ValidateTopicName(rt.Topic) != nil {
				err = kerr.InvalidTopicException
			} else if err != nil {
				st.ErrorMessage = errMessage(err)
				err = kerr.InvalidConfig
			}
		}
		if err == nil && !r.ValidateOnly {
			err = c.l.cfg.Log.CreateTopic(ctx, t)
			if err != nil && !errors.Is(err, stream.ErrTopicExists) {
				st.ErrorMessage = errMessage(err)
			}
		}
		st.ErrorCode = kafkaCode(err)
		if err == nil {
			st.NumPartitions, st.ReplicationFactor = t.Partitions, 1
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (c *conn) deleteTopics(r *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	ctx, cancel := c.requestContext()
	defer cancel()
	names := r.TopicNames
	for _, t := range r.Topics {
		if t.Topic != nil {
			names = append(names, *t.Topic)
		}
	}
	for _, name := range names {
		st := kmsg.NewDeleteTopicsResponseTopic()
		n := name
		st.Topic = &n
		var err error
		if !c.can(auth.PermTopicsWrite, name) {
			err = kerr.TopicAuthorizationFailed
		} else {
			err = c.l.cfg.Log.DeleteTopic(ctx, name)
		}
		st.ErrorCode = kafkaCode(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (c *conn) describeConfigs(r *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	ctx, cancel := c.requestContext()
	defer cancel()
	for _, res := range r.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var configs [][2]string
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if !c.can(auth.PermTopicsRead, res.ResourceName) {
				rr.ErrorCode = kerr.TopicAuthorizationFailed.Code
				break
			}
			info, err := c.l.cfg.Log.DescribeTopic(ctx, res.ResourceName)
			if err != nil {
				rr.ErrorCode = errCode(err)
				rr.ErrorMessage = errMessage(err)
				break
			}
			ms, bytes := int64(-1), int64(-1)
			if info.RetentionTime > 0 {
				ms = info.RetentionTime.Milliseconds()
			}
			if info.RetentionBytes > 0 {
				bytes = info.RetentionBytes
			}
			configs = [][2]string{
				{configCleanupPolicy, "delete"},
				{configMaxMessage, strconv.Itoa(c.l.opts.MaxRecordBytes)},
				{configRetentionBytes, strconv.FormatInt(bytes, 10)},
				{configRetentionMs, strconv.FormatInt(ms, 10)},
			}
		case kmsg.ConfigResourceTypeBroker:
			configs = [][2]string{
				{"auto.create.topics.enable", strconv.FormatBool(!c.l.opts.Strict)},
				{"message.max.bytes", strconv.Itoa(c.l.opts.MaxRecordBytes)},
				{"num.partitions", strconv.Itoa(int(c.l.opts.DefaultPartitions))},
			}
		default:
			rr.ErrorCode = kerr.InvalidRequest.Code
			m := "only topic and broker configs are described"
			rr.ErrorMessage = &m
		}
		for _, kv := range configs {
			if res.ConfigNames != nil && !contains(res.ConfigNames, kv[0]) {
				continue
			}
			cf := kmsg.NewDescribeConfigsResponseResourceConfig()
			v := kv[1]
			cf.Name, cf.Value, cf.ReadOnly = kv[0], &v, true
			cf.Source = kmsg.ConfigSourceDefaultConfig
			rr.Configs = append(rr.Configs, cf)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// describeLogDirs reports one log directory holding every topic, with the
// bytes of each topic on its partition 0 (the log counts bytes per topic).
func (c *conn) describeLogDirs(r *kmsg.DescribeLogDirsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	ctx, cancel := c.requestContext()
	defer cancel()
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = "/arus"
	dir.TotalBytes, dir.UsableBytes = -1, -1
	want := map[string][]int32{}
	if r.Topics == nil {
		infos, err := c.l.cfg.Log.ListTopics(ctx)
		if err != nil {
			resp.ErrorCode = errCode(err)
			return resp
		}
		for _, info := range infos {
			for i := range info.Partitions {
				want[info.Name] = append(want[info.Name], i)
			}
		}
	}
	for _, t := range r.Topics {
		want[t.Topic] = append(want[t.Topic], t.Partitions...)
	}
	var names []string
	for name := range want {
		if c.can(auth.PermTopicsRead, name) {
			names = append(names, name)
		}
	}
	var sizes map[string]int64
	if sz, ok := c.l.cfg.Log.(stream.Sizer); ok {
		var err error
		if sizes, err = sz.TopicSizes(ctx, names); err != nil {
			resp.ErrorCode = errCode(err)
			return resp
		}
	}
	for _, name := range names {
		if _, ok := sizes[name]; !ok {
			continue
		}
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = name
		for _, p := range want[name] {
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition = p
			if p == 0 {
				dp.Size = sizes[name]
			}
			dt.Partitions = append(dt.Partitions, dp)
		}
		dir.Topics = append(dir.Topics, dt)
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{dir}
	return resp
}
