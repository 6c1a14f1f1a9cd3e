package watermill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/arus-platform/arus/stream"
)

// ErrClosed is returned by Publish and Subscribe after Close.
var ErrClosed = errors.New("watermill adapter closed")

// PublisherConfig configures a [Publisher].
type PublisherConfig struct {
	// Key returns the record key of a message: records with the same key
	// land in the same partition and keep their order. Nil: no key, so
	// messages of one topic spread over its partitions.
	Key func(topic string, msg *message.Message) []byte
}

// Publisher publishes Watermill messages as records of an Arus broker.
type Publisher struct {
	p   stream.Producer
	cfg PublisherConfig

	mu     sync.RWMutex
	closed bool
}

var _ message.Publisher = (*Publisher)(nil)

// NewPublisher returns a publisher writing to p. Closing the publisher
// does not close p.
func NewPublisher(p stream.Producer, cfg PublisherConfig) (*Publisher, error) {
	if p == nil {
		return nil, stream.Invalidf("watermill: publisher: no producer")
	}
	return &Publisher{p: p, cfg: cfg}, nil
}

// Publish stores the messages in topic, in one Produce call, and returns
// when all of them are durable. A message becomes a record whose value is
// the payload, whose arus-id header is the message's UUID and whose other
// headers are the metadata. Messages' contexts are not used.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return fmt.Errorf("watermill: publish to %q: %w", topic, ErrClosed)
	}
	if err := stream.ValidateTopicName(topic); err != nil {
		return fmt.Errorf("watermill: publish: %w", err)
	}
	if len(msgs) == 0 {
		return nil
	}
	recs := make([]*stream.Record, len(msgs))
	for i, m := range msgs {
		if m == nil {
			return stream.Invalidf("watermill: publish to %q: message %d is nil", topic, i)
		}
		recs[i] = toRecord(topic, m, p.cfg.Key)
	}
	if err := p.p.Produce(context.Background(), recs...); err != nil {
		return fmt.Errorf("watermill: publish to %q: %w", topic, err)
	}
	return nil
}

// Close makes later Publish calls fail. It waits for calls in progress.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return nil
}

func toRecord(topic string, m *message.Message, key func(string, *message.Message) []byte) *stream.Record {
	r := &stream.Record{Topic: topic, Value: m.Payload}
	if key != nil {
		r.Key = key(topic, m)
	}
	r.Headers = make([]stream.Header, 0, len(m.Metadata)+1)
	for k, v := range m.Metadata {
		if k != stream.HeaderID {
			r.Headers = append(r.Headers, stream.Header{Key: k, Value: []byte(v)})
		}
	}
	if m.UUID != "" {
		r.Headers = append(r.Headers, stream.Header{Key: stream.HeaderID, Value: []byte(m.UUID)})
	}
	return r
}

// toMessage turns a record into a message: the inverse of toRecord. A
// record without an arus-id header (written by another client) gets its
// topic, partition and offset as UUID, which is stable across deliveries.
func toMessage(r *stream.Record) *message.Message {
	id := r.ID()
	if id == "" {
		id = fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset)
	}
	m := message.NewMessage(id, r.Value)
	for _, h := range r.Headers {
		if h.Key != stream.HeaderID {
			m.Metadata.Set(h.Key, string(h.Value))
		}
	}
	return m
}

