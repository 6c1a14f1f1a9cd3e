package redis_test

import (
	"context"
	"fmt"
	"log"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/redis"
)

func ExampleParseURL() {
	cfg, err := redis.ParseURL("redis://app:secret@cache.internal:6380/2?prefix=shop&lease_ttl=5s")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Addr, cfg.DB, cfg.Username, cfg.KeyPrefix, cfg.LeaseTTL)

	_, err = redis.ParseURL("redis://app:secret@cache.internal:6380/2?colour=blue")
	fmt.Println(err)
	// Output:
	// cache.internal:6380 2 app shop 5s
	// invalid argument: broker URL "redis://app:xxxxx@cache.internal:6380/2?colour=blue": unknown parameter "colour"; known: prefix, lease_ttl, retention_interval, hard_cap_bytes, pool_size, dial_timeout, partitions, max_record_bytes, strict
}

func ExampleNew() {
	ctx := context.Background()
	cfg, err := redis.ParseURL("redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	b, err := redis.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// Produce returns once Redis has acknowledged the records.
	err = b.Produce(ctx, &stream.Record{Topic: "orders", Key: []byte("order-42"), Value: []byte(`{"total":10}`)})
	if err != nil {
		log.Fatal(err)
	}
	// Consume until ctx is cancelled; offsets are committed after the
	// handler returns nil.
	err = b.Consume(ctx, stream.ConsumerConfig{Group: "billing", Topics: []string{"orders"}},
		stream.Single(func(ctx context.Context, r *stream.Record) error {
			fmt.Printf("%s: %s\n", r.Key, r.Value)
			return nil
		}))
	if err != nil {
		log.Fatal(err)
	}
}
