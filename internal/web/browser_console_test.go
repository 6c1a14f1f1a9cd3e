package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/browsertest"
	"github.com/arus-platform/arus/stream"
)

// An operator filters messages by a JSON path, watches a group's lag grow
// without reloading, reads the handler charts on the overview, and
// produces a record through its review step, in a real browser.
func TestConsoleStreamsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	ok, failed, write := relayMetrics(t, reg)
	_, b := newStreamsFixture(t)
	f := newFixtureWithConfig(t, func(c *Config) { c.Broker, c.Metrics, c.LiveEvery = b, reg, time.Second })
	if err := b.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var recs []*stream.Record
	for i := 0; i < 200; i++ {
		status := []string{"open", "paid", "shipped", "paid"}[i%4]
		recs = append(recs, &stream.Record{Topic: "orders", Key: []byte(fmt.Sprintf("order-%d", i)),
			Value: []byte(fmt.Sprintf(`{"order":{"id":%d,"status":%q},"amount":%d.5,"tags":["t%d"]}`, i, status, i*3, i%5))})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	consumeAll(t, b, "billing", "orders", 200)

	bctx := browsertest.New(t)
	base := f.srv.URL
	signInAsAdmin(t, bctx, base)

	// JSON path filter: a result, then a bad expression.
	browsertest.Do(t, bctx, "filter messages by a JSON path",
		chromedp.Navigate(base+"/topics/orders/messages"),
		chromedp.Click(css(`details.more summary`)),
		chromedp.WaitVisible(css(`#m-match`)),
		chromedp.SendKeys(css(`#m-match`), `$.order.status == "paid" and $.amount > 500`),
		chromedp.Submit(css(`#m-match`)),
		// Only the filtered page renders the filter into the field's value.
		chromedp.WaitVisible(css(`#m-match:not([value=""])`)),
		chromedp.WaitVisible(css(`tbody tr`)),
	)
	rows := browsertest.Get(t, bctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll("tbody tr").length`))
	first := browsertest.Get(t, bctx, "first offset", chromedp.Text(css(`tbody tr td`)))
	scanned := browsertest.Get(t, bctx, "examined", chromedp.Text(css(`#m-scanned`)))
	// paid: odd offsets; amount > 500: offset 167 and on, so 167 to 199.
	if rows != 17 || first != "199" || !strings.Contains(scanned, "examined 200 records, offsets 0 to 199") {
		t.Errorf("JSON path filter shows %d rows from %s (%s), want 17 from 199 after examining 200", rows, first, scanned)
	}
	// The partition's offsets as the records examined name them: the last
	// offset held, not the end offset.
	if lede := browsertest.Get(t, bctx, "lede", chromedp.Text(css(`p.lede`))); !strings.Contains(lede, "holds offsets 0 to 199.") {
		t.Errorf("the page says %q, want the partition holding offsets 0 to 199", lede)
	}
	browsertest.Screenshot(t, bctx, "console-messages-filter")
	browsertest.CheckAccessibility(t, bctx, "messages filtered by a JSON path")
	browsertest.Do(t, bctx, "a bad JSON path expression",
		chromedp.SetValue(css(`#m-match`), `$.order.status = "paid"`),
		chromedp.Submit(css(`#m-match`)),
		chromedp.WaitVisible(css(`#m-match-err`)),
	)
	if msg := browsertest.Get(t, bctx, "error", chromedp.Text(css(`#m-match-err`))); !strings.Contains(msg, "use == or !=") {
		t.Errorf("bad expression explained as %q", msg)
	}
	browsertest.CheckAccessibility(t, bctx, "messages with a bad JSON path")

	// Produce, through the review.
	browsertest.Do(t, bctx, "review a record",
		chromedp.Navigate(base+"/topics/orders/messages"),
		chromedp.WaitVisible(css(`#p-value`)),
		chromedp.SendKeys(css(`#p-key`), "order-900"),
		chromedp.SendKeys(css(`#p-value`), `{"order":{"id":900,"status":"paid"},"amount":1}`),
		chromedp.SendKeys(css(`#p-headers`), "source=console"),
		chromedp.Submit(css(`#p-value`)),
		chromedp.WaitVisible(css(`#produce-review`)),
	)
	review := browsertest.Get(t, bctx, "review", chromedp.Text(css(`#produce-review p`)))
	for _, want := range []string{"orders", "order-900", "partition 0", "value 47 bytes, 1 header(s)"} {
		if !strings.Contains(review, want) {
			t.Errorf("review %q does not state %q", review, want)
		}
	}
	if info, _ := b.DescribeTopic(ctx, "orders"); info.Records() != 200 {
		t.Fatalf("a record was produced before confirmation")
	}
	browsertest.Screenshot(t, bctx, "console-produce-review")
	browsertest.CheckAccessibility(t, bctx, "produce review")
	browsertest.Do(t, bctx, "confirm the record",
		chromedp.Click(css(`#produce-confirm`)),
		chromedp.WaitVisible(css(`.notice.ok`)),
	)
	if info, _ := b.DescribeTopic(ctx, "orders"); info.Records() != 201 {
		t.Errorf("topic holds %d records after confirming, want 201", info.Records())
	}

	// Live lag: the page opened before the records came shows them as lag.
	browsertest.Do(t, bctx, "open the group",
		chromedp.Navigate(base+"/groups/billing"),
		chromedp.WaitVisible(css(`[data-live="lag:orders/0"]`)),
	)
	before := browsertest.Get(t, bctx, "lag", chromedp.Text(css(`[data-live="lag:orders/0"]`)))
	if before != "1" {
		t.Errorf("lag before producing %q, want 1 (the record produced from the console)", before)
	}
	browsertest.Do(t, bctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.arusMark = "unchanged"`))
	produceN(t, b, "orders", 1233)
	live := browsertest.Get(t, bctx, "wait for the new lag", chromedp.Poll[bool](
		`document.querySelector('[data-live="lag:orders/0"]').textContent === "1,234" && document.querySelector('[data-live="lag"]').textContent === "1,234"`,
		chromedp.WithPollingTimeout(25*time.Second)))
	if !live {
		t.Errorf("group page did not show the new lag")
	}
	if mark := browsertest.Get(t, bctx, "mark", chromedp.Evaluate[string](`window.arusMark || ""`)); mark != "unchanged" {
		t.Errorf("the group page reloaded to show the lag")
	}
	if cls := browsertest.Get(t, bctx, "pill", chromedp.Evaluate[string](`document.querySelector('[data-live="lag:orders/0"]').className`)); cls != "pill warn" {
		t.Errorf("lag pill class %q, want pill warn", cls)
	}
	browsertest.Screenshot(t, bctx, "console-group")
	browsertest.CheckAccessibility(t, bctx, "group")
	browsertest.Do(t, bctx, "open the groups list",
		chromedp.Navigate(base+"/groups"),
		chromedp.WaitVisible(css(`[data-live="state:billing"]`)),
	)
	browsertest.CheckAccessibility(t, bctx, "groups")

	// Overview: the handler charts, from readings of the registry taken
	// as the sampler does, dated 10 s apart; the last step has 500 calls,
	// 20 of them failed.
	h := f.handler
	start := time.Now().Add(-12 * sampleEvery)
	for step := range 12 {
		calls := 100 * (step + 1)
		fails := step % 4 * step
		if step == 11 {
			calls, fails = 500, 20
		}
		ok.Add(float64(calls - fails))
		failed.Add(float64(fails))
		for i := range calls {
			write.Observe(0.002 + float64(i%(10+step*4))/1000)
		}
		x := h.sampleNow(ctx)
		x.At = start.Add(time.Duration(step) * sampleEvery)
		h.samples.add(x)
	}
	browsertest.Do(t, bctx, "open the overview",
		chromedp.Navigate(base+"/overview"),
		chromedp.WaitVisible(css(`#chart-errors`)),
		chromedp.WaitVisible(css(`#chart-p99`)),
	)
	errs := browsertest.Get(t, bctx, "error rate", chromedp.Text(css(`[data-live="errors"]`)))
	p99 := browsertest.Get(t, bctx, "p99", chromedp.Text(css(`[data-live="p99"]`)))
	if errs != "4.00" || p99 == "—" {
		t.Errorf("overview shows error rate %q and p99 %q, want 4.00 and a latency", errs, p99)
	}
	browsertest.Screenshot(t, bctx, "console-overview-handlers")
	browsertest.CheckAccessibility(t, bctx, "overview with handler charts")
}
