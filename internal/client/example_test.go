package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/client"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// A client is a stream.Broker over a running server: produce, then read
// back by position.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "arus-example")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	b, _ := embedded.New(ctx, embedded.Config{Dir: dir, Options: stream.Options{Logger: quiet}})
	defer b.Close()
	s, _ := api.New(b, api.Config{Logger: quiet})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	var broker stream.Broker
	broker, err := client.New(srv.URL, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer broker.Close()
	_ = broker.CreateTopic(ctx, stream.Topic{Name: "greetings", Partitions: 1})
	r := &stream.Record{Topic: "greetings", Key: []byte("en"), Value: []byte("hello")}
	if err := broker.Produce(ctx, r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("stored at partition %d, offset %d\n", r.Partition, r.Offset)
	recs, _ := broker.Read(ctx, "greetings", 0, 0, 10)
	fmt.Printf("%s: %s\n", recs[0].Key, recs[0].Value)
	// Output:
	// stored at partition 0, offset 0
	// en: hello
}
