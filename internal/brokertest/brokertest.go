// Package brokertest opens a fresh broker of each backend for tests: the
// embedded log in a temporary directory always, Redis under a key prefix of
// its own when the test server is reachable (ARUS_TEST_REDIS, default
// 127.0.0.1:6379; skipped otherwise, failed under ARUS_TEST_REQUIRE=1), and
// Kafka through an in-process kfake cluster.
package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/arus-platform/arus/internal/testenv"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
	"github.com/arus-platform/arus/stream/kafka"
	"github.com/arus-platform/arus/stream/redis"
)

// Backend opens a fresh broker for a test; the broker is closed when the
// test ends.
type Backend struct {
	Name string
	Open func(t testing.TB) stream.Broker
}

// Logger discards logs unless ARUS_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("ARUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Embedded is the embedded log in a fresh directory.
var Embedded = Backend{Name: "embedded", Open: func(t testing.TB) stream.Broker {
	t.Helper()
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), RetentionInterval: -1,
		Options: stream.Options{Logger: Logger()}})
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}}

// Redis is a Redis backend under a fresh key prefix, deleted at the end.
var Redis = Backend{Name: "redis", Open: func(t testing.TB) stream.Broker {
	t.Helper()
	addr := testenv.Redis(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	prefix := "arustest:" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() { deleteKeys(addr, prefix) })
	b, err := redis.New(context.Background(), redis.Config{Addr: addr, KeyPrefix: prefix, LeaseTTL: time.Second,
		RetentionInterval: -1, Options: stream.Options{Logger: Logger()}})
	if err != nil {
		t.Fatalf("redis.New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}}

// Kafka is a client of a fresh in-process kfake cluster with short group
// timeouts.
var Kafka = Backend{Name: "kafka", Open: func(t testing.TB) stream.Broker {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := kafka.New(ctx, kafka.Config{
		Brokers:           c.ListenAddrs(),
		SessionTimeout:    3 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout:  5 * time.Second,
		Options:           stream.Options{Logger: Logger()},
	})
	if err != nil {
		t.Fatalf("kafka.New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}}

// All returns every backend: embedded, Redis and Kafka.
func All() []Backend { return []Backend{Embedded, Redis, Kafka} }

func deleteKeys(addr, prefix string) {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		c.Unlink(ctx, keys[:n]...)
		keys = keys[n:]
	}
}

// Each runs fn as a subtest on a fresh broker of every backend.
func Each(t *testing.T, fn func(t *testing.T, b stream.Broker)) {
	for _, be := range All() {
		t.Run(be.Name, func(t *testing.T) { fn(t, be.Open(t)) })
	}
}
