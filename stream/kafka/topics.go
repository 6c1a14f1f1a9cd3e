package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
)

// Topic configuration keys Arus reads and sets.
const (
	configRetentionMs    = "retention.ms"
	configRetentionBytes = "retention.bytes"
	configMaxMessage     = "max.message.bytes"
)

const (
	// kafkaDefaultMaxMessage is Kafka's default max.message.bytes, assumed
	// when a broker does not report the topic's.
	kafkaDefaultMaxMessage = 1048588
	// topicCacheTTL is how long a topic's partition count is trusted before
	// it is read again, so that added partitions are noticed.
	topicCacheTTL = time.Minute
)

// topicCache remembers each topic's partition count and batch size limit so
// that producing does not ask the cluster every time.
type topicCache struct {
	mu       sync.Mutex
	m        map[string]*topicEntry
	maxBatch map[string]int32 // max.message.bytes per topic, as last seen
}

type topicEntry struct {
	ready      chan struct{} // closed once partitions and err are set
	partitions int32
	err        error
	at         time.Time
}

// maxBatchBytes is franz-go's per-topic batch size limit: the topic's
// max.message.bytes, so that batches fit and a record up to
// MaxRecordBytes fits on topics Arus created.
func (tc *topicCache) maxBatchBytes(topic string) int32 {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if n, ok := tc.maxBatch[topic]; ok {
		return n
	}
	return 1000012 // franz-go's default
}

func (tc *topicCache) set(topic string, partitions, maxMessage int32) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.maxBatch == nil {
		tc.maxBatch = make(map[string]int32)
	}
	tc.maxBatch[topic] = min(maxMessage, 1<<30)
	e := &topicEntry{ready: make(chan struct{}), partitions: partitions, at: time.Now()}
	close(e.ready)
	tc.m[topic] = e
}

func (tc *topicCache) forget(topic string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	delete(tc.m, topic)
}

// partitions returns the partition count of topic, creating the topic
// when it does not exist and create is set. Concurrent callers for the same
// topic share one lookup.
func (b *Broker) partitions(ctx context.Context, topic string, create bool) (int32, error) {
	tc := &b.topics
	for {
		tc.mu.Lock()
		e := tc.m[topic]
		if e != nil {
			select {
			case <-e.ready:
				if time.Since(e.at) < topicCacheTTL {
					tc.mu.Unlock()
					return e.partitions, nil
				}
			default:
				tc.mu.Unlock()
				select {
				case <-e.ready:
					continue
				case <-ctx.Done():
					return 0, fmt.Errorf("kafka: look up topic %q: %w", topic, ctx.Err())
				}
			}
		}
		e = &topicEntry{ready: make(chan struct{})}
		tc.m[topic] = e
		tc.mu.Unlock()

		n, maxMessage, err := b.loadTopic(ctx, topic, create)

		tc.mu.Lock()
		e.partitions, e.err, e.at = n, err, time.Now()
		if err != nil {
			delete(tc.m, topic)
		} else {
			if tc.maxBatch == nil {
				tc.maxBatch = make(map[string]int32)
			}
			tc.maxBatch[topic] = min(maxMessage, 1<<30)
		}
		close(e.ready)
		tc.mu.Unlock()
		return n, err
	}
}

// loadTopic reads a topic's partition count and max.message.bytes,
// creating the topic first when it is missing and create is set.
func (b *Broker) loadTopic(ctx context.Context, topic string, create bool) (partitions, maxMessage int32, err error) {
	for attempt := 0; ; attempt++ {
		tds, err := b.topicDetails(ctx, topic)
		if err != nil {
			return 0, 0, wrapErr(fmt.Sprintf("look up topic %q", topic), err)
		}
		td, ok := tds[topic]
		if ok && td.Err == nil && len(td.Partitions) > 0 {
			maxMessage, err := b.maxMessageBytes(ctx, topic)
			return int32(len(td.Partitions)), maxMessage, err
		}
		if ok && td.Err != nil && !errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			return 0, 0, wrapErr(fmt.Sprintf("look up topic %q", topic), td.Err)
		}
		if !create {
			return 0, 0, fmt.Errorf("kafka: topic %q: %w (strict mode: topics are not created on first use)", topic, stream.ErrTopicNotFound)
		}
		if attempt > 0 {
			// Created by someone else, not yet visible in the metadata.
			if attempt > 50 {
				return 0, 0, fmt.Errorf("kafka: topic %q was created but does not appear in the metadata: %w", topic, stream.ErrUnavailable)
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return 0, 0, fmt.Errorf("kafka: look up topic %q: %w", topic, ctx.Err())
			}
			continue
		}
		n := b.cfg.DefaultPartitions
		maxMessage := b.neededMaxMessage()
		err = b.createTopic(ctx, stream.Topic{Name: topic, Partitions: n}, true)
		if err == nil {
			b.log.Info("kafka: topic created on first use", "topic", topic, "partitions", n)
			return n, maxMessage, nil
		}
		if !errors.Is(err, stream.ErrTopicExists) {
			return 0, 0, err
		}
	}
}

