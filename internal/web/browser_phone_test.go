package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/internal/browsertest"
	"github.com/arus-platform/arus/stream"
)

// The message browser merges a topic's partitions by time, hides internal
// headers unless asked, switches between pretty and raw values, and tails
// the topic live.
func TestMessageBrowserMergesPartitionsAndTails(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	ctx := context.Background()
	_, b := newStreamsFixture(t)
	f := newFixtureWithConfig(t, func(c *Config) { c.Broker, c.LiveEvery = b, 200*time.Millisecond })
	if err := b.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			rec := &stream.Record{Topic: "orders", Key: []byte(fmt.Sprintf("order-%d", i*7)),
				Value: []byte(fmt.Sprintf(`{"n":%d,"status":"paid"}`, i)), Timestamp: t0.Add(time.Duration(i) * time.Second)}
			if err := b.Produce(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 30)
	bctx := browsertest.New(t)
	base := f.srv.URL
	signInAsAdmin(t, bctx, base)
	ns := func() []int {
		return browsertest.Get(t, bctx, "the rows' n", chromedp.Evaluate[[]int](
			`[...document.querySelectorAll("#m-rows tr td.value summary, #m-rows tr td.value pre.raw")].map(e => JSON.parse(e.textContent).n)`))
	}
	browsertest.Do(t, bctx, "open the merged browser", chromedp.Navigate(base+"/topics/orders/messages"), chromedp.WaitVisible(css(`#m-rows tr`)))
	got := ns()
	if len(got) != 30 || got[0] != 29 || got[29] != 0 {
		t.Fatalf("merged rows %v, want 29 down to 0", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]-1 {
			t.Fatalf("rows are not in time order across partitions: %v", got)
		}
	}
	text := browsertest.Get(t, bctx, "page text", chromedp.Text(css(`main`)))
	if strings.Contains(text, "arus-id=") || !strings.Contains(text, "+1 internal") {
		t.Errorf("internal headers are shown by default")
	}
	browsertest.CheckAccessibility(t, bctx, "merged message browser")
	browsertest.Screenshot(t, bctx, "console-messages")

	browsertest.Do(t, bctx, "raw values with internal headers",
		chromedp.Navigate(base+"/topics/orders/messages?view=raw&internal=1"), chromedp.WaitVisible(css(`#m-rows pre.raw`)))
	if text := browsertest.Get(t, bctx, "page text", chromedp.Text(css(`main`))); !strings.Contains(text, "arus-id=") {
		t.Errorf("internal headers are not shown when asked for")
	}

	// The live tail: new records come on top without a reload.
	browsertest.Do(t, bctx, "start the live tail",
		chromedp.Navigate(base+"/topics/orders/messages"), chromedp.WaitVisible(css(`#m-live`)), chromedp.Click(css(`#m-live`)),
		chromedp.WaitVisible(css(`#m-live[aria-pressed="true"]`)))
	produce(30, 33)
	browsertest.Get(t, bctx, "the new records to arrive", chromedp.Poll[bool](`document.querySelectorAll("#m-rows tr").length === 33`, chromedp.WithPollingTimeout(20*time.Second)))
	if got := ns(); got[0] != 32 || got[2] != 30 || got[3] != 29 {
		t.Errorf("after the live tail the rows are %v, want 32, 31, 30 on top", got[:5])
	}
}

// Every console page fits a 390 px wide phone: nothing but a table's own
// frame scrolls sideways.
func TestConsoleFitsAPhone(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	ctx := context.Background()
	rf := newRelayFixture(t)
	b := rf.broker
	if err := b.CreateTopic(ctx, stream.Topic{Name: "orders-with-a-rather-long-topic-name-for-a-phone", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := b.Produce(ctx, &stream.Record{Topic: "orders-with-a-rather-long-topic-name-for-a-phone", Key: []byte(fmt.Sprintf("k%d", i)),
			Value: []byte(fmt.Sprintf(`{"order":{"id":%d,"customer":"someone with a long name","lines":[1,2,3,4,5,6,7,8,9,10]}}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	consumeAll(t, b, "billing", "orders-with-a-rather-long-topic-name-for-a-phone", 20)
	bctx := browsertest.New(t)
	base := rf.srv.URL
	browsertest.Do(t, bctx, "a phone's screen", chromedp.EmulateViewport(390, 844))
	signInAsAdmin(t, bctx, base)
	pages := []string{"/overview", "/topics", "/topics/orders-with-a-rather-long-topic-name-for-a-phone",
		"/topics/orders-with-a-rather-long-topic-name-for-a-phone/messages", "/groups", "/groups/billing", "/dlq",
		"/relay/applications", "/relay/datasets", "/relay/destinations", "/relay/destinations/new", "/relay/routes",
		"/relay/routes/new", "/relay/deliveries", "/users", "/users/new", "/keys", "/system", "/account/password"}
	for _, p := range pages {
		browsertest.Do(t, bctx, "open "+p, chromedp.Navigate(base+p), chromedp.WaitVisible(css(`main`)))
		width := browsertest.Get(t, bctx, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if width > 390 {
			wide := browsertest.Get(t, bctx, "what is wide", chromedp.Evaluate[string](
				`[...document.querySelectorAll("main *")].filter(e => !e.closest(".table-wrap") && e.getBoundingClientRect().right > 391).slice(0, 3).map(e => e.tagName + "." + e.className + "#" + e.id).join(", ")`))
			t.Errorf("%s is %d px wide on a 390 px screen (%s)", p, width, wide)
		}
		if browsertest.Get(t, bctx, "signed in", chromedp.Evaluate[bool](`document.querySelector(".topbar") !== null`)) == false {
			t.Fatalf("%s: not signed in: %s", p, browsertest.Get(t, bctx, "page", chromedp.Evaluate[string](`document.title + " " + location.href`)))
		}
		if out := browsertest.Get(t, bctx, "sign out visible", chromedp.Evaluate[bool](
			`(() => { const r = document.querySelector(".topbar form button").getBoundingClientRect(); return r.right <= 390 && r.width > 0; })()`)); !out {
			t.Errorf("%s: the Sign out button is cut off", p)
		}
		switch p {
		case "/overview", "/relay/deliveries", "/groups/billing":
			browsertest.Screenshot(t, bctx, "phone"+strings.ReplaceAll(p, "/", "-"))
		}
	}
}
