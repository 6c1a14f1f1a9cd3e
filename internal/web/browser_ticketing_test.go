package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/internal/browsertest"
	"github.com/arus-platform/arus/ticketing"
)

// A merchant creates an event with an area in a real browser and submits
// it; the platform admin approves it, and the go-live saga puts it on sale,
// which the event's page shows.
func TestTicketingJourneyInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	tf := newTicketingFixture(t)
	w := tf.world(t)
	ctx := browsertest.New(t)
	base := tf.srv.URL
	signIn := func(user, password string) {
		browsertest.Do(t, ctx, "sign in as "+user,
			chromedp.Navigate(base+"/login"),
			chromedp.WaitVisible(css(`#username`)),
			chromedp.SendKeys(css(`#username`), user),
			chromedp.SendKeys(css(`#password`), password),
			chromedp.Submit(css(`#password`)),
			chromedp.WaitVisible(css(`header form button[type=submit]`)),
		)
	}
	signOut := func() {
		browsertest.Do(t, ctx, "sign out", chromedp.Click(css(`header form button[type=submit]`)), chromedp.WaitVisible(css(`#password`)))
	}

	signIn("ana", tkPassword)
	browsertest.Do(t, ctx, "open the event form",
		chromedp.Navigate(base+"/ticketing/events/new"),
		chromedp.WaitVisible(css(`#event-name`)),
	)
	browsertest.CheckAccessibility(t, ctx, "new event")
	browsertest.Do(t, ctx, "create an event",
		chromedp.SendKeys(css(`#event-name`), "Senja Fest"),
		chromedp.SendKeys(css(`#event-venue`), "GBK"),
		chromedp.SendKeys(css(`#event-address`), "Senayan, Jakarta"),
		setValue(`#event-starts`, time.Now().Add(96*time.Hour).Format("2006-01-02T15:04")),
		setValue(`#event-ends`, time.Now().Add(100*time.Hour).Format("2006-01-02T15:04")),
		setValue(`#event-sale-starts`, time.Now().Add(-time.Hour).Format("2006-01-02T15:04")),
		setValue(`#event-sale-ends`, time.Now().Add(90*time.Hour).Format("2006-01-02T15:04")),
		chromedp.Submit(css(`#event-name`)),
		chromedp.WaitVisible(css(`#add-area`)),
		chromedp.SendKeys(css(`#area-name`), "Tribune"),
		chromedp.SendKeys(css(`#area-capacity`), "500"),
		chromedp.SendKeys(css(`#area-price`), "150000"),
		chromedp.Click(css(`#add-area`)),
		// The draft had the submit button before it had an area.
		chromedp.WaitVisible(css(`#areas + .table-wrap`)),
		chromedp.WaitVisible(css(`#submit-event`)),
	)
	if got := browsertest.Get(t, ctx, "areas", chromedp.Text(css(`#areas + .table-wrap`))); !strings.Contains(got, "Tribune") || !strings.Contains(got, "Rp 150.000") {
		t.Errorf("areas table reads %q, want the Tribune area at Rp 150.000", got)
	}
	browsertest.Screenshot(t, ctx, "ticketing-event-draft")
	browsertest.CheckAccessibility(t, ctx, "event (draft)")
	browsertest.Do(t, ctx, "submit it", chromedp.Click(css(`#submit-event`)), chromedp.WaitNotPresent(css(`#submit-event`)), chromedp.WaitVisible(css(`#event-status`)))
	if got := browsertest.Get(t, ctx, "status", chromedp.Text(css(`#event-status`))); got != "waiting for approval" {
		t.Errorf("after submitting, the event is %q, want waiting for approval", got)
	}
	eventURL := browsertest.Get(t, ctx, "location", chromedp.Location())
	signOut()

	signIn("admin", adminPassword)
	browsertest.Do(t, ctx, "approve it", chromedp.Navigate(eventURL), chromedp.WaitVisible(css(`#approve-event`)), chromedp.Click(css(`#approve-event`)),
		chromedp.WaitNotPresent(css(`#approve-event`)))
	// The page follows the go-live saga live, without a reload.
	if !browsertest.Get(t, ctx, "wait for on sale", chromedp.Poll[bool](
		`document.querySelector("#event-status").textContent === "on sale" && document.querySelector("#golive-state").textContent === "completed"`,
		chromedp.WithPollingTimeout(30*time.Second))) {
		t.Errorf("the event's page did not show the event on sale")
	}
	if cls := browsertest.Get(t, ctx, "pill", chromedp.Evaluate[string](`document.querySelector("#event-status").className`)); cls != "pill ok" {
		t.Errorf("the status pill is %q, want pill ok", cls)
	}
	id := eventURL[strings.LastIndex(eventURL, "/")+1:]
	if i := strings.IndexAny(id, "?#"); i >= 0 {
		id = id[:i]
	}
	waitUntil(t, "the go-live saga puts it on sale", func() bool {
		e, err := tf.svc.Event(context.Background(), ticketing.Everything, id)
		return err == nil && e.Status == ticketing.StatusOnSale && e.GoLive.State == "completed"
	})
	browsertest.Do(t, ctx, "reload", chromedp.Navigate(base+"/ticketing/events/"+id), chromedp.WaitVisible(css(`#golive-state`)))
	if got := browsertest.Get(t, ctx, "status", chromedp.Text(css(`#event-status`))); got != "on sale" {
		t.Errorf("after approval the page shows %q, want on sale", got)
	}
	if got := browsertest.Get(t, ctx, "go-live", chromedp.Text(css(`#golive-state`))); got != "completed" {
		t.Errorf("go-live shows %q, want completed", got)
	}
	if got := browsertest.Get(t, ctx, "areas", chromedp.Text(css(`#areas + .table-wrap`))); !strings.Contains(got, "500") {
		t.Errorf("areas of the on-sale event read %q, want 500 free", got)
	}
	// The screenshots show the console in its first language.
	browsertest.Do(t, ctx, "switch to Indonesian", chromedp.Navigate(base+"/lang?l=id&next=/ticketing/events/"+id),
		chromedp.WaitVisible(css(`html[lang="id"] #event-status`)))
	browsertest.Screenshot(t, ctx, "ticketing-event-on-sale")
	browsertest.CheckAccessibility(t, ctx, "event (on sale)")

	// Every other screen, with data, passes the accessibility check.
	e0 := w.events[0]
	for _, pg := range []struct{ name, path, wait string }{
		{"dashboard", "/ticketing", `[data-live="merchants"]`},
		{"merchants", "/ticketing/merchants", `#merchant-name`},
		{"merchant", "/ticketing/merchants/" + e0.MerchantID, `#merchant-members`},
		{"events", "/ticketing/events", `table`},
		{"event staff", "/ticketing/events/" + e0.ID + "/staff", `#staff-name`},
		{"staff detail", "/ticketing/events/" + e0.ID + "/staff/" + w.staff[0].ID, `#staff-qr svg`},
		{"schedules", "/ticketing/schedules", `table`},
		{"staff", "/ticketing/staff", `table`},
		{"orders", "/ticketing/orders", `table`},
		{"order", "/ticketing/orders/" + w.paid[0].ID, `.tk-timeline`},
		{"refunds", "/ticketing/refunds", `table`},
		{"payment methods", "/ticketing/payment-methods", `#method-name`},
		{"counter", "/ticketing/counter?number=" + w.pending[0].Number, `#take-cash`},
		{"tickets", "/ticketing/counter/" + w.paid[0].ID + "/tickets", `.tk-qr svg`},
		{"gates", "/ticketing/gates", `main ul`},
		{"gate", "/ticketing/gates/" + e0.ID, `#enrol-name`},
	} {
		browsertest.Do(t, ctx, "open "+pg.name, chromedp.Navigate(base+pg.path), chromedp.WaitVisible(css(pg.wait)))
		browsertest.Screenshot(t, ctx, "ticketing-"+strings.ReplaceAll(pg.name, " ", "-"))
		browsertest.CheckAccessibility(t, ctx, pg.name)
	}

	browsertest.Do(t, ctx, "back to English", chromedp.Navigate(base+"/lang?l=en&next=/ticketing/events"), chromedp.WaitVisible(css(`html[lang="en"] main`)))
	browsertest.Do(t, ctx, "review a cancellation", chromedp.Navigate(base+"/ticketing/events/"+e0.ID),
		chromedp.Click(css(`form[action$="/cancel"] button`)), chromedp.WaitVisible(css(`#reason`)))
	review := browsertest.Get(t, ctx, "review", chromedp.Text(css(`main`)))
	if !strings.Contains(review, w.paid[0].Number) || !strings.Contains(review, "1 pending order(s) canceled") {
		t.Errorf("the cancellation review does not list the paid order %s and the pending one:\n%s", w.paid[0].Number, review)
	}
	browsertest.CheckAccessibility(t, ctx, "cancel review")

	browsertest.Do(t, ctx, "make an enrolment code", chromedp.Navigate(base+"/ticketing/gates/"+e0.ID), chromedp.WaitVisible(css(`#enrol-name`)),
		chromedp.SendKeys(css(`#enrol-name`), "north phone"), setValue(`#enrol-gate`, "north"), chromedp.Submit(css(`#enrol-name`)), chromedp.WaitVisible(css(`#enrolment-code`)))
	code := browsertest.Get(t, ctx, "code", chromedp.Text(css(`#enrolment-code`)))
	if d, err := tf.gate.Enrol(context.Background(), code); err != nil || d.GateID != "north" {
		t.Errorf("the code shown enrols %+v, %v; want a device at the north gate", d, err)
	}
	browsertest.CheckAccessibility(t, ctx, "gate with enrolment code")
	signOut()

	// The cashier takes cash for the pending order and prints its tickets.
	signIn("citra", tkPassword)
	browsertest.Do(t, ctx, "find the order at the counter", chromedp.Navigate(base+"/ticketing/counter"), chromedp.WaitVisible(css(`#number`)),
		chromedp.SendKeys(css(`#number`), w.pending[0].Number), chromedp.Submit(css(`#number`)), chromedp.WaitVisible(css(`#take-cash`)))
	browsertest.Do(t, ctx, "take cash", chromedp.Click(css(`#take-cash`)), chromedp.WaitNotPresent(css(`#take-cash`)))
	waitUntil(t, "the order is paid", func() bool {
		o, err := tf.svc.Order(context.Background(), ticketing.Everything, w.pending[0].ID)
		return err == nil && o.Paid && len(o.Tickets) == 2
	})
	browsertest.Do(t, ctx, "print the tickets", chromedp.Navigate(base+"/ticketing/counter?number="+w.pending[0].Number), chromedp.WaitVisible(css(`#print-tickets`)),
		chromedp.Click(css(`#print-tickets`)), chromedp.WaitVisible(css(`.tk-qr svg`)))
	if got := browsertest.Get(t, ctx, "tickets", chromedp.Text(css(`.tk-tickets`))); strings.Count(got, "Festival") != 2 {
		t.Errorf("the printed tickets read %q, want two Festival tickets", got)
	}
	browsertest.CheckAccessibility(t, ctx, "counter tickets")
}