// maxMessageBytes returns the topic's max.message.bytes.
func (b *Broker) maxMessageBytes(ctx context.Context, topic string) (int32, error) {
	rcs, err := b.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return 0, wrapErr(fmt.Sprintf("describe topic %q configs", topic), err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil && rc.Err == nil {
		if v, ok := configValue(rc, configMaxMessage); ok {
			if n, err := strconv.ParseInt(v, 10, 32); err == nil && n > 0 {
				return int32(n), nil
			}
		}
	}
	return kafkaDefaultMaxMessage, nil
}

// neededMaxMessage is the max.message.bytes Arus gives the topics it
// creates: room for one record of MaxRecordBytes and its batch framing.
func (b *Broker) neededMaxMessage() int32 {
	return int32(min(int64(b.cfg.MaxRecordBytes)+int64(b.cfg.MaxRecordBytes)/8+4096, 1<<30))
}

func configValue(rc kadm.ResourceConfig, key string) (string, bool) {
	for _, c := range rc.Configs {
		if c.Key == key && c.Value != nil {
			return *c.Value, true
		}
	}
	return "", false
}

// CreateTopic creates a topic with the given partitions and retention
// (retention.ms and retention.bytes). A zero RetentionTime or
// RetentionBytes leaves the broker's default (log.retention.hours, 7 days,
// and log.retention.bytes, no limit, unless the cluster changed them), as
// kafka-topics.sh does; Kafka deletes by age and size whether or not a
// group consumed the records. Its
// max.message.bytes is set so that a record of MaxRecordBytes fits. It fails
// with [stream.ErrTopicExists] when the topic exists.
func (b *Broker) CreateTopic(ctx context.Context, t stream.Topic) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := b.check(); err != nil {
		return err
	}
	return b.createTopic(ctx, t, false)
}

func (b *Broker) createTopic(ctx context.Context, t stream.Topic, auto bool) error {
	maxMessage := b.neededMaxMessage()
	configs := map[string]*string{
		configMaxMessage: kadm.StringPtr(strconv.Itoa(int(maxMessage))),
	}
	if !auto && t.RetentionTime > 0 {
		configs[configRetentionMs] = kadm.StringPtr(strconv.FormatInt(max(t.RetentionTime.Milliseconds(), 1), 10))
	}
	if !auto && t.RetentionBytes > 0 {
		configs[configRetentionBytes] = kadm.StringPtr(strconv.FormatInt(t.RetentionBytes, 10))
	}
	resp, err := b.adm.CreateTopic(ctx, t.Partitions, b.cfg.ReplicationFactor, configs, t.Name)
	if err == nil {
		err = resp.Err
		if err != nil && resp.ErrMessage != "" {
			err = fmt.Errorf("%w (%s)", err, resp.ErrMessage)
		}
	}
	if err != nil {
		return wrapErr(fmt.Sprintf("create topic %q", t.Name), err)
	}
	b.topics.set(t.Name, t.Partitions, maxMessage)
	return nil
}

// DeleteTopic deletes a topic and its records. It fails with
// [stream.ErrTopicNotFound] when there is no such topic.
func (b *Broker) DeleteTopic(ctx context.Context, name string) error {
	if err := stream.ValidateTopicName(name); err != nil {
		return err
	}
	if err := b.check(); err != nil {
		return err
	}
	resp, err := b.adm.DeleteTopic(ctx, name)
	if err == nil {
		err = resp.Err
	}
	b.topics.forget(name)
	if err != nil {
		return wrapErr(fmt.Sprintf("delete topic %q", name), err)
	}
	return nil
}

// ListTopics returns every topic but Kafka's internal ones, sorted by name,
// with their retention settings and partition offsets.
func (b *Broker) ListTopics(ctx context.Context) ([]stream.TopicInfo, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	tds, err := b.topicDetails(ctx)
	if err != nil {
		return nil, wrapErr("list topics", err)
	}
	names := tds.Names()
	if len(names) == 0 {
		return []stream.TopicInfo{}, nil
	}
	return b.describeTopics(ctx, tds, names)
}

// DescribeTopic returns a topic's partitions, retention settings and
// partition offsets. It fails with [stream.ErrTopicNotFound] when there is
// no such topic.
func (b *Broker) DescribeTopic(ctx context.Context, name string) (stream.TopicInfo, error) {
	if err := stream.ValidateTopicName(name); err != nil {
		return stream.TopicInfo{}, err
	}
	if err := b.check(); err != nil {
		return stream.TopicInfo{}, err
	}
	tds, err := b.topicDetails(ctx, name)
	if err != nil {
		return stream.TopicInfo{}, wrapErr(fmt.Sprintf("describe topic %q", name), err)
	}
	if td, ok := tds[name]; !ok || td.Err != nil || len(td.Partitions) == 0 {
		return stream.TopicInfo{}, topicNotFound(name)
	}
	infos, err := b.describeTopics(ctx, tds, []string{name})
	if err != nil {
		return stream.TopicInfo{}, err
	}
	return infos[0], nil
}

