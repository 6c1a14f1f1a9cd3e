package backbone_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/stream"
)

// A service takes its broker URL from a flag or the environment and runs
// the same code on every engine; "embedded" (or "") is the log in the
// data directory.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "arus-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	url := os.Getenv("SHOP_BROKER") // kafka://host:9092, redis://host:6379/0, or empty
	b, err := backbone.Open(ctx, url, filepath.Join(dir, "stream"), stream.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	err = b.Produce(ctx, &stream.Record{Topic: "orders", Key: []byte("order-1"), Value: []byte(`{"total":42}`)})
	fmt.Println(err)
	// Output: <nil>
}

func ExampleParse() {
	for _, url := range []string{"", "kafka://k1:9092,k2:9092", "redis://cache:6379/2", "amqp://mq"} {
		kind, err := backbone.Parse(url)
		if err != nil {
			fmt.Printf("%q: refused, invalid: %v\n", url, errors.Is(err, stream.ErrInvalid))
			continue
		}
		fmt.Printf("%q: %s\n", url, kind)
	}
	// Output:
	// "": embedded
	// "kafka://k1:9092,k2:9092": kafka
	// "redis://cache:6379/2": redis
	// "amqp://mq": refused, invalid: true
}
