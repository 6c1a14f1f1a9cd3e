package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/arus-platform/arus/stream"
)

// Broker is the Redis Streams backend of [stream.Broker]. It is safe for
// concurrent use; any number of brokers in any number of processes may share
// one Redis database and key prefix.
type Broker struct {
	cfg    Config
	client *goredis.Client
	// opts are the client's options; each Consume call's blocking reads
	// use a connection of their own made from them, outside the pool.
	opts *goredis.Options
	k    keys
	s    *scripts
	log  *slog.Logger
	part stream.Partitioner

	mu         sync.Mutex
	topicCache map[string]int32
	closed     bool
	done       chan struct{} // closed by Close
	consumers  sync.WaitGroup
	background sync.WaitGroup

	forcedTrims   atomic.Int64
	forcedRecords atomic.Int64
}

var (
	_ stream.Broker   = (*Broker)(nil)
	_ stream.Retainer = (*Broker)(nil)
)

// New connects to Redis and returns a broker. It fails when the
// configuration is invalid (wrapping [stream.ErrInvalid]), when Redis cannot
// be reached (wrapping [stream.ErrUnavailable]) or when the server is older
// than Redis 7.0. It logs a warning when the server keeps nothing on disk,
// since acknowledged records would then not survive a restart of Redis.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	opts := &goredis.Options{
		Addr:                  cfg.Addr,
		DB:                    cfg.DB,
		Username:              cfg.Username,
		Password:              cfg.Password,
		TLSConfig:             cfg.TLS,
		PoolSize:              cfg.PoolSize,
		DialTimeout:           cfg.DialTimeout,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		ContextTimeoutEnabled: true,
		// A produce script whose reply was lost may have run; retrying it
		// would store its records twice, so commands are never retried.
		MaxRetries: -1,
		// Fail fast when Redis is down: callers see ErrUnavailable and the
		// consumer's own loops retry.
		DialerRetries:            1,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	b := &Broker{
		cfg:        cfg,
		client:     goredis.NewClient(opts),
		opts:       opts,
		k:          keys{p: cfg.KeyPrefix},
		s:          newScripts(),
		log:        cfg.Logger.With("backend", "redis"),
		topicCache: make(map[string]int32),
		done:       make(chan struct{}),
	}
	if err := b.start(ctx); err != nil {
		_ = b.client.Close()
		return nil, err
	}
	if cfg.RetentionInterval > 0 {
		b.background.Add(1)
		go b.retainLoop()
	}
	return b, nil
}

func (b *Broker) start(ctx context.Context) error {
	if err := b.client.Ping(ctx).Err(); err != nil {
		return b.fail("connect to "+b.cfg.Addr, err)
	}
	info, err := b.client.Info(ctx, "server").Result()
	if err != nil {
		return b.fail("read server info", err)
	}
	if v := infoField(info, "redis_version"); !atLeast7(v) {
		return fmt.Errorf("redis: server %s runs Redis %q; arus needs Redis 7.0 or later", b.cfg.Addr, v)
	}
	b.checkPersistence(ctx)
	if err := b.s.load(ctx, b.client); err != nil {
		return b.fail("load scripts", err)
	}
	return nil
}

func infoField(info, name string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

func atLeast7(version string) bool {
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(major)
	return err == nil && n >= 7
}

// checkPersistence warns when the server has neither RDB snapshots nor an
// append-only file. Servers that disable CONFIG are given the benefit of the
// doubt.
func (b *Broker) checkPersistence(ctx context.Context) {
	save, err := b.client.ConfigGet(ctx, "save").Result()
	if err != nil {
		b.log.Debug("redis: cannot read the server's persistence settings", "err", err)
		return
	}
	aof, err := b.client.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		b.log.Debug("redis: cannot read the server's persistence settings", "err", err)
		return
	}
	if strings.TrimSpace(save["save"]) == "" && aof["appendonly"] != "yes" {
		b.log.Warn("redis: the server keeps nothing on disk (no RDB snapshots, appendonly no); acknowledged records are lost when it restarts; set appendonly yes",
			"addr", b.cfg.Addr)
	}
}

