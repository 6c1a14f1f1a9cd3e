package consume_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

// Retry calls the handler again after a transient error, and gives up at
// once on a permanent one.
func ExampleRetry() {
	retry, err := consume.Retry(consume.RetryConfig{MaxAttempts: 3, InitialBackoff: time.Millisecond, NoJitter: true,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	calls := 0
	flaky := retry(func(ctx context.Context, r *stream.Record) error {
		calls++
		if calls < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println(flaky(context.Background(), &stream.Record{Topic: "orders"}), "after", calls, "calls")

	calls = 0
	broken := retry(func(ctx context.Context, r *stream.Record) error {
		calls++
		return consume.Permanent(errors.New("total is not a number"))
	})
	err = broken(context.Background(), &stream.Record{Topic: "orders"})
	fmt.Println(consume.IsPermanent(err), "after", calls, "call")
	// Output:
	// <nil> after 3 calls
	// true after 1 call
}

// The topics a group's dead letters and replays go to.
func ExampleDLQTopic() {
	fmt.Println(consume.DLQTopic("orders", "billing"))
	fmt.Println(consume.RetryTopic("orders", "billing"))
	// Output:
	// orders.billing.dlq
	// orders.billing.retry
}
