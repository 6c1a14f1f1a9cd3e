package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/streamtest"
)

// testAddr returns the address of the test Redis server, skipping the test
// when it is unreachable (failing instead when ARUS_TEST_REQUIRE=1).
func testAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("ARUS_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		missing(t, "redis at %s is unreachable (set ARUS_TEST_REDIS to another address): %v", addr, err)
	}
	return addr
}

// missing skips the test for want of something on this machine, or
// fails it when ARUS_TEST_REQUIRE=1 (as CI sets).
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("ARUS_TEST_REQUIRE") == "1" {
		t.Fatalf("%s (ARUS_TEST_REQUIRE=1, so this fails instead of skipping)", msg)
	}
	t.Skip(msg)
}

// testPrefix returns a fresh key prefix and deletes every key under it when
// the test ends.
func testPrefix(t testing.TB, addr string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "arustest:" + hex.EncodeToString(b[:])
	t.Cleanup(func() { deleteKeys(t, addr, prefix) })
	return prefix
}

func deleteKeys(t testing.TB, addr, prefix string) {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			c.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		c.Unlink(ctx, batch...)
	}
	if err := iter.Err(); err != nil {
		t.Errorf("delete test keys under %s: %v", prefix, err)
	}
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig returns a configuration for tests: a fresh prefix, short
// leases so that rebalancing is quick, no background retention.
func testConfig(t testing.TB) Config {
	t.Helper()
	addr := testAddr(t)
	return Config{
		Addr:              addr,
		KeyPrefix:         testPrefix(t, addr),
		LeaseTTL:          2 * time.Second,
		RetentionInterval: -1,
		Options:           stream.Options{Logger: quietLogger()},
	}
}

func openBroker(t testing.TB, cfg Config) *Broker {
	t.Helper()
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	addr := testAddr(t)
	streamtest.Run(t, streamtest.Backend{
		Open: func(t *testing.T) func() stream.Broker {
			prefix := testPrefix(t, addr)
			return func() stream.Broker {
				b, err := New(context.Background(), Config{
					Addr:              addr,
					KeyPrefix:         prefix,
					LeaseTTL:          2 * time.Second,
					RetentionInterval: -1,
					Options:           stream.Options{Logger: quietLogger()},
				})
				if err != nil {
					t.Fatalf("open redis broker: %v", err)
				}
				return b
			}
		},
		Features: streamtest.Features{Retention: true, RebalanceTimeout: 20 * time.Second},
	})
}
