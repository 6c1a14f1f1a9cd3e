// Command saga runs a purchase as an orchestrated saga of two steps: the
// orchestrator asks the stock service to reserve the items, then the
// payment service to charge the card. When the charge is declined, the
// orchestrator compensates: it asks the stock service to release the
// reservation.
//
//	orchestrator ──stock.commands──► stock      ──purchase.replies──► orchestrator
//	orchestrator ──payment.commands──► payment  ──purchase.replies──► orchestrator
//
// The orchestrator keeps each purchase's state and history in its own store;
// the two services each have theirs, answer through an outbox in the
// transaction of their change, and are idempotent by saga id.
//
// Run it with:
//
//	go run ./examples/saga
//
// It runs the three in one process on the embedded log in a temporary
// directory, starts a few purchases, and prints what each service did, every
// saga's timeline and the stock left. -broker redis://... or kafka://...
// runs it on Redis or Kafka; -data keeps the stores.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "saga:", err)
		os.Exit(1)
	}
}

// samplePurchases: two go through; the third is over the card limit, so
// its reservation is released; the fourth finds too few items and stops at
// the first step, with nothing to undo. The stock starts at 10 VIP and 5
// REGULER tickets.
var samplePurchases = []Purchase{
	{ID: "P-1", Customer: "Budi", SKU: "VIP", Qty: 2, Amount: 300_000},
	{ID: "P-2", Customer: "Siti", SKU: "VIP", Qty: 1, Amount: 150_000},
	{ID: "P-3", Customer: "Andi", SKU: "VIP", Qty: 4, Amount: 1_200_000},
	{ID: "P-4", Customer: "Dewi", SKU: "REGULER", Qty: 6, Amount: 450_000},
}

func run(ctx context.Context, args []string, out io.Writer) error {
	flags := flag.NewFlagSet("saga", flag.ContinueOnError)
	data := flags.String("data", "", "data directory for the log and the stores (default: a temporary one, removed at exit)")
	brokerURL := flags.String("broker", "embedded", "the stream backend: "+backbone.Forms)
	if err := flags.Parse(args); err != nil {
		return err
	}
	dir := *data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "arus-saga-")
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
	_, err = demo(ctx, b, dir, out, log, samplePurchases)
	return err
}

// outcome is what became of the purchases.
type outcome struct {
	Sagas   map[string]*saga.Instance // by purchase id
	Stock   map[string]int            // items left by SKU
	Charges map[string]string         // charge status by purchase id
}

// demo runs the orchestrator and the two services on b with their stores in
// dir, starts one saga per purchase, waits until each has ended and returns
// the outcome.
func demo(ctx context.Context, b stream.Broker, dir string, w io.Writer, log *slog.Logger, purchases []Purchase) (outcome, error) {
	out := &console{w: w}
	o, err := saga.New(ctx, saga.Config{Dir: dir, Component: "sagas", PollInterval: 100 * time.Millisecond, Logger: log},
		b, purchaseSaga(10*time.Second))
	if err != nil {
		return outcome{}, err
	}
	defer o.Close()
	stock, err := newStockService(ctx, b, dir, out, log)
	if err != nil {
		return outcome{}, err
	}
	defer stock.close()
	payment, err := newPaymentService(ctx, b, dir, out, log)
	if err != nil {
		return outcome{}, err
	}
	defer payment.close()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return o.Run(gctx) })
	g.Go(func() error { return stock.run(gctx, stock.decide) })
	g.Go(func() error { return payment.run(gctx, payment.decide) })

	res, err := func() (outcome, error) {
		for _, p := range purchases {
			data, err := json.Marshal(p)
			if err != nil {
				return outcome{}, err
			}
			// The purchase id is the saga id: starting it twice fails with
			// saga.ErrExists instead of buying twice.
			if _, err := o.Start(ctx, "purchase", p.ID, data); err != nil {
				return outcome{}, err
			}
			out.say("orchestrator", "%s started: %d × %s for %s, %s", p.ID, p.Qty, p.SKU, p.Customer, rupiah(p.Amount))
		}
		res := outcome{Sagas: map[string]*saga.Instance{}}
		deadline := time.Now().Add(30 * time.Second)
		for _, p := range purchases {
			for {
				in, err := o.Get(ctx, p.ID)
				if err != nil {
					return outcome{}, err
				}
				if !in.State.Active() {
					res.Sagas[p.ID] = in
					break
				}
				if time.Now().After(deadline) {
					return outcome{}, fmt.Errorf("saga %s still %s after 30s", p.ID, in.State)
				}
				select {
				case <-gctx.Done():
					return outcome{}, errors.New("a service stopped before the sagas ended")
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		if res.Stock, err = stock.available(ctx); err != nil {
			return outcome{}, err
		}
		res.Charges, err = payment.charges(ctx)
		return res, err
	}()
	stop()
	if werr := g.Wait(); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return outcome{}, err
	}
	res.print(w, purchases)
	return res, nil
}

func (o outcome) print(w io.Writer, purchases []Purchase) {
	for _, p := range purchases {
		in := o.Sagas[p.ID]
		fmt.Fprintf(w, "\n%s %s", in.ID, in.State)
		if in.Error != "" {
			fmt.Fprintf(w, " (%s)", in.Error)
		}
		fmt.Fprintln(w)
		for _, e := range in.History {
			step := ""
			if e.Step >= 0 && e.Step < len(in.Steps) {
				step = in.Steps[e.Step].Name
			}
			line := fmt.Sprintf("  %+7.1fms  %-13s %-15s %-17s %s",
				float64(e.At.Sub(in.CreatedAt).Microseconds())/1000, e.Type, step, e.Topic, e.Detail)
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
	}
	fmt.Fprintf(w, "\nstock left: VIP %d, REGULER %d\n", o.Stock["VIP"], o.Stock["REGULER"])
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
