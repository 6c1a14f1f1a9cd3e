package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// An orders service records an order and its event in one transaction; a
// forwarder publishes the event; a billing service handles it once,
// however often it is delivered.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "arus-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	broker, err := embedded.New(ctx, embedded.Config{Dir: filepath.Join(dir, "stream")})
	if err != nil {
		log.Fatal(err)
	}
	defer broker.Close()

	// The orders service: its store, its own table, its outbox.
	orders, err := store.Open(ctx, store.Config{Dir: dir, Component: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	defer orders.Close()
	if _, err := orders.ExecContext(ctx, `CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER)`); err != nil {
		log.Fatal(err)
	}
	ob, err := outbox.Open(ctx, orders, outbox.Config{}) // table orders_outbox
	if err != nil {
		log.Fatal(err)
	}
	err = orders.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, total) VALUES (?, ?)`, "order-1", 42); err != nil {
			return err
		}
		return ob.Write(ctx, tx, &stream.Record{Topic: "orders.placed", Key: []byte("order-1"), Value: []byte(`{"total":42}`)})
	})
	if err != nil {
		log.Fatal(err)
	}

	// Its forwarder, normally started once next to the service: Run
	// publishes until its context ends.
	fw, err := outbox.NewForwarder(ob, broker, outbox.ForwarderConfig{})
	if err != nil {
		log.Fatal(err)
	}
	fctx, stopForwarder := context.WithCancel(ctx)
	defer stopForwarder()
	go fw.Run(fctx)

	// The billing service: its store and its inbox.
	billing, err := store.Open(ctx, store.Config{Dir: dir, Component: "billing"})
	if err != nil {
		log.Fatal(err)
	}
	defer billing.Close()
	inbox, err := outbox.OpenInbox(ctx, billing, outbox.InboxConfig{}) // table billing_inbox
	if err != nil {
		log.Fatal(err)
	}
	charge := func(ctx context.Context, r *stream.Record) (bool, error) {
		return inbox.Handle(ctx, r.ID(), func(tx *sql.Tx) error {
			// The effect, in the transaction that records the id.
			fmt.Printf("charge %s %s\n", r.Key, r.Value)
			return nil
		})
	}
	cctx, stopConsumer := context.WithCancel(ctx)
	err = broker.Consume(cctx, stream.ConsumerConfig{Group: "billing", Topics: []string{"orders.placed"}},
		stream.Single(func(ctx context.Context, r *stream.Record) error {
			defer stopConsumer()
			if _, err := charge(ctx, r); err != nil {
				return err
			}
			// The same record delivered again has no second effect.
			first, err := charge(ctx, r)
			fmt.Println("charged again:", first)
			return err
		}))
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// charge order-1 {"total":42}
	// charged again: false
}
