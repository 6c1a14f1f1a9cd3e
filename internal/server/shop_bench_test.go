package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkShopPages renders the storefront's pages over HTTP, one at a
// time: the events list, an event page, and a paid order's e-tickets (two
// tickets, each with its signed pass drawn as an SVG QR code). It reports
// each page's size.
func BenchmarkShopPages(b *testing.B) {
	r := start(b, Config{PaymentSecret: testPaymentSecret})
	admin := r.key(b, "ticketing.admin", "ticketing.read", "ticketing.manage", "ticketing.sell", "ticketing.buy")
	cashier := r.key(b, "ticketing.admin", "payment.read", "payment.cash")
	e := r.onSale(b, admin, "Merchant Bench", 100)
	c := newShopClient(b, r.url)
	link := c.place(e.ID, e.Areas[0].ID, "bench@example.co.id", 2)
	_, _, body := c.do("GET", link, nil)
	number := between(body, `<dd class="mono big">`, `</dd>`)
	deadline := time.Now().Add(20 * time.Second)
	var in struct{ ID string }
	for in.ID == "" {
		if rep := r.call(b, "GET", "/api/v1/payment/orders/"+number, cashier, ""); rep.status == 200 {
			in = decode[struct{ ID string }](b, rep, 200, "intent")
		} else if time.Now().After(deadline) {
			b.Fatalf("no payment for order %s within 20 s: %d %s", number, rep.status, rep.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rep := r.call(b, "POST", "/api/v1/payment/intents/"+in.ID+"/cash", cashier, `{"received":500000}`, "Idempotency-Key", "bench"); rep.status != 200 {
		b.Fatalf("cash: %d %s", rep.status, rep.body)
	}
	for {
		if _, _, body := c.do("GET", link+"/tickets", nil); strings.Count(body, `<svg viewBox`) == 2 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the tickets were not issued within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, page := range []struct{ name, path string }{
		{"events", "/shop/"}, {"event", "/shop/events/" + e.ID}, {"tickets", link + "/tickets"},
	} {
		b.Run(page.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				resp, err := http.Get(r.url + page.path)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", page.path, resp.StatusCode)
				}
				size = len(body)
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}
