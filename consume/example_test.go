package consume_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// Run a handler in a consumer group with the default chain: retries,
// dead letters to orders.billing.dlq, metrics.
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
	err = b.Produce(ctx, &stream.Record{Topic: "orders", Key: []byte("order-1"), Value: []byte(`{"total":42}`)})
	if err != nil {
		log.Fatal(err)
	}

	metrics, err := consume.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		log.Fatal(err)
	}
	chain, err := consume.Chain(consume.ChainConfig{Group: "billing", Producer: b, Metrics: metrics, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	rt, err := consume.New(b, consume.Config{Group: "billing", Topics: []string{"orders"}, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	err = rt.Run(cctx, chain(func(ctx context.Context, r *stream.Record) error {
		fmt.Printf("%s %s\n", r.Key, r.Value)
		stop() // one record is enough here; it is committed as Run returns
		return nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	// Output: order-1 {"total":42}
}
