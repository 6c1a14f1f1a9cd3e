package watermill_test

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

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
	"github.com/arus-platform/arus/stream/redis"
	"github.com/arus-platform/arus/stream/watermill"
)

// features are the Watermill features the adapter has; the package
// documentation explains each.
var features = tests.Features{
	ConsumerGroups:                      true,
	ExactlyOnceDelivery:                 false,
	GuaranteedOrder:                     true, // topics of one partition (TopicPartitions: 1)
	GuaranteedOrderWithSingleSubscriber: false,
	Persistent:                          true,
	RequireSingleInstance:               false,
	NewSubscriberReceivesOldMessages:    false,
	ContextPreserved:                    false,
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// pubSub returns a publisher and a subscriber in group on b, closed when
// the test ends.
func pubSub(t *testing.T, b stream.Broker, group string) (message.Publisher, message.Subscriber) {
	t.Helper()
	pub, err := watermill.NewPublisher(b, watermill.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := watermill.NewSubscriber(b, watermill.SubscriberConfig{Group: group, TopicPartitions: 1,
		NackBackoff: 10 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return pub, sub
}

func TestPubSubEmbedded(t *testing.T) {
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), RetentionInterval: -1,
		Options: stream.Options{Logger: quiet()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	tests.TestPubSub(t, features,
		func(t *testing.T) (message.Publisher, message.Subscriber) { return pubSub(t, b, "test") },
		func(t *testing.T, group string) (message.Publisher, message.Subscriber) { return pubSub(t, b, group) })
}

// TestPubSubRedis runs the suite on Redis, with a broker per publisher and
// subscriber as separate processes would have.
func TestPubSubRedis(t *testing.T) {
	addr := redisAddr(t)
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	prefix := "arustest:wm" + hex.EncodeToString(suffix[:])
	t.Cleanup(func() { deleteKeys(t, addr, prefix) })
	open := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		b, err := redis.New(context.Background(), redis.Config{Addr: addr, KeyPrefix: prefix, LeaseTTL: 2 * time.Second,
			RetentionInterval: -1, Options: stream.Options{Logger: quiet()}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return pubSub(t, b, group)
	}
	tests.TestPubSub(t, features,
		func(t *testing.T) (message.Publisher, message.Subscriber) { return open(t, "test") },
		open)
}

// redisAddr returns the test Redis server's address (ARUS_TEST_REDIS,
// default 127.0.0.1:6379), skipping the test when it is unreachable, or
// failing it under ARUS_TEST_REQUIRE=1.
func redisAddr(t *testing.T) string {
	addr := os.Getenv("ARUS_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		msg := fmt.Sprintf("redis at %s is unreachable: %v", addr, err)
		if os.Getenv("ARUS_TEST_REQUIRE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return addr
}

func deleteKeys(t *testing.T, addr, prefix string) {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Unlink(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("delete test keys under %s: %v", prefix, err)
	}
}
