// Package brokers opens every stream backend for the examples' tests: the
// embedded log in a temporary directory, Redis Streams on the test server
// under a key prefix of its own, and Kafka as an in-process kfake cluster.
package brokers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// Each runs fn as a subtest per backend, each with a broker of its own
// that is closed when the subtest ends. A Redis server that cannot be
// reached skips its subtest, or fails it under ARUS_TEST_REQUIRE=1.
func Each(t *testing.T, fn func(t *testing.T, b stream.Broker)) {
	for _, be := range []struct {
		name string
		open func(t *testing.T) stream.Broker
	}{
		{"embedded", Embedded},
		{"redis", Redis},
		{"kafka", Kafka},
	} {
		t.Run(be.name, func(t *testing.T) { fn(t, be.open(t)) })
	}
}

// Logger discards logs unless ARUS_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("ARUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Embedded opens the embedded log in a temporary directory.
func Embedded(t *testing.T) stream.Broker {
	t.Helper()
	b, err := embedded.New(context.Background(), embedded.Config{
		Dir: t.TempDir(), RetentionInterval: -1, Options: stream.Options{Logger: Logger()},
	})
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// Redis opens Redis Streams on the test server under a fresh key prefix,
// whose keys are deleted when the test ends.
func Redis(t *testing.T) stream.Broker {
	t.Helper()
	addr := testenv.Redis(t)
	var r [6]byte
	_, _ = rand.Read(r[:])
	prefix := "arusexample:" + hex.EncodeToString(r[:])
	t.Cleanup(func() { deleteKeys(t, addr, prefix) })
	b, err := redis.New(context.Background(), redis.Config{
		Addr:              addr,
		KeyPrefix:         prefix,
		LeaseTTL:          2 * time.Second,
		RetentionInterval: -1,
		Options:           stream.Options{Logger: Logger()},
	})
	if err != nil {
		t.Fatalf("redis.New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func deleteKeys(t *testing.T, addr, prefix string) {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("list test keys under %s: %v", prefix, err)
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		c.Unlink(ctx, keys[:n]...)
		keys = keys[n:]
	}
}

// Kafka starts an in-process Kafka cluster (kfake) and opens a broker on
// it, with group timeouts short enough that members join in milliseconds.
func Kafka(t *testing.T) stream.Broker {
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
		FetchMaxWait:      50 * time.Millisecond,
		Options:           stream.Options{Logger: Logger()},
	})
	if err != nil {
		t.Fatalf("kafka.New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}
