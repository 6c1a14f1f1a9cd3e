// Package kafka implements the Arus stream contract ([stream.Broker]) over
// Apache Kafka with franz-go. It also works against Redpanda and any broker
// that speaks the Kafka protocol, and is tested against franz-go's in-process
// kfake cluster.
//
// The mapping onto Kafka:
//
//   - Produce uses one shared, idempotent producer with acks=all: a call
//     returns nil only when every in-sync replica has every record. Partitions
//     are chosen by [stream.Partitioner]: the murmur2 hash of the key, as the
//     Java producer's default partitioner and librdkafka's "murmur2_random"
//     partitioner (not librdkafka's default, "consistent_random", which
//     hashes with CRC32), so a key lands where those clients put it. An
//     empty key is hashed like any other; only a nil key is spread round
//     robin. Records of one call for the same partition keep their slice
//     order. Batches go uncompressed unless [Config.Compression] says
//     otherwise, so that every Kafka client can read them.
//   - Consume makes each call one member of a Kafka consumer group offering
//     the assignors of [Config.Balancers] (range, then cooperative-sticky,
//     by default, as the Java consumer), so a group can be shared with
//     other Kafka clients. Each assigned partition has its own worker,
//     so partitions are handled concurrently and one partition never is.
//     Offsets are committed only after the handler succeeded, and before a
//     partition is given up in a rebalance.
//   - Retention is the broker's (retention.ms and retention.bytes topic
//     configs); records are deleted by age or size whether or not a group has
//     consumed them. [Broker.RetentionRisks] and DescribeGroup's log warn when
//     a group's oldest unconsumed record nears its topic's retention.ms.
//   - Topics are created on first produce or consume with
//     [stream.Options.DefaultPartitions] unless [stream.Options.Strict] is set.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
)

// Broker is a [stream.Broker] on a Kafka cluster. It is safe for concurrent
// use. Create it with [New] and release it with [Broker.Close].
type Broker struct {
	cfg  Config
	log  *slog.Logger
	base []kgo.Opt // connection options shared by every client

	cl  *kgo.Client // producing, metadata and admin requests
	adm *kadm.Client

	partitioner stream.Partitioner
	topics      topicCache

	mu        sync.Mutex
	closed    bool
	done      chan struct{} // closed by Close
	consumers sync.WaitGroup
	running   map[*consumer]struct{} // Consume calls, for tests
}

var _ stream.Broker = (*Broker)(nil)

// New connects to the cluster named by cfg and checks that it answers. It
// fails with an error wrapping [stream.ErrInvalid] for a bad configuration
// and [stream.ErrUnavailable] when no broker can be reached before ctx ends.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := cfg.clientOpts()
	if err != nil {
		return nil, err
	}
	base = append(base,
		kgo.WithLogger(kgoLogger{cfg.Logger}),
		// Refresh metadata soon after errors (a broker restarted, a
		// leader moved); franz-go's default waits up to 5s.
		kgo.MetadataMinAge(250*time.Millisecond),
	)
	b := &Broker{
		cfg:  cfg,
		log:  cfg.Logger,
		base: base,
		done: make(chan struct{}),
	}
	b.topics.m = make(map[string]*topicEntry)
	linger := max(cfg.Linger, 0)
	opts := append(slices.Clone(base),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(codecs[cfg.Compression]()),
		kgo.ProducerLinger(linger),
		kgo.ProducerBatchMaxBytesFn(b.topics.maxBatchBytes),
		kgo.MaxBufferedRecords(1<<16),
		kgo.MaxBufferedBytes(256<<20),
	)
	b.cl, err = kgo.NewClient(opts...)
	if err != nil {
		return nil, stream.Invalidf("kafka: client options: %v", err)
	}
	b.adm = kadm.NewClient(b.cl)
	if err := b.ping(ctx); err != nil {
		b.cl.Close()
		return nil, err
	}
	return b, nil
}

// Ping reports whether the cluster answers a metadata request. Its error
// wraps [stream.ErrUnavailable] when it does not.
func (b *Broker) Ping(ctx context.Context) error {
	if err := b.check(); err != nil {
		return err
	}
	return b.ping(ctx)
}

func (b *Broker) ping(ctx context.Context) error {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // no topics, only brokers
	if _, err := req.RequestWith(ctx, b.cl); err != nil {
		if ctx.Err() != nil && !errors.Is(err, kgo.ErrClientClosed) {
			return fmt.Errorf("kafka: ping %v: %w: %w", b.cfg.Brokers, stream.ErrUnavailable, err)
		}
		return wrapErr(fmt.Sprintf("ping %v", b.cfg.Brokers), err)
	}
	return nil
}

// Close stops running Consume calls (they commit what their handlers
// finished and return [stream.ErrClosed]), waits up to five seconds for
// records still being produced, and closes the connections. Later calls
// fail with [stream.ErrClosed]. Close is idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.done)
	b.mu.Unlock()

	b.consumers.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.cl.Flush(ctx)
	b.cl.Close()
	return nil
}

// check returns ErrClosed after Close.
func (b *Broker) check() error {
	select {
	case <-b.done:
		return fmt.Errorf("kafka: %w", stream.ErrClosed)
	default:
		return nil
	}
}

// wrapErr wraps a franz-go or Kafka error with the stream sentinel it
// stands for, keeping the cause for the message and for errors.Is.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if s := sentinel(err); s != nil && !errors.Is(err, s) {
		return fmt.Errorf("kafka: %s: %w: %w", op, s, err)
	}
	return fmt.Errorf("kafka: %s: %w", op, err)
}

func sentinel(err error) error {
	var netErr net.Error
	switch {
	case errors.Is(err, kgo.ErrClientClosed):
		return stream.ErrClosed
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return stream.ErrTopicNotFound
	case errors.Is(err, kerr.TopicAlreadyExists):
		return stream.ErrTopicExists
	case errors.Is(err, kerr.GroupIDNotFound):
		return stream.ErrGroupNotFound
	case errors.Is(err, kerr.NonEmptyGroup):
		return stream.ErrGroupActive
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return stream.ErrRecordTooLarge
	case errors.Is(err, kerr.OffsetOutOfRange):
		return stream.ErrOffsetOutOfRange
	case errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.InvalidPartitions),
		errors.Is(err, kerr.InvalidReplicationFactor), errors.Is(err, kerr.InvalidConfig),
		errors.Is(err, kerr.InvalidRequest), errors.Is(err, kerr.PolicyViolation):
		return stream.ErrInvalid
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil
	case errors.As(err, &netErr), kerr.IsRetriable(err), errors.Is(err, kgo.ErrRecordTimeout),
		errors.Is(err, kgo.ErrRecordRetries):
		return stream.ErrUnavailable
	}
	var eof *kgo.ErrFirstReadEOF
	if errors.As(err, &eof) {
		return stream.ErrUnavailable
	}
	return nil
}

// kgoLogger passes franz-go's warnings and errors to slog.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	case kgo.LogLevelInfo:
		lvl = slog.LevelInfo
	}
	k.l.Log(context.Background(), lvl, "kafka: "+msg, keyvals...)
}
