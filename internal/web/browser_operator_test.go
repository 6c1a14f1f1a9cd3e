package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/browsertest"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
)

// The operator pages not walked through elsewhere — dead letters, schemas,
// sagas, the audit log and the system page — open in a real browser with
// data in them, pass the accessibility check, and act: a dead letter is
// replayed through its review, and a schema version is checked and
// registered.
func TestOperatorPagesInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	ctx := context.Background()
	_, b := newStreamsFixture(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(component string) *store.DB {
		db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: component})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	reg, err := schema.Open(ctx, open("schema"), schema.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.Register(ctx, "orders-value", []byte(`{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}`)); err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(ctx, open("audit"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := saga.New(ctx, saga.Config{Dir: t.TempDir(), Logger: quiet}, b, saga.Definition{Name: "checkout", Steps: []saga.Step{
		{Name: "reserve", Command: saga.Command{Topic: "stock.commands"}, ReplyTopic: "stock.replies"},
		{Name: "charge", Command: saga.Command{Topic: "payment.commands"}, ReplyTopic: "payment.replies"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	sagaID, err := o.Start(ctx, "checkout", "", []byte(`{"sku":"A1"}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		cause := errors.New("card declined")
		if i == 3 {
			cause = errors.New("customer not found")
		}
		orig := &stream.Record{Topic: "orders", Key: []byte(fmt.Sprintf("o%d", i)), Value: []byte(`{"id":1}`),
			Headers: []stream.Header{{Key: stream.HeaderID, Value: []byte(fmt.Sprintf("id-%d", i))}}}
		if err := b.Produce(ctx, consume.DeadLetterRecord(orig, "billing", cause, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	f := newFixtureWithConfig(t, func(c *Config) { c.Broker, c.Sagas, c.Schemas, c.Audit = b, o, reg, log })
	bctx := browsertest.New(t)
	base := f.srv.URL
	browsertest.Do(t, bctx, "sign in",
		chromedp.Navigate(base+"/dlq"),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), "admin"),
		chromedp.SendKeys(css(`#password`), adminPassword),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`a[href="/dlq/orders.billing.dlq"]`)),
	)
	browsertest.CheckAccessibility(t, bctx, "dead letters")

	browsertest.Do(t, bctx, "replay the declined cards",
		chromedp.Click(css(`a[href="/dlq/orders.billing.dlq"]`)),
		chromedp.WaitVisible(css(`div.toolbar form[action$="/replay"]`)),
	)
	browsertest.Screenshot(t, bctx, "console-dead-letters")
	browsertest.CheckAccessibility(t, bctx, "dead-letter queue")
	browsertest.Do(t, bctx, "ask to replay all",
		chromedp.Click(css(`div.toolbar form[action$="/replay"] button`)),
		chromedp.WaitVisible(css(`input[name=confirmed] + button`)),
	)
	browsertest.CheckAccessibility(t, bctx, "replay review")
	browsertest.Do(t, bctx, "confirm the replay",
		chromedp.Click(css(`input[name=confirmed] + button`)),
		chromedp.WaitVisible(css(`.notice.ok`)),
	)
	if info, err := b.DescribeTopic(ctx, "orders.billing.retry"); err != nil || info.Records() == 0 {
		t.Errorf("nothing replayed into orders.billing.retry: %+v, %v", info, err)
	}

	browsertest.Do(t, bctx, "check a schema version",
		chromedp.Navigate(base+"/schemas/orders-value"),
		chromedp.WaitVisible(css(`textarea[name=schema]`)),
		chromedp.SetValue(css(`textarea[name=schema]`), `{"type":"object","properties":{"id":{"type":"integer"},"note":{"description":"free text"}},"required":["id"]}`),
		chromedp.Click(css(`button[name=register]`)),
		chromedp.WaitVisible(css(`.notice.ok`)),
	)
	browsertest.CheckAccessibility(t, bctx, "schema subject")
	if versions, err := reg.Versions(ctx, "orders-value", false); err != nil || len(versions) != 2 {
		t.Errorf("versions after registering from the browser: %v, %v; want 2", versions, err)
	}

	for _, page := range []struct{ path, wait string }{
		{"/schemas", `a[href="/schemas/orders-value"]`},
		{"/sagas", `a[href="/sagas/` + sagaID + `"]`},
		{"/sagas/" + sagaID, `h1`},
		{"/audit", `h1`},
		{"/system", `h1`},
	} {
		browsertest.Do(t, bctx, "open "+page.path, chromedp.Navigate(base+page.path), chromedp.WaitVisible(css(page.wait)))
		browsertest.CheckAccessibility(t, bctx, page.path)
	}
	browsertest.Screenshot(t, bctx, "console-system")
}
