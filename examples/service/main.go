// Command shop is a small ticket shop built on the Arus SDK from a Go module
// of its own, the way a team outside Arus builds a service: it imports only
// Arus's public packages (go.mod's replace directive points at this
// checkout instead of a release).
//
// Placing an order writes the order and its shop.orders.placed event in one
// transaction (package outbox); the event's value is checked against the
// JSON Schema registered for the topic (package schema). A checkout
// consumer (package consume, with an inbox of package outbox, so that a
// redelivered event has no second effect) starts a purchase saga (package
// saga): reserve the tickets, then charge the card. A declined card
// releases the reservation. The stock and payment participants handle each
// command once through their own inboxes and reply through the outbox, in
// the transaction of their change.
//
//	go run .                                                   # embedded log; SQLite stores in a temporary directory
//	go run . -db 'postgres://host/db?sslmode=disable&schema=shop'  # the stores in PostgreSQL
//	go run . -broker redis://127.0.0.1:6379/0                  # another backend
//
// It prints what became of each order and exits with an error when one did
// not end as it should.
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
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

// orders are what the run places, and how each must end: the third is over
// the card limit, so its card is declined and its tickets released.
var orders = []struct {
	Order
	want       saga.State
	wantStatus string
}{
	{Order{ID: "order-1", SKU: "VIP", Qty: 2, Amount: 300_000}, saga.StateCompleted, "paid"},
	{Order{ID: "order-2", SKU: "VIP", Qty: 1, Amount: 150_000}, saga.StateCompleted, "paid"},
	{Order{ID: "order-3", SKU: "VIP", Qty: 4, Amount: 1_200_000}, saga.StateCompensated, "cancelled"},
}

// wantAvailable is the VIP stock left afterwards: 10, less orders 1 and 2.
const wantAvailable = 7

func run(ctx context.Context, args []string, out io.Writer) error {
	flags := flag.NewFlagSet("shop", flag.ContinueOnError)
	data := flags.String("data", "", "data directory of the embedded log and the SQLite stores (default: a temporary one, removed at exit)")
	dsn := flags.String("db", "", "PostgreSQL URL of the stores (default: SQLite files in the data directory)")
	brokerURL := flags.String("broker", "embedded", "the stream backend: "+backbone.Forms)
	if err := flags.Parse(args); err != nil {
		return err
	}
	dir := *data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "arus-shop-")
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
	db, err := store.Open(ctx, store.Config{DSN: *dsn, Dir: dir, Component: "shop"})
	if err != nil {
		return err
	}
	defer db.Close()
	schemas, err := store.Open(ctx, store.Config{DSN: *dsn, Dir: dir, Component: "shop_schemas"})
	if err != nil {
		return err
	}
	defer schemas.Close()
	s, err := openShop(ctx, b, db, schemas, log)
	if err != nil {
		return err
	}
	o, err := saga.New(ctx, saga.Config{DSN: *dsn, Dir: dir, Component: "shop_sagas", PollInterval: 100 * time.Millisecond, Logger: log},
		b, purchaseSaga)
	if err != nil {
		return err
	}
	defer o.Close()
	s.sagas = o

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return o.Run(gctx) })
	s.run(gctx, g)

	err = placeAndWait(gctx, s, out)
	stop()
	werr := g.Wait()
	if err != nil && errors.Is(werr, context.Canceled) {
		werr = nil // a part stopped because the run ended early
	}
	// A part that failed ends the run early: its error says why.
	return errors.Join(err, werr)
}

// placeAndWait places the orders, waits until every purchase saga ended and
// checks how each did.
func placeAndWait(ctx context.Context, s *shop, out io.Writer) error {
	for _, o := range orders {
		if err := s.place(ctx, o.Order); err != nil {
			return err
		}
	}
	// A value its schema refuses never reaches the outbox.
	if err := s.place(ctx, Order{ID: "order-bad", SKU: "VIP", Qty: 0, Amount: 1}); err == nil {
		return errors.New("an order of 0 tickets was accepted; want the schema to refuse it")
	}
	var failed []string
	deadline := time.Now().Add(time.Minute)
	for _, o := range orders {
		in, err := s.waitEnded(ctx, o.ID, deadline)
		if err != nil {
			return err
		}
		status, err := s.status(ctx, o.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: saga %s, order %s", o.ID, in.State, status)
		if in.Error != "" {
			fmt.Fprintf(out, " (%s)", in.Error)
		}
		fmt.Fprintln(out)
		if in.State != o.want || status != o.wantStatus {
			failed = append(failed, fmt.Sprintf("%s: saga %s and order %s, want %s and %s", o.ID, in.State, status, o.want, o.wantStatus))
		}
	}
	available, err := s.available(ctx, "VIP")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "VIP tickets left: %d\n", available)
	if available != wantAvailable {
		failed = append(failed, fmt.Sprintf("%d VIP tickets left, want %d", available, wantAvailable))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%q", failed)
	}
	return nil
}
