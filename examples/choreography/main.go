// Command choreography runs an order flow as a choreography: three services,
// order, payment and notification, that never call each other. Each reacts
// to the others' events and publishes its own:
//
//	order ──orders.placed──► payment ──payments.completed / payments.failed──► order
//	order ──orders.confirmed / orders.cancelled──► notification
//
// A declined payment is compensated by the order service, which cancels the
// order; the notification service then mails the customer either way.
//
// Each service has its own store (a SQLite file in the data directory), its
// own consumer group, an outbox that publishes its events only if its
// transaction commits, and an inbox that makes a redelivered event
// harmless. The three run in one process here for the demonstration, as
// they could in three.
//
// Run it with:
//
//	go run ./examples/choreography
//
// It places a few orders on the embedded log in a temporary directory,
// prints what each service does, and a summary. -broker redis://... or
// kafka://... runs the same flow on Redis or Kafka; -data keeps the stores.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/stream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "choreography:", err)
		os.Exit(1)
	}
}

// sampleOrders are the orders the demonstration places; the third is over
// the card limit, so its payment is declined and the order cancelled.
var sampleOrders = []Order{
	{ID: "ORD-1001", Customer: "Budi", Email: "budi@example.com", Amount: 150_000},
	{ID: "ORD-1002", Customer: "Siti", Email: "siti@example.com", Amount: 450_000},
	{ID: "ORD-1003", Customer: "Andi", Email: "andi@example.com", Amount: 2_500_000},
	{ID: "ORD-1004", Customer: "Dewi", Email: "dewi@example.com", Amount: 75_000},
}

func run(ctx context.Context, args []string, out io.Writer) error {
	flags := flag.NewFlagSet("choreography", flag.ContinueOnError)
	data := flags.String("data", "", "data directory for the log and the services' stores (default: a temporary one, removed at exit)")
	brokerURL := flags.String("broker", "embedded", "the stream backend: "+backbone.Forms)
	if err := flags.Parse(args); err != nil {
		return err
	}
	dir := *data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "arus-choreography-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := backbone.Open(ctx, *brokerURL, filepath.Join(dir, "stream"), stream.Options{Logger: log})
	if err != nil {
		return err
	}
	defer b.Close()
	_, err = demo(ctx, b, dir, out, log, sampleOrders)
	return err
}

// outcome is what became of the orders, read back from the services'
// stores.
type outcome struct {
	Status map[string]string   // order id → confirmed or cancelled
	Mails  map[string][]string // order id → subjects mailed
}

// demo starts the three services on b with their stores in dir, places
// orders, waits until every customer got a mail and returns the outcome.
func demo(ctx context.Context, b stream.Broker, dir string, w io.Writer, log *slog.Logger, orders []Order) (outcome, error) {
	out := &console{w: w}
	order, err := newOrderService(ctx, b, dir, out, log)
	if err != nil {
		return outcome{}, err
	}
	defer order.close()
	payment, err := newPaymentService(ctx, b, dir, out, log)
	if err != nil {
		return outcome{}, err
	}
	defer payment.close()
	notification, err := newNotificationService(ctx, b, dir, out, log)
	if err != nil {
		return outcome{}, err
	}
	defer notification.close()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return order.run(gctx, order.handle) })
	g.Go(func() error { return payment.run(gctx, payment.handle) })
	g.Go(func() error { return notification.run(gctx, notification.handle) })

	res, err := func() (outcome, error) {
		for _, o := range orders {
			if err := order.place(ctx, o); err != nil {
				return outcome{}, err
			}
		}
		// Everything is asynchronous: wait until every customer has mail.
		deadline := time.Now().Add(30 * time.Second)
		for {
			mails, err := notification.emails(ctx)
			if err != nil {
				return outcome{}, err
			}
			if len(mails) == len(orders) {
				status, err := order.statuses(ctx)
				return outcome{Status: status, Mails: mails}, err
			}
			if time.Now().After(deadline) {
				return outcome{}, fmt.Errorf("only %d of %d orders were notified after 30s", len(mails), len(orders))
			}
			select {
			case <-gctx.Done():
				return outcome{}, errors.New("a service stopped before the orders were through")
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	stop()
	if werr := g.Wait(); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return outcome{}, err
	}
	res.print(w, orders)
	return res, nil
}

func (o outcome) print(w io.Writer, orders []Order) {
	fmt.Fprintln(w, "\nsummary:")
	ids := make([]string, 0, len(orders))
	for _, ord := range orders {
		ids = append(ids, ord.ID)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(w, "  %s %-9s %d mail(s)\n", id, o.Status[id], len(o.Mails[id]))
	}
}

// console prints the services' lines one at a time.
type console struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *console) say(who, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "%-12s  %s\n", who, fmt.Sprintf(format, args...))
}