// setValue sets an input's value as a picker would (datetime-local takes
// no typed keys reliably).
func setValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(css(sel), v)
}

// Every ticketing screen fits a 390 px phone: wide tables scroll in their
// own box, nothing else makes the page wider than the screen.
func TestTicketingFitsAPhone(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	tf := newTicketingFixture(t)
	w := tf.world(t)
	ctx := browsertest.New(t)
	base := tf.srv.URL
	browsertest.Do(t, ctx, "a phone's screen", chromedp.EmulateViewport(390, 844))
	signInAsAdmin(t, ctx, base)
	e := w.events[0]
	for _, p := range []string{"/ticketing", "/ticketing/merchants", "/ticketing/merchants/" + e.MerchantID, "/ticketing/events",
		"/ticketing/events/new", "/ticketing/events/" + e.ID, "/ticketing/events/" + e.ID + "/staff",
		"/ticketing/events/" + e.ID + "/staff/" + w.staff[0].ID, "/ticketing/schedules", "/ticketing/staff", "/ticketing/orders",
		"/ticketing/orders/" + w.paid[0].ID, "/ticketing/refunds", "/ticketing/payment-methods",
		"/ticketing/counter?number=" + w.pending[0].Number, "/ticketing/counter/" + w.paid[0].ID + "/tickets",
		"/ticketing/gates", "/ticketing/gates/" + e.ID} {
		browsertest.Do(t, ctx, "open "+p, chromedp.Navigate(base+p), chromedp.WaitVisible(css(`main`)))
		if width := browsertest.Get(t, ctx, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); width > 390 {
			wide := browsertest.Get(t, ctx, "what is wide", chromedp.Evaluate[string](
				`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 391).slice(0, 6).map(e => e.tagName + "." + e.className + "#" + e.id + ":" + Math.round(e.getBoundingClientRect().right)).join(", ")`))
			t.Errorf("%s is %d px wide on a 390 px screen (%s)", p, width, wide)
		}
	}
}

