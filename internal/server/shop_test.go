package server

import (
	"context"
	"fmt"
	_ "image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/qrtest"
	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/browsertest"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gate"
)

type css = chromedp.CSS

// phoneWidth is the narrowest screen the storefront is made for.
const phoneWidth = 390

// checkPhonePage checks the page shown as every storefront page must be:
// no horizontal scrolling at 390 px and no axe-core violation; and saves
// its screenshot as shop-NAME.png for the documentation.
func checkPhonePage(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	width := browsertest.Get(t, bctx, "page width", chromedp.Evaluate[int](`document.scrollingElement.scrollWidth`))
	if width > phoneWidth {
		t.Errorf("%s: the page is %d px wide at %d px: it scrolls sideways", name, width, phoneWidth)
	}
	browsertest.CheckAccessibility(t, bctx, "shop "+name)
	browsertest.Screenshot(t, bctx, "shop-"+name)
}

// A buyer on a phone picks an event, gets the checkout form's errors by
// field, buys two tickets, pays online through the simulated provider's
// signed callback and gets the e-tickets, whose QR codes the gate lets in;
// a second order is paid in cash at a counter through the cashier's API.
// Every page has no horizontal scroll at 390 px and no axe-core violation.
func TestShopJourneyOnAPhone(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	r := start(t, Config{PaymentSecret: testPaymentSecret})
	admin := r.key(t, "ticketing.admin", "ticketing.read", "ticketing.manage", "ticketing.sell", "ticketing.buy")
	cashier := r.key(t, "ticketing.admin", "payment.read", "payment.cash")
	e := r.onSale(t, admin, "Merchant Shop", 10)

	bctx := browsertest.New(t)
	browsertest.Do(t, bctx, "a phone-sized screen", chromedp.EmulateViewport(phoneWidth, 844))
	check := func(name string) { t.Helper(); checkPhonePage(t, bctx, name) }

	// The browser asks for English; the buyer switches to Indonesian.
	browsertest.Do(t, bctx, "open the storefront",
		chromedp.Navigate(r.url+"/shop/"),
		chromedp.WaitVisible(css(`a[href="/shop/events/`+e.ID+`"]`)),
	)
	if h := browsertest.Get(t, bctx, "heading", chromedp.Text(css(`h1`))); h != "Events on sale" {
		t.Errorf("with Accept-Language en the heading is %q, want English", h)
	}
	browsertest.Do(t, bctx, "switch to Indonesian",
		chromedp.Click(css(`a[href^="/shop/lang?l=id"]`)),
		chromedp.WaitVisible(css(`html[lang="id"]`)),
	)
	if h := browsertest.Get(t, bctx, "heading", chromedp.Text(css(`h1`))); h != "Acara yang sedang dijual" {
		t.Errorf("after the switch the heading is %q, want Indonesian", h)
	}
	if p := browsertest.Get(t, bctx, "price", chromedp.Text(css(`.price`))); p != "Mulai Rp 250.000" {
		t.Errorf("the price reads %q, want Mulai Rp 250.000", p)
	}
	check("events")

	browsertest.Do(t, bctx, "open the event",
		chromedp.Click(css(`a[href="/shop/events/`+e.ID+`"]`)),
		chromedp.WaitVisible(css(`#quantity`)),
	)
	check("event")
	browsertest.Do(t, bctx, "choose two tickets",
		chromedp.SetValue(css(`#quantity`), "2"),
		chromedp.Submit(css(`#quantity`)),
		chromedp.WaitVisible(css(`#name`)),
	)
	if note := browsertest.Get(t, bctx, "hold note", chromedp.Text(css(`form .note`))); !strings.Contains(note, "selama 15 menit") {
		t.Errorf("the checkout says %q, want the hold's 15 minutes", note)
	}
	check("checkout")

	// Bad input: the errors name the fields.
	browsertest.Do(t, bctx, "send the form with a bad e-mail and no name",
		chromedp.SendKeys(css(`#email`), "ayu-at-example"),
		chromedp.Submit(css(`#email`)),
		chromedp.WaitVisible(css(`#email-err`)),
	)
	if got := browsertest.Get(t, bctx, "e-mail error", chromedp.Text(css(`#email-err`))); !strings.HasPrefix(got, "E-mail:") {
		t.Errorf("the e-mail error reads %q, want it to name the field", got)
	}
	if got := browsertest.Get(t, bctx, "name error", chromedp.Text(css(`#name-err`))); !strings.HasPrefix(got, "Nama lengkap:") {
		t.Errorf("the name error reads %q, want it to name the field", got)
	}
	check("checkout-errors")

	browsertest.Do(t, bctx, "check out, paying online",
		chromedp.SetValue(css(`#email`), "ayu@example.co.id"),
		chromedp.SendKeys(css(`#name`), "Ayu Lestari"),
		chromedp.SendKeys(css(`#phone`), "+62 812 1234 5678"),
		chromedp.Click(css(`input[name="method"][value="ONLINE"]`)),
		chromedp.Submit(css(`#name`)),
		chromedp.WaitVisible(css(`.hold`)),
	)
	orderURL := browsertest.Get(t, bctx, "order link", chromedp.Location())
	if hold := browsertest.Get(t, bctx, "hold", chromedp.Text(css(`.hold h2`))); !regexp.MustCompile(`^Bayar sebelum \d\d:\d\d WIB$`).MatchString(hold) {
		t.Errorf("the hold says %q, want Bayar sebelum HH:MM WIB", hold)
	}
	browsertest.Do(t, bctx, "wait for the payment", chromedp.WaitVisible(css(`a[href$="/provider"]`)))
	check("order-online")

	browsertest.Do(t, bctx, "open the provider's page",
		chromedp.Click(css(`a[href$="/provider"]`)),
		chromedp.WaitVisible(css(`button[value="paid"]`)),
	)
	check("provider")
	browsertest.Do(t, bctx, "pay",
		chromedp.Click(css(`button[value="paid"]`)),
		chromedp.WaitVisible(css(`a[href$="/tickets"]`)),
	)
	check("order-paid")
	browsertest.Do(t, bctx, "open the e-tickets",
		chromedp.Click(css(`a[href$="/tickets"]`)),
		chromedp.WaitVisible(css(`.qr-box svg`)),
	)
	check("tickets")
	if n := browsertest.Get(t, bctx, "QR codes", chromedp.Evaluate[int](`document.querySelectorAll(".qr-box svg").length`)); n != 2 {
		t.Fatalf("the e-ticket page shows %d QR codes, want 2", n)
	}
	if facts := browsertest.Get(t, bctx, "ticket", chromedp.Text(css(`article.ticket dl`))); !strings.Contains(facts, "Gerbang") || !strings.Contains(facts, "Ayu Lestari") || !strings.Contains(facts, "VIP") {
		t.Errorf("the e-ticket says %q, want the holder, the area and the gates", facts)
	}
	png := browsertest.Get(t, bctx, "QR image", chromedp.Screenshot(css(`article.ticket .qr-box svg`)))
	payload := qrtest.Decode(t, png)
	// The gate lets the QR code in at the event's start.
	res, err := r.gate.Redeem(context.Background(), gate.Redeem{EventID: e.ID, Secret: payload, GateID: "main",
		Direction: gate.DirectionEntry, At: time.Now().Add(72*time.Hour + time.Minute)})
	if err != nil || !res.OK {
		t.Errorf("the gate on the e-ticket's QR code: %+v, %v; want it let in", res, err)
	}

	// Cash at a counter: the order page gives the number; a cashier takes
	// the money through the payment API.
	browsertest.Do(t, bctx, "a second order, paid in cash",
		chromedp.Navigate(r.url+"/shop/events/"+e.ID+"/checkout?quantity=1&area="+e.Areas[0].ID),
		chromedp.WaitVisible(css(`#name`)),
		chromedp.SendKeys(css(`#name`), "Budi"),
		chromedp.SendKeys(css(`#email`), "budi@example.co.id"),
		chromedp.Click(css(`input[name="method"][value="CASH"]`)),
		chromedp.Submit(css(`#name`)),
		chromedp.WaitVisible(css(`#cash-h`)),
	)
	check("order-cash")
	// The buyer waits at the counter: the page loads itself again now and
	// then, to follow the cashier.
	if secs := browsertest.Get(t, bctx, "the cash page's refresh", chromedp.Evaluate[string](
		`(document.querySelector("section.pay [data-refresh]") || {getAttribute: () => ""}).getAttribute("data-refresh")`)); secs == "" || secs == "0" {
		t.Errorf("the cash order's page refreshes every %q s, want a period", secs)
	}
	number := browsertest.Get(t, bctx, "order number", chromedp.Text(css(`dd.mono.big`)))
	in := r.intentOf(t, cashier, number)
	if rep := r.call(t, "POST", "/api/v1/payment/intents/"+in.ID+"/cash", cashier, `{"received":300000}`, "Idempotency-Key", "till-shop"); rep.status != 200 {
		t.Fatalf("cash at the counter: %d %s", rep.status, rep.body)
	}
	// The tickets are issued after the payment; rather than wait for the
	// page's own next load, the test loads it once they are.
	r.eventually(t, "GET", "/api/v1/ticketing/orders/"+in.OrderID, admin, func(rep reply) bool {
		return rep.status == 200 && len(decodeJSON[ticketing.Order](t, rep).Tickets) > 0
	})
	browsertest.Do(t, bctx, "the order page shows the tickets once paid",
		chromedp.Reload(),
		chromedp.WaitVisible(css(`a[href$="/tickets"]`)),
	)

	// The first order is still the buyer's through its link: ask for a
	// refund; an empty reason is refused naming the field.
	browsertest.Do(t, bctx, "refund form",
		chromedp.Navigate(orderURL),
		chromedp.WaitVisible(css(`details.refund`)),
		chromedp.Click(css(`details.refund summary`)),
		chromedp.Submit(css(`#reason`)),
		chromedp.WaitVisible(css(`#reason-err`)),
	)
	check("refund-error")
	browsertest.Do(t, bctx, "ask for a refund",
		chromedp.SendKeys(css(`#reason`), "Tidak bisa datang"),
		chromedp.Submit(css(`#reason`)),
		chromedp.WaitVisible(css(`.flash`)),
	)

	// A customer signs in, buys, and finds the order under My orders;
	// a link the shop never made shows the not-found page.
	if _, err := r.auth.CreateUser(context.Background(), auth.NewUser{Username: "citra", Name: "Citra", Email: "citra@example.co.id",
		Password: "a customer's password", Roles: []auth.Role{auth.RoleCustomer}, Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, bctx, "open the sign-in page",
		chromedp.Navigate(r.url+"/shop/login"),
		chromedp.WaitVisible(css(`#username`)),
	)
	check("login")
	browsertest.Do(t, bctx, "sign up with a short password",
		chromedp.Click(css(`a[href="/shop/signup"]`)),
		browsertest.WaitLocation(`^/shop/signup$`), // the sign-in page has a #password too
		chromedp.WaitVisible(css(`#password`)),
		chromedp.SendKeys(css(`#name`), "Dewi"),
		chromedp.SendKeys(css(`#email`), "dewi@example.co.id"),
		chromedp.SendKeys(css(`#password`), "short"),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`#password-err`)),
	)
	check("signup-errors")
	browsertest.Do(t, bctx, "sign up",
		chromedp.SendKeys(css(`#password`), "a long enough password"),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitNotPresent(css(`#password`)),
		chromedp.WaitVisible(css(`main p`)),
	)
	if got := browsertest.Get(t, bctx, "sign-up answer", chromedp.Text(css(`main p`))); !strings.Contains(got, "dewi@example.co.id") || !strings.Contains(got, "dewi.example.co.id") {
		t.Errorf("after signing up the page says %q, want the address the link went to and the username", got)
	}
	browsertest.Do(t, bctx, "back to sign in", chromedp.Navigate(r.url+"/shop/login"), chromedp.WaitVisible(css(`#username`)))
	browsertest.Do(t, bctx, "sign in and buy",
		chromedp.SendKeys(css(`#username`), "citra"),
		chromedp.SendKeys(css(`#password`), "a customer's password"),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`.empty`)),
		chromedp.Navigate(r.url+"/shop/events/"+e.ID+"/checkout?quantity=1&area="+e.Areas[0].ID),
		chromedp.WaitVisible(css(`#name[value="Citra"]`)),
		chromedp.Click(css(`input[name="method"][value="CASH"]`)),
		chromedp.Submit(css(`#name`)),
		chromedp.WaitVisible(css(`#cash-h`)),
	)
	number = browsertest.Get(t, bctx, "order number", chromedp.Text(css(`dd.mono.big`)))
	browsertest.Do(t, bctx, "my orders",
		chromedp.Click(css(`a[href="/shop/my"]`)),
		chromedp.WaitVisible(css(`.card`)),
	)
	if cards := browsertest.Get(t, bctx, "orders", chromedp.Evaluate[string](`[...document.querySelectorAll(".card h2")].map(h => h.textContent).join(",")`)); cards != number {
		t.Errorf("My orders lists %q, want only the signed-in customer's order %s", cards, number)
	}
	check("my-orders")
	browsertest.Do(t, bctx, "a link the shop never made",
		chromedp.Navigate(r.url+"/shop/orders/ord_0000.bogus"),
		chromedp.WaitVisible(css(`h1`)),
	)
	check("not-found")
}

