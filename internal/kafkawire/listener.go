// Package kafkawire serves the Kafka wire protocol over the embedded log, so
// that Kafka clients (franz-go, librdkafka and kcat, kafka-python, the Java
// client) produce to and consume from Arus as from a one-node Kafka cluster.
//
// Requests and responses are encoded and decoded by franz-go's kmsg; record
// batches are compressed and decompressed by kgo's codecs. The listener is
// one broker (node 0) that leads every partition. A record produced over
// Kafka is a record of the embedded log like any other: its offset is the
// log's offset, the console and the relay see it, and consumer groups
// committed over Kafka are the log's groups (their lag shows in `arus
// groups`). Kafka consumer groups are coordinated here, by the classic
// group protocol with client-side assignment, and commit into the log's
// offset store; a group's live members are all Kafka clients or all Arus
// consumers, never both at once (see [Log.ClaimGroup]).
package kafkawire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

// Log is what the listener needs of the embedded log; *embedded.Broker
// implements it.
type Log interface {
	stream.Broker
	// Append queues records for one partition; the returned function waits
	// until they are durable. Appends queued in turn are stored in turn.
	Append(ctx context.Context, topic string, partition int32, records []*stream.Record) (wait func() error, err error)
	// Watch returns a partition's bounds and a channel closed at its next
	// append.
	Watch(topic string, partition int32) (start, end int64, next <-chan struct{}, err error)
	// CommitOffsets commits a group's offsets durably.
	CommitOffsets(ctx context.Context, group string, offsets map[stream.TopicPartition]int64) error
	// Committed returns a group's committed offsets.
	Committed(group string) map[stream.TopicPartition]int64
	// ClaimGroup keeps the log's own consumers out of a group while Kafka
	// clients are its members; members lists them for the log's group
	// descriptions.
	ClaimGroup(group, owner string, members func() []stream.Member) (release func(), err error)
	// EnsureTopic returns a topic, creating it with the defaults unless the
	// log is strict.
	EnsureTopic(ctx context.Context, name string) (stream.TopicInfo, error)
	// Options returns the log's options: strictness, default partition
	// count, largest record.
	Options() stream.Options
}

// Authenticator checks the API key a client presents over SASL/PLAIN;
// *auth.Store implements it.
type Authenticator interface {
	VerifyAPIKey(ctx context.Context, presented string) (auth.APIKey, error)
}

// Config configures a [Listener].
type Config struct {
	// Log is the embedded log served; required.
	Log Log
	// Auth, when set, requires every connection to authenticate with
	// SASL/PLAIN: the password is an Arus API key (the user name is only
	// logged), and each request is checked against the key's scopes. When
	// nil, every client may do everything.
	Auth Authenticator
	// DatasetOf names the relay dataset whose topic topic is, or "" for a
	// topic of no dataset. Producing to a dataset's topic is refused
	// (TOPIC_AUTHORIZATION_FAILED, with a message naming the dataset's
	// ingest endpoint): a dataset's records go through ingest, which
	// applies its scope, schema and rate limit. Nil: no topic belongs to a
	// dataset.
	DatasetOf func(ctx context.Context, topic string) (string, error)
	// TLS, when set, serves TLS on the listener.
	TLS *tls.Config
	// Logger receives the listener's logs. Default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, registers the listener's request metrics.
	Metrics prometheus.Registerer
	// MaxRequestBytes bounds one request. Default 100 MiB, Kafka's
	// socket.request.max.bytes.
	MaxRequestBytes int
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Log == nil {
		return errors.New("kafkawire: config Log is nil")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = 100 << 20
	}
	if c.MaxRequestBytes < 1<<20 {
		return fmt.Errorf("kafkawire: config MaxRequestBytes %d is below 1 MiB", c.MaxRequestBytes)
	}
	return nil
}

// Listener serves the Kafka protocol on accepted connections.
type Listener struct {
	cfg     Config
	opts    stream.Options
	log     *slog.Logger
	metrics *metrics
	groups  *coordinator
	pids    *producers

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
	// stop is closed by Close; long-polling fetches and joins end at it.
	stop chan struct{}
}

// New returns a listener; Serve starts it.
func New(cfg Config) (*Listener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Listener{cfg: cfg, opts: cfg.Log.Options(), log: cfg.Logger, conns: make(map[net.Conn]struct{}), stop: make(chan struct{})}
	l.metrics = newMetrics(cfg.Metrics)
	l.groups = newCoordinator(l)
	l.pids = newProducers()
	return l, nil
}

// Serve accepts connections on ln until ctx ends or Close is called, and
// returns nil then. It closes ln.
func (l *Listener) Serve(ctx context.Context, ln net.Listener) error {
	if l.cfg.TLS != nil {
		ln = tls.NewListener(ln, l.cfg.TLS)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		ln.Close()
		return nil
	}
	l.ln = ln
	l.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if l.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("kafkawire: accept: %w", err)
		}
		delay = 0
		if !l.track(nc) {
			nc.Close()
			return nil
		}
		c := newConn(l, nc)
		go func() {
			defer l.wg.Done()
			defer l.untrack(nc)
			c.serve()
		}()
	}
}

func (l *Listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *Listener) track(nc net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[nc] = struct{}{}
	l.wg.Add(1)
	return true
}

func (l *Listener) untrack(nc net.Conn) {
	l.mu.Lock()
	delete(l.conns, nc)
	l.mu.Unlock()
	nc.Close()
}

// Close stops accepting, ends long-polling requests, closes every
// connection once the response it is writing is written, and waits for
// the connections' goroutines. Requests being handled finish first, so a
// produce in flight is answered only if it was stored. Close is safe to
// call more than once.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.wg.Wait()
		return nil
	}
	l.closed = true
	close(l.stop)
	if l.ln != nil {
		l.ln.Close()
	}
	for nc := range l.conns {
		// Unblock readers; writers finish what they hold.
		_ = nc.SetReadDeadline(time.Now())
	}
	l.mu.Unlock()
	l.wg.Wait()
	l.groups.close()
	return nil
}