// The language switch of a ticketing page and of the gate scanner: each
// page follows the choice, says so in <html lang>, and stays free of
// axe-core violations in both languages.
func TestTicketingLanguageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	tf := newTicketingFixture(t)
	tf.world(t)
	ctx := browsertest.New(t)
	base := tf.srv.URL
	signInAsAdmin(t, ctx, base)
	lang := func(what string) string {
		return browsertest.Get(t, ctx, what+": lang", chromedp.Evaluate[string](`document.documentElement.lang`))
	}
	// The page's heading, and what it reads in each language.
	heading := map[string]string{"id": "Acara", "en": "Events"}
	title := map[string]string{"id": "Pemindai gerbang", "en": "Gate scanner"}
	browsertest.Do(t, ctx, "open the events", chromedp.Navigate(base+"/ticketing/events"), chromedp.WaitVisible(css(`main h1`)))
	first := lang("events")
	if first != "id" && first != "en" {
		t.Fatalf("the events page is in %q", first)
	}
	for i, want := range []string{otherLang(first), first} {
		browsertest.Do(t, ctx, "switch to "+want, chromedp.Click(css(`#lang-switch`)),
			chromedp.WaitVisible(css(`html[lang="`+want+`"] main h1`)))
		if got := browsertest.Get(t, ctx, "heading", chromedp.Text(css(`main h1`))); got != heading[want] {
			t.Errorf("switch %d: the heading reads %q in %s, want %q", i+1, got, want, heading[want])
		}
		if got := browsertest.Get(t, ctx, "address", chromedp.Evaluate[string](`location.pathname`)); got != "/ticketing/events" {
			t.Errorf("the switch went to %s, not back to the page", got)
		}
		browsertest.CheckAccessibility(t, ctx, "events in "+want)
	}
	// The scanner follows the same choice and has its own switch; its
	// script's texts follow the page.
	browsertest.Do(t, ctx, "open the scanner", chromedp.Navigate(base+"/scan/"), chromedp.WaitVisible(css(`#enrol-title`)))
	if got := lang("scanner"); got != first {
		t.Errorf("the scanner is in %q, the console in %q", got, first)
	}
	for _, want := range []string{otherLang(first), first} {
		browsertest.Do(t, ctx, "switch the scanner to "+want, chromedp.Click(css(`#lang-switch`)),
			chromedp.WaitVisible(css(`html[lang="`+want+`"] #enrol-title`)))
		browsertest.Do(t, ctx, "the script has run", until(`document.title.startsWith("`+map[string]string{"id": "Pendaftaran", "en": "Enrol"}[want]+` · `+title[want]+`")`))
		browsertest.CheckAccessibility(t, ctx, "scanner in "+want)
	}
}