// shopClient is a browser-like client of the storefront: it keeps cookies
// and reads the CSRF token from the pages.
type shopClient struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
	// from, when set, is the client address a trusted proxy reports.
	from string
}

func newShopClient(t testing.TB, base string) *shopClient {
	jar, _ := cookiejar.New(nil)
	return &shopClient{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (c *shopClient) do(method, path string, form url.Values) (int, string, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	var body io.Reader
	if method == "POST" {
		form.Set("csrf_token", c.csrf)
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.from != "" {
		req.Header.Set("X-Forwarded-For", c.from)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfInput.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// place checks out an order of n tickets, paid in cash, through the
// storefront and returns its link.
func (c *shopClient) place(event, area, email string, n int) string {
	c.t.Helper()
	c.do("GET", fmt.Sprintf("/shop/events/%s/checkout?quantity=%d&area=%s", event, n, area), nil)
	status, loc, body := c.do("POST", "/shop/events/"+event+"/checkout", url.Values{"area": {area}, "quantity": {fmt.Sprint(n)},
		"buyer.name": {"Rina"}, "buyer.email": {email}, "buyer.lang": {"id"}, "method": {"CASH"}, "key": {email}})
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/shop/orders/") {
		c.t.Fatalf("checkout: %d %s\n%s", status, loc, body)
	}
	return loc
}

// An order's pages answer only to the link the shop made for it: every
// order route, with the token missing, cut, altered, moved to another
// order or made up, answers 404 and shows nothing of any order.
func TestShopOrderPagesNeedTheirLink(t *testing.T) {
	// Behind a trusted proxy, each request comes from its own address, so
	// that the per-address limit on POSTs does not answer first.
	r := start(t, Config{PaymentSecret: testPaymentSecret, TrustedProxies: "127.0.0.1/32"})
	admin := r.key(t, "ticketing.admin", "ticketing.read", "ticketing.manage", "ticketing.sell", "ticketing.buy")
	e := r.onSale(t, admin, "Merchant Links", 10)
	c := newShopClient(t, r.url)
	mine := c.place(e.ID, e.Areas[0].ID, "rina@example.co.id", 1)
	other := c.place(e.ID, e.Areas[0].ID, "other@example.co.id", 1)
	token := strings.TrimPrefix(mine, "/shop/orders/")
	id, mac, _ := strings.Cut(token, ".")
	otherID, _, _ := strings.Cut(strings.TrimPrefix(other, "/shop/orders/"), ".")
	if status, _, body := c.do("GET", mine, nil); status != 200 || !strings.Contains(body, "rina@example.co.id") {
		t.Fatalf("the order's own link: %d", status)
	}
	bad := map[string]string{
		"missing":           "",
		"id only":           id,
		"id and a dot":      id + ".",
		"altered":           id + "." + strings.ToUpper(mac[:1]) + mac[1:] + "x",
		"cut":               id + "." + mac[:len(mac)-1],
		"another order":     otherID + "." + mac,
		"made up":           "ord_0000." + mac,
		"mac only":          "." + mac,
		"upper-cased":       strings.ToUpper(token),
		"percent-encoded":   strings.Replace(token, ".", "%2E", 1) + "x",
		"trailing dot-dot":  token + "/..",
		"token and garbage": token + "garbage",
	}
	routes := []struct{ method, suffix string }{{"GET", ""}, {"GET", "/provider"}, {"POST", "/provider"}, {"GET", "/tickets"}, {"POST", "/refund"}}
	n := 0
	for name, tok := range bad {
		for _, rt := range routes {
			n++
			c.from = fmt.Sprintf("192.0.2.%d", n)
			path := "/shop/orders/" + tok + rt.suffix
			status, loc, body := c.do(rt.method, path, url.Values{"reason": {"x"}, "outcome": {"paid"}})
			if status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect {
				// The mux cleaned the path; what it leads to must be a 404 too.
				status, _, body = c.do(rt.method, loc, nil)
			}
			if status != http.StatusNotFound || strings.Contains(body, "@example.co.id") {
				t.Errorf("%s: %s %s answered %d (want 404, nothing of an order)", name, rt.method, path, status)
			}
		}
	}

	// One address posting too often is told to wait.
	c.from = "198.51.100.7"
	for i := range 100 {
		status, _, _ := c.do("POST", mine+"/refund", url.Values{"reason": {""}})
		if status == http.StatusTooManyRequests {
			if i < 10 {
				t.Errorf("refused after %d POSTs, want a burst of 10", i)
			}
			return
		}
	}
	t.Errorf("100 POSTs from one address in a row were all let through, want 429 after the burst")
}
