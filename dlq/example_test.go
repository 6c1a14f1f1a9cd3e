package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// Look at what a group dead-lettered, grouped by error, and replay it to
// the group once the cause is fixed.
func Example() {
	dir, err := os.MkdirTemp("", "arus-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	b, err := embedded.New(ctx, embedded.Config{Dir: dir, Options: stream.Options{Logger: quiet}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// Two records the billing group gave up on, as consume.DeadLetter
	// writes them.
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, cause := range []string{"timeout talking to db", "timeout talking to db"} {
		r := &stream.Record{Topic: "orders", Offset: int64(i), Key: fmt.Appendf(nil, "order-%d", i), Value: []byte("{}")}
		r.SetHeader(stream.HeaderID, []byte(stream.NewID()))
		if err := b.Produce(ctx, consume.DeadLetterRecord(r, "billing", errors.New(cause), at)); err != nil {
			log.Fatal(err)
		}
	}

	m, err := dlq.New(b, dlq.Config{Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	queues, err := m.List(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range queues {
		fmt.Printf("%s: %d pending, from %s in group %s\n", q.Name, q.Pending, q.Topic, q.Group)
	}
	reasons, err := m.Reasons(ctx, "orders.billing.dlq", dlq.Filter{})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range reasons {
		fmt.Printf("%d × %s\n", r.Count, r.Error)
	}
	// Replay goes to orders.billing.retry, which only the billing group
	// reads (the consume runtime subscribes to it).
	n, err := m.Replay(ctx, "orders.billing.dlq", dlq.Filter{Error: "timeout"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("replayed", n, "to", dlq.RetryTopic("orders.billing.dlq"))
	q, err := m.Queue(ctx, "orders.billing.dlq")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pending", q.Pending)
	// Output:
	// orders.billing.dlq: 2 pending, from orders in group billing
	// 2 × timeout talking to db
	// replayed 2 to orders.billing.retry
	// pending 0
}