// Ping reports whether Redis is reachable.
func (b *Broker) Ping(ctx context.Context) error {
	if err := b.checkOpen(); err != nil {
		return err
	}
	return b.fail("ping", b.client.Ping(ctx).Err())
}

// Close stops the broker: running Consume calls stop as if their context
// was cancelled (committing what their handlers finished and handing their
// partitions over) and return [stream.ErrClosed]; the background retention
// stops; the connections close. Later calls fail with [stream.ErrClosed].
// Close waits at most LeaseTTL for handlers that ignore their context.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.done)
	b.mu.Unlock()

	waited := make(chan struct{})
	go func() {
		b.consumers.Wait()
		b.background.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(b.cfg.LeaseTTL):
		b.log.Warn("redis: closing while consumers are still running; their leases expire on their own")
	}
	return b.client.Close()
}

func (b *Broker) checkOpen() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("redis: %w", stream.ErrClosed)
	}
	return nil
}

// Stats are counters of one broker since it was opened.
type Stats struct {
	// ForcedTrims counts retention runs in which the hard cap deleted
	// records that a registered group had not consumed yet.
	ForcedTrims int64
	// ForcedRecords counts the unconsumed records those runs deleted.
	ForcedRecords int64
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	return Stats{ForcedTrims: b.forcedTrims.Load(), ForcedRecords: b.forcedRecords.Load()}
}

// fail wraps an error of op, marking failures to reach Redis with
// [stream.ErrUnavailable] and use after Close with [stream.ErrClosed].
func (b *Broker) fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.ErrClosed):
		return fmt.Errorf("redis: %s: %w", op, stream.ErrClosed)
	case unavailable(err):
		return fmt.Errorf("redis: %s: %w: %w", op, stream.ErrUnavailable, err)
	}
	return fmt.Errorf("redis: %s: %w", op, err)
}

func unavailable(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, goredis.ErrPoolTimeout), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	msg := err.Error()
	if strings.Contains(msg, "max number of clients reached") {
		return true
	}
	for _, p := range []string{"LOADING", "MASTERDOWN", "READONLY", "BUSY", "OOM", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// partitions returns the partition count of a topic, creating the topic
// with the default settings when create is set and the broker is not
// strict.
func (b *Broker) partitions(ctx context.Context, topic string, create bool) (int32, error) {
	b.mu.Lock()
	n, ok := b.topicCache[topic]
	b.mu.Unlock()
	if ok {
		return n, nil
	}
	s, err := b.client.HGet(ctx, b.k.meta(topic), "partitions").Result()
	switch {
	case err == nil:
		v, perr := strconv.ParseInt(s, 10, 32)
		if perr != nil {
			return 0, fmt.Errorf("redis: topic %q: partition count %q is not a number", topic, s)
		}
		n = int32(v)
	case errors.Is(err, goredis.Nil) && create && !b.cfg.Strict:
		v, err := b.s.ensureTopic.Run(ctx, b.client, []string{b.k.meta(topic), b.k.topics()},
			topic, b.cfg.DefaultPartitions, 0, 0, "0").Int64()
		if err != nil {
			return 0, b.fail(fmt.Sprintf("create topic %q", topic), err)
		}
		n = int32(v)
	case errors.Is(err, goredis.Nil):
		return 0, fmt.Errorf("redis: topic %q: %w", topic, stream.ErrTopicNotFound)
	default:
		return 0, b.fail(fmt.Sprintf("topic %q", topic), err)
	}
	b.mu.Lock()
	b.topicCache[topic] = n
	b.mu.Unlock()
	return n, nil
}

// forget drops a topic from the partition count cache.
func (b *Broker) forget(topic string) {
	b.mu.Lock()
	delete(b.topicCache, topic)
	b.mu.Unlock()
}
