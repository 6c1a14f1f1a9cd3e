package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/internal/browsertest"
	"github.com/arus-platform/arus/internal/relay"
)

// An operator sets up the relay in a real browser: a destination tested
// before it is saved, a route whose table and columns come from the
// destination's catalogue with a preview of a sample record, and an
// application whose key is shown once.
func TestRelayConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	f := newRelayFixture(t)
	if _, err := f.rl.CreateDataset(context.Background(), relay.Dataset{Name: "cars", KeyFields: []string{"id"},
		Schema: []byte(`{"type": "object", "properties": {"id": {}, "car_name": {}, "price": {}}}`)}); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t)
	base := f.srv.URL
	browsertest.Do(t, ctx, "sign in",
		chromedp.Navigate(base+"/relay/destinations/new"),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), "admin"),
		chromedp.SendKeys(css(`#password`), adminPassword),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`#d-name`)),
	)
	// choose picks an option of a select as a person would, which fires its
	// change event.
	choose := func(sel, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(() => { const s = document.querySelector(`+jsString(sel)+`);
				s.value = `+jsString(value)+`; s.dispatchEvent(new Event("change", {bubbles: true})); return true })()`)(ctx, tg)
			return err
		})
	}
	// reload picks an option of a select that posts the editor back, and
	// waits for the editor to come back with it: the option then has the
	// selected attribute, which picking it in the page does not set. The
	// fields waited for after it (#r-dest, #expr-0) may be on the editor
	// before it too.
	reload := func(sel, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(choose(sel, value), chromedp.WaitReady(css(sel+` option[value="`+value+`"][selected]`)))
	}

	browsertest.Do(t, ctx, "test a new destination",
		chromedp.SendKeys(css(`#d-name`), "shop"),
		choose("#d-kind", "sqlite"),
		chromedp.SendKeys(css(`#d-db`), f.carsDB),
		chromedp.Click(css(`button[value=test]`)),
		chromedp.WaitVisible(css(`.notice.ok`)),
	)
	if msg := browsertest.Get(t, ctx, "test result", chromedp.Text(css(`.notice.ok`))); !strings.Contains(msg, "Connection test passed") {
		t.Errorf("test result %q", msg)
	}
	browsertest.CheckAccessibility(t, ctx, "relay destination")
	browsertest.Do(t, ctx, "save the destination",
		chromedp.Click(css(`button[value=save]`)),
		chromedp.WaitVisible(css(`a[href$="?tables=1"]`)),
		chromedp.Click(css(`a[href$="?tables=1"]`)),
		// The page before may have a table too, of the destination's health.
		browsertest.WaitLocation(`\?tables=1$`),
		chromedp.WaitVisible(css(`.table-wrap`)),
	)
	browsertest.Screenshot(t, ctx, "console-relay-destination")

	browsertest.Do(t, ctx, "open the route editor",
		chromedp.Navigate(base+"/relay/routes/new"),
		chromedp.WaitVisible(css(`#r-name`)),
		chromedp.SendKeys(css(`#r-name`), "cars-shop"),
		reload("#r-dataset", "cars"),
		chromedp.WaitVisible(css(`#r-dest`)),
	)
	dest := browsertest.Get(t, ctx, "destination id", chromedp.Evaluate[string](`document.querySelector("#r-dest option:nth-child(2)").value`))
	browsertest.Do(t, ctx, "pick the destination and its table",
		reload("#r-dest", dest),
		chromedp.WaitVisible(css(`select#r-table`)),
		reload("#r-table", "main.cars"),
		chromedp.WaitVisible(css(`#expr-0`)),
	)
	if got := browsertest.Get(t, ctx, "name kept across reloads", chromedp.Value(css(`#r-name`))); got != "cars-shop" {
		t.Errorf("the route's name became %q after the editor reloaded", got)
	}
	browsertest.Do(t, ctx, "preview a sample record",
		chromedp.SendKeys(css(`#r-sample`), `{"id": 1, "car_name": "Avanza", "price": 199.5}`),
		chromedp.Click(css(`button[value=preview]`)),
		chromedp.WaitVisible(css(`.notice.ok`)),
	)
	browsertest.Screenshot(t, ctx, "console-relay-route")
	browsertest.CheckAccessibility(t, ctx, "relay route editor")
	// The editor of a saved route links to its deliveries too: a save is
	// answered when the address says so.
	saved := browsertest.WaitLocation(`^/relay/routes/[^/?]+\?ok=relay-saved$`)
	browsertest.Do(t, ctx, "create the route",
		chromedp.Click(css(`button[value=save]`)),
		saved,
		chromedp.WaitVisible(css(`a[href^="/relay/deliveries?route="]`)),
	)
	routes, err := f.rl.Routes(context.Background())
	if err != nil || len(routes) != 1 || mappingString(routes[0]) != "id<-id car_name<-car_name price<-price" {
		t.Fatalf("routes after the editor: %+v, %v", routes, err)
	}

	// The same route as the command line saves it, without a schema: the
	// editor finds main.cars, previews and saves it.
	in := relay.RouteInput{Name: routes[0].Name, Dataset: "cars", Destination: routes[0].Destination, Table: "cars",
		Mode: routes[0].Mode, KeyColumns: routes[0].KeyColumns, Mapping: routes[0].Mapping}
	if _, err := f.rl.UpdateRoute(context.Background(), routes[0].ID, in); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, "preview a route saved without a schema",
		chromedp.Navigate(base+"/relay/routes/"+routes[0].ID),
		chromedp.WaitVisible(css(`#r-sample`)),
		chromedp.SendKeys(css(`#r-sample`), `{"id": 2, "car_name": "Jazz", "price": 10}`),
		chromedp.Click(css(`button[value=preview]`)),
		chromedp.WaitVisible(css(`.notice.ok`)),
		chromedp.Click(css(`button[value=save]`)),
		saved,
		chromedp.WaitVisible(css(`a[href^="/relay/deliveries?route="]`)),
	)
	if rt, err := f.rl.Route(context.Background(), routes[0].ID); err != nil || rt.Table != "cars" || mappingString(rt) != "id<-id car_name<-car_name price<-price" {
		t.Errorf("the route saved again from the editor: %+v, %v", rt, err)
	}

	browsertest.Do(t, ctx, "create an application",
		chromedp.Navigate(base+"/relay/applications"),
		chromedp.WaitVisible(css(`#app-name`)),
		chromedp.SendKeys(css(`#app-name`), "shop"),
		chromedp.Click(css(`input[name=datasets][value=cars]`)),
		chromedp.Submit(css(`#app-name`)),
		chromedp.WaitVisible(css(`#new-key`)),
	)
	browsertest.CheckAccessibility(t, ctx, "relay applications")
	for _, page := range []string{"/relay/datasets/cars", "/relay/routes", "/relay/deliveries"} {
		browsertest.Do(t, ctx, "open "+page, chromedp.Navigate(base+page), chromedp.WaitVisible(css(`h1`)))
		browsertest.CheckAccessibility(t, ctx, page)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