func topicNotFound(name string) error {
	return fmt.Errorf("kafka: topic %q: %w", name, stream.ErrTopicNotFound)
}

// describeTopics fills in the configs and offsets of the named topics,
// which must be in tds, in the order given.
func (b *Broker) describeTopics(ctx context.Context, tds kadm.TopicDetails, names []string) ([]stream.TopicInfo, error) {
	rcs, err := b.adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, wrapErr("describe topic configs", err)
	}
	starts, err := b.adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, wrapErr("list start offsets", err)
	}
	ends, err := b.adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, wrapErr("list end offsets", err)
	}
	infos := make([]stream.TopicInfo, 0, len(names))
	for _, name := range names {
		td := tds[name]
		info := stream.TopicInfo{Topic: stream.Topic{Name: name, Partitions: int32(len(td.Partitions))}}
		if rc, err := rcs.On(name, nil); err == nil && rc.Err == nil {
			if v, ok := configValue(rc, configRetentionMs); ok {
				if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
					info.RetentionTime = time.Duration(ms) * time.Millisecond
				}
			}
			if v, ok := configValue(rc, configRetentionBytes); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
					info.RetentionBytes = n
				}
			}
		}
		for _, p := range td.Partitions.Numbers() {
			po := stream.PartitionOffsets{Partition: p}
			s, okS := starts.Lookup(name, p)
			e, okE := ends.Lookup(name, p)
			if !okS || !okE || s.Err != nil || e.Err != nil {
				err := errors.Join(s.Err, e.Err)
				if err == nil {
					err = kerr.UnknownTopicOrPartition
				}
				return nil, wrapErr(fmt.Sprintf("list offsets of topic %q partition %d", name, p), err)
			}
			po.Start, po.End = s.Offset, e.Offset
			info.Offsets = append(info.Offsets, po)
		}
		slices.SortFunc(info.Offsets, func(a, b stream.PartitionOffsets) int { return int(a.Partition - b.Partition) })
		infos = append(infos, info)
	}
	return infos, nil
}

// topicDetails asks the cluster for the metadata of the named topics, or
// of all topics but the internal ones when none are named. Unlike kadm's
// ListTopics it never answers from franz-go's metadata cache, which may be
// a few seconds old (a topic just created or deleted would look otherwise),
// and it refreshes that cache for the kadm calls that follow.
func (b *Broker) topicDetails(ctx context.Context, topics ...string) (kadm.TopicDetails, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, b.cl)
	if err != nil {
		return nil, err
	}
	tds := make(kadm.TopicDetails, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil || (len(topics) == 0 && t.IsInternal) {
			continue
		}
		td := kadm.TopicDetail{
			Topic:      *t.Topic,
			ID:         t.TopicID,
			IsInternal: t.IsInternal,
			Partitions: make(kadm.PartitionDetails, len(t.Partitions)),
			Err:        kerr.ErrorForCode(t.ErrorCode),
		}
		for _, p := range t.Partitions {
			td.Partitions[p.Partition] = kadm.PartitionDetail{
				Topic:       td.Topic,
				Partition:   p.Partition,
				Leader:      p.Leader,
				LeaderEpoch: p.LeaderEpoch,
				Replicas:    p.Replicas,
				ISR:         p.ISR,
				Err:         kerr.ErrorForCode(p.ErrorCode),
			}
		}
		tds[td.Topic] = td
	}
	return tds, nil
}

var _ stream.Sizer = (*Broker)(nil)

// TopicSizes returns, for each named topic, the log segment bytes of its
// partitions, counting each partition once (its largest replica).
func (b *Broker) TopicSizes(ctx context.Context, topics []string) (map[string]int64, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	tds, err := b.topicDetails(ctx, topics...)
	if err != nil {
		return nil, wrapErr("topic sizes", err)
	}
	// Log dirs are asked for by partition.
	set := kadm.TopicsSet{}
	for name, td := range tds {
		if td.Err == nil {
			set.Add(name, td.Partitions.Numbers()...)
		}
	}
	dirs, err := b.adm.DescribeAllLogDirs(ctx, set)
	if err != nil {
		return nil, wrapErr("describe log dirs", err)
	}
	type tp struct {
		topic     string
		partition int32
	}
	largest := map[tp]int64{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			k := tp{p.Topic, p.Partition}
			largest[k] = max(largest[k], p.Size)
		})
	})
	out := make(map[string]int64, len(topics))
	for k, n := range largest {
		out[k.topic] += n
	}
	return out, nil
}
