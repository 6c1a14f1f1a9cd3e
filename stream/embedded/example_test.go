package embedded_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// Open a log in a data directory, produce a record and consume it in a group.
func Example() {
	dir, err := os.MkdirTemp("", "arus-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	b, err := embedded.New(ctx, embedded.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// Produce returns once the record is fsynced.
	err = b.Produce(ctx, &stream.Record{Topic: "orders", Key: []byte("order-1"), Value: []byte(`{"total":42}`)})
	if err != nil {
		log.Fatal(err)
	}

	cctx, stop := context.WithCancel(ctx)
	err = b.Consume(cctx, stream.ConsumerConfig{Group: "billing", Topics: []string{"orders"}},
		stream.Single(func(ctx context.Context, r *stream.Record) error {
			fmt.Printf("%s %s\n", r.Key, r.Value)
			stop() // one record is enough here; its offset is committed on return
			return nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	// Output: order-1 {"total":42}
}
