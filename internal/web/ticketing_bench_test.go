package web

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/messages"
)

// BenchmarkTicketingPages renders the ticketing pages an operator opens
// most with 10,000 orders of one event in the store: server time per page,
// through the whole handler with a session, without the network.
func BenchmarkTicketingPages(b *testing.B) {
	tf := newTicketingFixture(b)
	w := tf.world(b)
	ctx := context.Background()
	base := w.events[0]
	now := time.Now()
	e, err := tf.svc.CreateEvent(ctx, ticketing.Everything, ticketing.EventInput{MerchantID: base.MerchantID, Name: "Big night", Venue: "GBK",
		Address: "Senayan", Starts: now.Add(72 * time.Hour), Ends: now.Add(76 * time.Hour), SaleStarts: now.Add(-time.Hour), SaleEnds: now.Add(70 * time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	area, err := tf.svc.AddArea(ctx, ticketing.Everything, e.ID, ticketing.AreaInput{Name: "Festival", Capacity: 20000, Price: 100000})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tf.svc.SubmitEvent(ctx, ticketing.Everything, e.ID); err != nil {
		b.Fatal(err)
	}
	if _, err := tf.svc.ApproveEvent(ctx, e.ID, "admin"); err != nil {
		b.Fatal(err)
	}
	waitUntil(b, "event on sale", func() bool {
		got, err := tf.svc.Event(ctx, ticketing.Everything, e.ID)
		return err == nil && got.Status == ticketing.StatusOnSale
	})
	const orders, workers = 10000, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < orders; i += workers {
				_, _, err := tf.svc.PlaceOrder(ctx, ticketing.OrderInput{EventID: e.ID, Method: ticketing.MethodCash, IdempotencyKey: fmt.Sprintf("bench-%d", i),
					Lines: []ticketing.LineInput{{AreaID: area.ID, Quantity: 1}}, Buyer: messages.Buyer{Name: "Bench", Email: fmt.Sprintf("b%d@example.com", i)}})
				if err != nil {
					errs <- fmt.Errorf("order %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	admin, _ := tf.auth.UserByUsername(ctx, "admin")
	_, token, err := tf.auth.CreateSession(ctx, admin.ID, auth.SessionMeta{})
	if err != nil {
		b.Fatal(err)
	}
	benchPages(b, tf.srv.Config.Handler, token, "/ticketing/orders", "/ticketing/orders?event="+e.ID+"&status=validated",
		"/ticketing/orders?q="+url.QueryEscape(w.paid[0].Number), "/ticketing/orders/"+w.paid[0].ID, "/ticketing/events",
		"/ticketing/events/"+e.ID, "/ticketing/refunds", "/ticketing")
}