// SubscriberConfig configures a [Subscriber].
type SubscriberConfig struct {
	// Group is the consumer group of every Subscribe call; required. Each
	// message of a topic reaches one subscription of the group. Use
	// several groups (several subscribers) for fan-out.
	Group string
	// StartAt applies to partitions the group has no offset for yet.
	// Default: stream.StartEarliest, so a new group gets the messages
	// published before it subscribed.
	StartAt stream.StartAt
	// MaxBatch is the largest batch fetched from the broker at once; the
	// messages still reach the channel one at a time. Default 500.
	MaxBatch int
	// NackBackoff is how long a nacked message waits before it is sent
	// again. Default 100ms.
	NackBackoff time.Duration
	// TopicPartitions, when positive, makes SubscribeInitialize create
	// the topic with this many partitions. Default 0: SubscribeInitialize
	// does nothing and the broker creates the topic on first use with its
	// default partition count (unless it is strict).
	TopicPartitions int32
	// Logger receives a warning when a subscription stops on an error.
	// Default: slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *SubscriberConfig) Validate() error {
	if err := stream.ValidateGroupName(c.Group); err != nil {
		return fmt.Errorf("watermill: subscriber: %w", err)
	}
	if c.MaxBatch < 0 {
		return stream.Invalidf("watermill: subscriber: max batch %d is negative", c.MaxBatch)
	}
	if c.NackBackoff < 0 {
		return stream.Invalidf("watermill: subscriber: nack backoff %s is negative", c.NackBackoff)
	}
	if c.NackBackoff == 0 {
		c.NackBackoff = 100 * time.Millisecond
	}
	if c.TopicPartitions < 0 {
		return stream.Invalidf("watermill: subscriber: topic partitions %d is negative", c.TopicPartitions)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Subscriber subscribes to topics of an Arus broker in one consumer group.
type Subscriber struct {
	c   stream.Consumer
	cfg SubscriberConfig

	mu     sync.Mutex
	closed bool
	stop   chan struct{} // closed by Close
	subs   sync.WaitGroup
}

var (
	_ message.Subscriber           = (*Subscriber)(nil)
	_ message.SubscribeInitializer = (*Subscriber)(nil)
)

// NewSubscriber returns a subscriber consuming from c. Closing the
// subscriber does not close c.
func NewSubscriber(c stream.Consumer, cfg SubscriberConfig) (*Subscriber, error) {
	if c == nil {
		return nil, stream.Invalidf("watermill: subscriber: no consumer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Subscriber{c: c, cfg: cfg, stop: make(chan struct{})}, nil
}

// Subscribe joins the group on topic and returns the channel its messages
// arrive on, one at a time: the next message of a partition is sent once
// the previous one is acked, and a nacked message is sent again after
// NackBackoff. An acked message's offset is committed when the messages
// fetched with it are all acked, or when the subscription ends. The
// channel closes when ctx ends or the subscriber closes, once the message
// in flight (whose context is then cancelled) is released.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := stream.ValidateTopicName(topic); err != nil {
		return nil, fmt.Errorf("watermill: subscribe: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("watermill: subscribe to %q: %w", topic, ErrClosed)
	}
	out := make(chan *message.Message)
	cctx, cancel := context.WithCancel(ctx)
	stopped := context.AfterFunc(ctx, cancel)
	s.subs.Add(1)
	go func() {
		defer s.subs.Done()
		defer close(out)
		defer stopped()
		defer cancel()
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-cctx.Done():
			}
		}()
		err := s.c.Consume(cctx, stream.ConsumerConfig{
			Group:    s.cfg.Group,
			Topics:   []string{topic},
			MaxBatch: s.cfg.MaxBatch,
			StartAt:  s.cfg.StartAt,
		}, s.handler(out))
		if err != nil {
			s.cfg.Logger.Warn("watermill: subscription stopped", "topic", topic, "group", s.cfg.Group, "err", err)
		}
	}()
	return out, nil
}

// handler sends each record of a batch as a message on out and waits for
// its ack, sending it again after a nack. When ctx ends first it reports
// the messages acked so far, so that only those are committed.
func (s *Subscriber) handler(out chan<- *message.Message) stream.Handler {
	return func(ctx context.Context, batch []*stream.Record) error {
		for i, r := range batch {
			if err := s.deliver(ctx, out, r); err != nil {
				if i == 0 {
					return err
				}
				return &stream.PartialError{N: i, Err: err}
			}
		}
		return nil
	}
}

// deliver sends r until it is acked; it fails only when ctx ends.
func (s *Subscriber) deliver(ctx context.Context, out chan<- *message.Message, r *stream.Record) error {
	for {
		msg := toMessage(r)
		mctx, cancel := context.WithCancel(ctx)
		msg.SetContext(mctx)
		select {
		case out <- msg:
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		}
		select {
		case <-msg.Acked():
			cancel()
			return nil
		case <-msg.Nacked():
			cancel()
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		}
		t := time.NewTimer(s.cfg.NackBackoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// SubscribeInitialize creates topic with TopicPartitions partitions when
// TopicPartitions is set, the consumer can create topics and the topic does
// not exist yet.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	a, ok := s.c.(interface {
		CreateTopic(ctx context.Context, t stream.Topic) error
	})
	if !ok || s.cfg.TopicPartitions == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := a.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: s.cfg.TopicPartitions})
	if err != nil && !errors.Is(err, stream.ErrTopicExists) {
		return fmt.Errorf("watermill: initialize topic %q: %w", topic, err)
	}
	return nil
}

// Close ends every subscription: messages in flight have their context
// cancelled, what was acked is committed, and the channels close. Close
// returns when they have; later Subscribe calls fail.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	s.subs.Wait()
	return nil
}
