package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/internal/browsertest"
	"github.com/arus-platform/arus/ticketing"
)

// While an event's waiting room is on, checkout sends the buyer to the
// queue; taking a place shows the position, and once admitted the buyer
// checks out with the room's admission token. A spent token sends the
// next checkout back to the queue.
func TestShopWaitingRoom(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	r := start(t, Config{PaymentSecret: testPaymentSecret})
	admin := r.key(t, "ticketing.admin", "ticketing.read", "ticketing.manage", "ticketing.sell", "ticketing.buy")
	e := r.onSale(t, admin, "Merchant Queue", 10)
	if _, err := r.ticketing.SetWaitingRoom(context.Background(), ticketing.Everything, e.ID, ticketing.WaitroomInput{Enabled: true, Rate: 1}); err != nil {
		t.Fatal(err)
	}

	// Over plain HTTP: checkout without an admission goes to the queue.
	c := newShopClient(t, r.url)
	c.do("GET", "/shop/login", nil) // a page with a form gives its token
	status, loc, _ := c.do("GET", "/shop/events/"+e.ID+"/checkout?quantity=1&area="+e.Areas[0].ID, nil)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/shop/events/"+e.ID+"/queue?") {
		t.Fatalf("checkout with the room on: %d %s, want 303 to the queue", status, loc)
	}
	if status, _, body := c.do("POST", "/shop/events/"+e.ID+"/checkout", url.Values{"area": {e.Areas[0].ID}, "quantity": {"1"},
		"buyer.name": {"Rina"}, "buyer.email": {"rina@example.co.id"}, "method": {"CASH"}}); status != http.StatusSeeOther {
		t.Fatalf("an order without an admission: %d, want 303 back to the queue\n%s", status, body)
	}

	bctx := browsertest.New(t)
	browsertest.Do(t, bctx, "a phone-sized screen", chromedp.EmulateViewport(phoneWidth, 844))
	browsertest.Do(t, bctx, "the queue",
		chromedp.Navigate(r.url+"/shop/events/"+e.ID+"/checkout?quantity=1&area="+e.Areas[0].ID),
		chromedp.WaitVisible(css(`form[action$="/queue"] button`)),
	)
	checkPhonePage(t, bctx, "queue-join")
	browsertest.Do(t, bctx, "take a place",
		chromedp.Click(css(`form[action$="/queue"] button`)),
		chromedp.WaitVisible(css(`#turn-h, #pos-h`)),
	)
	checkPhonePage(t, bctx, "queue")
	browsertest.Do(t, bctx, "admitted, check out",
		chromedp.WaitVisible(css(`#turn-h`)),
		chromedp.Click(css(`a[href*="/checkout?"]`)),
		chromedp.WaitVisible(css(`#name`)),
		chromedp.SendKeys(css(`#name`), "Ayu"),
		chromedp.SendKeys(css(`#email`), "ayu@example.co.id"),
		chromedp.Click(css(`input[name="method"][value="CASH"]`)),
		chromedp.Submit(css(`#name`)),
		chromedp.WaitVisible(css(`#cash-h`)),
	)
	// The token placed one order: another checkout queues again.
	browsertest.Do(t, bctx, "a second order queues again",
		chromedp.Navigate(r.url+"/shop/events/"+e.ID+"/checkout?quantity=1&area="+e.Areas[0].ID),
		chromedp.WaitVisible(css(`#name`)),
		chromedp.SendKeys(css(`#name`), "Ayu"),
		chromedp.SendKeys(css(`#email`), "ayu@example.co.id"),
		chromedp.Submit(css(`#name`)),
		chromedp.WaitVisible(css(`form[action$="/queue"] button`)),
	)
}
