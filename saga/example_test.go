package saga_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// Define a two-step saga, run its orchestrator and a participant that
// declines every charge, and watch the reservation being released.
func Example() {
	dir, err := os.MkdirTemp("", "arus-saga")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	quiet := slog.New(slog.DiscardHandler)

	b, err := embedded.New(ctx, embedded.Config{Dir: dir + "/stream", Options: stream.Options{Logger: quiet}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	purchase := saga.Definition{
		Name: "purchase",
		Steps: []saga.Step{
			{Name: "reserve", Command: saga.Command{Topic: "stock"}, Compensation: saga.Command{Topic: "stock"}, ReplyTopic: "purchase.replies"},
			{Name: "charge", Command: saga.Command{Topic: "payments"}, ReplyTopic: "purchase.replies"},
		},
	}
	o, err := saga.New(ctx, saga.Config{Dir: dir, Logger: quiet}, b, purchase)
	if err != nil {
		log.Fatal(err)
	}
	defer o.Close()
	ran := make(chan error, 1)
	go func() { ran <- o.Run(ctx) }()

	// The participants: stock reserves and releases, payments declines.
	go b.Consume(ctx, stream.ConsumerConfig{Group: "participants", Topics: []string{"stock", "payments"}},
		stream.Single(func(ctx context.Context, cmd *stream.Record) error {
			reply := saga.Success(cmd, nil)
			if cmd.Topic == "payments" {
				reply = saga.Failure(cmd, "card declined")
			}
			fmt.Printf("%s: %s\n", cmd.Topic, map[bool]string{false: "command", true: "compensation"}[saga.IsCompensation(cmd)])
			return b.Produce(ctx, reply)
		}))

	id, err := o.Start(ctx, "purchase", "P-1", []byte(`{"sku":"VIP","qty":2}`))
	if err != nil {
		log.Fatal(err)
	}
	for {
		in, err := o.Get(ctx, id)
		if err != nil {
			log.Fatal(err)
		}
		if !in.State.Active() {
			fmt.Println(in.State, "-", in.Error)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop() // Run returns once what it handled is committed
	if err := <-ran; err != nil {
		log.Fatal(err)
	}
	// Output:
	// stock: command
	// payments: command
	// stock: compensation
	// compensated - step charge failed: card declined
}
