package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/browsertest"
	"github.com/arus-platform/arus/internal/gateapi"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/messages"
)

// scanFixture is the console with the scanner and the gate's API on one
// server, as arus serve has them, with a real gate service holding event
// ev1 (areas ga and vip; gate main lets into both) and tickets t1–t3 and
// t5 (ga) and t4 (vip).
type scanFixture struct {
	*fixture
	gate *gate.Service
	url  string
	qr   map[string]string
}

func newScanFixture(t *testing.T) *scanFixture {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := newFixtureWithConfig(t, func(c *Config) { c.Scanner = true })
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Component: "gate"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g, err := gate.Open(ctx, gate.Config{DB: db, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := g.CreateServer(ctx, messages.CreateACLServer{EventID: "ev1", MerchantID: "m1",
		Areas: []messages.Area{{AreaID: "ga", Name: "GA"}, {AreaID: "vip", Name: "VIP"}}, Starts: now.Add(-time.Hour), Ends: now.Add(5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Budi Santoso's order holds t1 to t4, Siti Rahayu's t5.
	m := messages.TicketsIssued{Type: messages.TypeTicketsIssued, OrderID: "o1", Number: "ARU-2612-0001", EventID: "ev1", Buyer: messages.Buyer{Name: "Budi Santoso"},
		Starts: now.Add(-time.Hour), Ends: now.Add(5 * time.Hour), At: now}
	for i, area := range []string{"ga", "ga", "ga", "vip"} {
		m.Tickets = append(m.Tickets, messages.Ticket{TicketID: fmt.Sprintf("t%d", i+1), AreaID: area})
	}
	qr := map[string]string{}
	for _, m := range []messages.TicketsIssued{m, {Type: messages.TypeTicketsIssued, OrderID: "o2", Number: "ARU-2612-0002", EventID: "ev1", Buyer: messages.Buyer{Name: "Siti Rahayu", Email: "siti.rahayu@example.com"},
		Starts: m.Starts, Ends: m.Ends, At: now, Tickets: []messages.Ticket{{TicketID: "t5", AreaID: "ga"}}}} {
		a, err := g.IssueTickets(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range a.Passes {
			qr[p.TicketID] = p.QR
		}
	}
	b, err := embedded.New(ctx, embedded.Config{Dir: t.TempDir(), RetentionInterval: -1, Options: stream.Options{Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	apis, err := api.New(b, api.Config{Auth: f.auth, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// The scanner's devices reach their event by their keys' scopes alone.
	gateapi.Register(apis, mux, g, f.auth, func(*http.Request) (ticketing.Scope, error) { return ticketing.Scope{}, nil })
	f.handler.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &scanFixture{fixture: f, gate: g, url: srv.URL, qr: qr}
}

func (f *scanFixture) code(t *testing.T, role string) string {
	t.Helper()
	code, _, err := f.gate.CreateEnrolment(context.Background(), gate.Enrolment{EventID: "ev1", GateID: "main", Role: role, Name: "Lane 1"})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (f *scanFixture) counts(t *testing.T) gate.Counts {
	t.Helper()
	c, err := f.gate.Counts(context.Background(), "ev1")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// phone opens the scanner in a browser the size of a phone.
func (f *scanFixture) phone(t *testing.T) context.Context {
	t.Helper()
	ctx := browsertest.New(t)
	// Any uncaught error of the page's script fails the test.
	var mu sync.Mutex
	var thrown []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdpruntime.EventExceptionThrown); ok {
			mu.Lock()
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			thrown = append(thrown, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber+1))
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range thrown {
			t.Errorf("the scanner's script threw: %s", e)
		}
	})
	browsertest.Do(t, ctx, "open the scanner on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(f.url+"/scan/"),
		shown(`body[data-ready=true] #code`),
	)
	return ctx
}

func enrolIn(t *testing.T, ctx context.Context, code string) {
	t.Helper()
	browsertest.Do(t, ctx, "enrol with the code",
		chromedp.SendKeys(css(`#code`), code+"\r"),
		shown(`#setup-title`),
		chromedp.Click(css(`input[name=direction][value=entry]`)),
		chromedp.Click(css(`#setup-form button[type=submit]`)),
		shown(`#secret`),
	)
}

// scanIn types a pass into the scanner's input as a hardware scanner does
// and waits for the answer, returning its headline and detail.
func scanIn(t *testing.T, ctx context.Context, what, qr, want string) (word, detail string) {
	t.Helper()
	browsertest.Do(t, ctx, what,
		js(`document.getElementById('answer').hidden = true`),
		chromedp.SendKeys(css(`#secret`), qr+"\r"),
		chromedp.WaitVisible(css(`#answer[data-result="`+want+`"]`)),
	)
	word = browsertest.Get(t, ctx, "answer", chromedp.Text(css(`#answer-word`)))
	detail = browsertest.Get(t, ctx, "answer detail", chromedp.Text(css(`#answer-detail`)))
	// Reported, not asserted: from Enter to the answer, in the page.
	t.Logf("%s: %s in %s ms (%s)", what, word, browsertest.Get(t, ctx, "answer time", chromedp.Evaluate[string](`document.getElementById('answer').dataset.ms`)),
		browsertest.Get(t, ctx, "mode", chromedp.Text(css(`#answer-mode`))))
	return word, detail
}

// js runs a script in the page.
func js(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](script)(ctx, tg)
		return err
	})
}

// shown waits until an element matching sel is on the screen.
func shown(sel string) chromedp.Action[chromedp.Void] {
	return until(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.getClientRects().length > 0; })()`, sel))
}

// until evaluates expr in the page until it is true, within the action's
// deadline.
func until(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, tg)
			if err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w (last error %v)", expr, ctx.Err(), err)
			case <-tick.C:
			}
		}
	})
}

// noHorizontalScroll fails when the page is wider than the screen.
func noHorizontalScroll(t *testing.T, ctx context.Context, screen string) {
	t.Helper()
	if w := browsertest.Get(t, ctx, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); w > 0 {
		t.Errorf("%s scrolls sideways by %d px at 390 px", screen, w)
	}
}

func setOffline(t *testing.T, ctx context.Context, offline bool) {
	t.Helper()
	browsertest.Do(t, ctx, fmt.Sprintf("network offline %v", offline), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		var rules []*network.Conditions
		if offline {
			rules = []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}}
		}
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: &offline, MatchedNetworkConditions: rules}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1})
		return err
	}))
}

// A steward enrols a phone with a code and scans at gate main: a valid
// ticket is let in, the same again is refused as already redeemed with
// where and when; a refund reaches the phone through the change feed;
// offline, two more tickets are let in from the bundle and queued (one of
// them also at another lane meanwhile), the refunded one and a forged one
// are refused, the page still opens, and back online the scans are
// uploaded, the conflict flagged, and each counted exactly once, even when
// the upload is sent again.
func TestScannerJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	f := newScanFixture(t)
	ctx := f.phone(t)
	browsertest.Screenshot(t, ctx, "scan-enrol")
	browsertest.CheckAccessibility(t, ctx, "scanner: enrol")
	noHorizontalScroll(t, ctx, "enrol")
	// Camera scanning is offered only where the browser detects barcodes;
	// elsewhere the page says why not.
	note := browsertest.Get(t, ctx, "camera note", chromedp.Text(css(`[data-screen=enrol] [data-camera-note]`)))
	hasDetector := browsertest.Get(t, ctx, "BarcodeDetector", chromedp.Evaluate[bool](`'BarcodeDetector' in window`))
	camera := browsertest.Get(t, ctx, "camera button", chromedp.Evaluate[bool](`document.querySelector('[data-camera]').getClientRects().length > 0`))
	if camera != hasDetector || !hasDetector && !strings.Contains(note, "BarcodeDetector") {
		t.Errorf("with BarcodeDetector %v the camera button shows %v and the page says %q", hasDetector, camera, note)
	}

	browsertest.Do(t, ctx, "enrol with a wrong code",
		chromedp.SendKeys(css(`#code`), "not-a-code\r"),
		shown(`#code-error`),
	)
	if msg := browsertest.Get(t, ctx, "code error", chromedp.Text(css(`#code-error`))); !strings.Contains(msg, "unknown, already used or expired") {
		t.Errorf("a wrong code says %q", msg)
	}
	browsertest.Do(t, ctx, "clear the code", js(`document.getElementById('code').value = ''`))
	browsertest.Do(t, ctx, "enrol", chromedp.SendKeys(css(`#code`), f.code(t, gate.RoleSteward)+"\r"), shown(`#setup-title`))
	browsertest.Screenshot(t, ctx, "scan-setup")
	browsertest.CheckAccessibility(t, ctx, "scanner: gate and direction")
	noHorizontalScroll(t, ctx, "gate and direction")
	if facts := browsertest.Get(t, ctx, "facts", chromedp.Text(css(`.facts`))); !strings.Contains(facts, "5 passes") || !strings.Contains(facts, "WebCrypto Ed25519") {
		t.Errorf("the setup says %q, want the bundle's 5 passes and signatures checked in the browser", facts)
	}
	browsertest.Do(t, ctx, "choose entry and start",
		chromedp.Click(css(`input[name=direction][value=entry]`)),
		chromedp.Click(css(`#setup-form button[type=submit]`)),
		shown(`#secret`),
	)
	if where := browsertest.Get(t, ctx, "status bar", chromedp.Text(css(`header.bar`))); !strings.Contains(where, "Main gate · entry") || !strings.Contains(where, "online") {
		t.Errorf("the status bar says %q, want the gate, the direction and online", where)
	}

	if word, _ := scanIn(t, ctx, "scan t1", f.qr["t1"], "ok"); !strings.Contains(word, "Valid") {
		t.Errorf("t1 answered %q, want valid", word)
	}
	browsertest.Screenshot(t, ctx, "scan-valid")
	browsertest.CheckAccessibility(t, ctx, "scanner: valid")
	noHorizontalScroll(t, ctx, "valid answer")
	word, detail := scanIn(t, ctx, "scan t1 again", f.qr["t1"], "already_redeemed")
	if word != "Already redeemed" || !strings.Contains(detail, "gate main") {
		t.Errorf("t1 again answered %q / %q, want already redeemed at gate main", word, detail)
	}
	browsertest.Screenshot(t, ctx, "scan-refused")
	browsertest.CheckAccessibility(t, ctx, "scanner: refused")
	if word, _ := scanIn(t, ctx, "scan t4, of another area", f.qr["t4"], "ok"); !strings.Contains(word, "Valid") {
		t.Errorf("t4 answered %q at gate main (both areas), want valid", word)
	}

	// The last scans are under the answer already, which covers them.
	browsertest.Do(t, ctx, "close the answer", chromedp.Click(css(`#answer-next`)), chromedp.WaitNotVisible(css(`#answer`)), shown(`#recent li`))
	if recent := browsertest.Get(t, ctx, "last scans", chromedp.Text(css(`#recent`))); strings.Count(recent, "Valid") != 2 || !strings.Contains(recent, "Already redeemed · t1") {
		t.Errorf("the last scans read %q, want two valid and t1 already redeemed", recent)
	}
	browsertest.Screenshot(t, ctx, "scan-ready")
	browsertest.CheckAccessibility(t, ctx, "scanner: scan")
	noHorizontalScroll(t, ctx, "scan")

	// A refund while the phone is online reaches it through the change
	// feed, followed from the bundle's position.
	if err := f.gate.RevokeTickets(context.Background(), messages.TicketsRevoked{Type: messages.TypeTicketsRevoked, OrderID: "o1", EventID: "ev1",
		TicketIDs: []string{"t3"}, Reason: "refunded", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, "follow the change feed", until(`(JSON.parse(localStorage.getItem('arus.scan.bundle')).passes.t3 || [])[0] === 'revoked'`))

	// The page is kept by its service worker before the network goes.
	browsertest.Do(t, ctx, "wait for the service worker",
		until(`navigator.serviceWorker.controller !== null`),
	)
	setOffline(t, ctx, true)
	browsertest.Do(t, ctx, "see the scanner offline", shown(`#net.bad`))
	if word, _ := scanIn(t, ctx, "scan t2 offline", f.qr["t2"], "ok"); !strings.Contains(word, "Valid") {
		t.Errorf("t2 offline answered %q, want valid from the bundle", word)
	}
	if mode := browsertest.Get(t, ctx, "mode", chromedp.Text(css(`#answer-mode`))); !strings.Contains(mode, "offline") {
		t.Errorf("the offline answer says %q, want it to say it was checked offline", mode)
	}
	browsertest.Screenshot(t, ctx, "scan-offline")
	if word, _ := scanIn(t, ctx, "scan t2 again offline", f.qr["t2"], "already_redeemed"); word != "Already redeemed" {
		t.Errorf("t2 again offline answered %q, want already redeemed", word)
	}
	if word, _ := scanIn(t, ctx, "scan the refunded t3 offline", f.qr["t3"], "revoked"); word != "Revoked" {
		t.Errorf("the refunded t3 answered %q offline, want revoked from the change feed", word)
	}
	if word, _ := scanIn(t, ctx, "scan a forged pass offline", f.qr["t3"][:len(f.qr["t3"])-4]+"AAAA", "invalid"); word != "Invalid" {
		t.Errorf("a pass with a broken signature answered %q offline, want invalid", word)
	}
	// t5 goes in offline here, and at another lane of the same gate,
	// which the server hears of first: the upload flags the conflict.
	if word, _ := scanIn(t, ctx, "scan t5 offline", f.qr["t5"], "ok"); !strings.Contains(word, "Valid") {
		t.Errorf("t5 offline answered %q, want valid from the bundle", word)
	}
	if res, err := f.gate.Redeem(context.Background(), gate.Redeem{EventID: "ev1", Secret: f.qr["t5"], GateID: "main", Direction: gate.DirectionEntry}); err != nil || !res.OK {
		t.Fatalf("t5 at another lane: %+v, %v", res, err)
	}
	if c := f.counts(t); c.Inside != 3 || c.Scans != 4 {
		t.Errorf("while the phone is offline the server counts %+v, want 4 scans and 3 inside", c)
	}
	browsertest.Do(t, ctx, "reload offline",
		chromedp.Reload(),
		shown(`body[data-ready=true] #secret`),
		chromedp.Navigate(f.url+"/scan/#queue"),
		shown(`#queue-table`),
	)
	if waiting := browsertest.Get(t, ctx, "waiting", chromedp.Text(css(`#waiting`))); waiting != "2 to upload" {
		t.Errorf("offline the status bar says %q, want 2 to upload", waiting)
	}
	browsertest.Screenshot(t, ctx, "scan-queue")
	browsertest.CheckAccessibility(t, ctx, "scanner: waiting to upload")
	noHorizontalScroll(t, ctx, "waiting to upload")
	queued := browsertest.Get(t, ctx, "the queue", chromedp.Evaluate[string](`localStorage.getItem('arus.scan.queue')`))
	key := browsertest.Get(t, ctx, "the device key", chromedp.Evaluate[string](`JSON.parse(localStorage.getItem('arus.scan.device')).api_key`))

	setOffline(t, ctx, false)
	browsertest.Do(t, ctx, "upload when back online", shown(`#net.ok`),
		until(`document.getElementById('waiting').textContent === '0 to upload'`))
	want := func(when string) {
		t.Helper()
		c := f.counts(t)
		if c.Inside != 4 || c.InsideByArea["ga"] != 3 || c.ByGate["main"].Entries != 4 || c.Scans != 6 || c.Flagged != 1 || c.Refused != 1 {
			t.Errorf("%s the server counts %+v, want 6 scans (1 refused, 1 flagged), 4 entries at main, 4 inside (3 in ga)", when, c)
		}
	}
	want("after the upload")
	// The same upload again, as after a lost answer: nothing twice.
	var scans []json.RawMessage
	if err := json.Unmarshal([]byte(queued), &scans); err != nil || len(scans) != 2 {
		t.Fatalf("queued %s: %v", queued, err)
	}
	req, _ := http.NewRequest("POST", f.url+"/api/v1/gate/events/ev1/upload", strings.NewReader(`{"scans":[`+string(scans[0])+`,`+string(scans[1])+`]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("upload again: %v %v", resp, err)
	}
	resp.Body.Close()
	want("after the same upload again")
	if res := browsertest.Get(t, ctx, "upload result", chromedp.Text(css(`#upload-result`))); !strings.Contains(res, "2 scan(s) uploaded; flagged for review: t5: already redeemed") {
		t.Errorf("the queue screen says %q after the upload", res)
	}
}

// A supervisor's device finds passes and lets a refused pass through with a
// reason, which the server records; a steward's device offers neither.
func TestScannerSupervisorOverride(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	f := newScanFixture(t)
	ctx := f.phone(t)
	enrolIn(t, ctx, f.code(t, gate.RoleSupervisor))
	scanIn(t, ctx, "scan t1", f.qr["t1"], "ok")
	scanIn(t, ctx, "scan t1 again", f.qr["t1"], "already_redeemed")
	browsertest.Do(t, ctx, "see the override", shown(`#override-reason`))
	browsertest.Screenshot(t, ctx, "scan-override")
	browsertest.CheckAccessibility(t, ctx, "scanner: refusal with override")
	browsertest.Do(t, ctx, "override without a reason",
		chromedp.Click(css(`#override-form button`)),
		shown(`#override-error`),
	)
	browsertest.Do(t, ctx, "override with a reason",
		chromedp.SendKeys(css(`#override-reason`), "wristband checked by the supervisor\r"),
		shown(`#answer[data-result=ok]`),
	)
	if word := browsertest.Get(t, ctx, "answer", chromedp.Text(css(`#answer-word`))); !strings.Contains(word, "override") {
		t.Errorf("the override answered %q", word)
	}
	flagged, err := f.gate.Flagged(context.Background(), "ev1")
	if err != nil {
		t.Fatal(err)
	}
	if len(flagged) != 1 || flagged[0].Override != "wristband checked by the supervisor" || flagged[0].Flag != gate.ReasonAlreadyRedeemed || flagged[0].DeviceID == "" {
		t.Errorf("flagged scans %+v, want the override with its reason and device", flagged)
	}

	browsertest.Do(t, ctx, "find a pass",
		chromedp.Click(css(`#answer-next`)),
		chromedp.Click(css(`a[href="#search"]`)),
		shown(`#q`),
		chromedp.SendKeys(css(`#q`), "budi\r"),
		shown(`#search-table`),
	)
	rows := browsertest.Get(t, ctx, "rows", chromedp.Text(css(`#search-rows`)))
	if !strings.Contains(rows, "t1") || !strings.Contains(rows, "t4") || strings.Contains(rows, "t5") || !strings.Contains(rows, "Budi Santoso") ||
		!strings.Contains(rows, "Order ARU-2612-0001") || !strings.Contains(rows, "ticket · ga · inside") {
		t.Errorf("the search of budi shows %q, want Budi Santoso's t1 to t4, of order ARU-2612-0001, with t1 inside", rows)
	}
	browsertest.Screenshot(t, ctx, "scan-search")
	browsertest.CheckAccessibility(t, ctx, "scanner: find a pass")
	noHorizontalScroll(t, ctx, "find a pass")

	// Admit from the search: t2's QR cannot be read; the supervisor lets
	// it in by its id, with a reason; a second admit is refused as a
	// second scan, and offline the action is not offered.
	browsertest.Do(t, ctx, "admit t2 without a reason",
		chromedp.Click(css(`button[data-admit="t2"]`)),
		shown(`#admit-reason`),
		chromedp.Click(css(`#admit-form button[type=submit]`)),
		shown(`#admit-error`),
	)
	if prompt := browsertest.Get(t, ctx, "admit prompt", chromedp.Text(css(`#admit-pass`))); !strings.Contains(prompt, "Buyer: Budi Santoso. Order ARU-2612-0001.") {
		t.Errorf("the admit asks %q, want the buyer and order to check the holder against", prompt)
	}
	browsertest.Do(t, ctx, "the admit form in view", js(`window.scrollTo(0, 0)`))
	browsertest.Screenshot(t, ctx, "scan-admit")
	browsertest.CheckAccessibility(t, ctx, "scanner: admit a found pass")
	noHorizontalScroll(t, ctx, "admit a found pass")
	browsertest.Do(t, ctx, "admit t2 with a reason",
		chromedp.SendKeys(css(`#admit-reason`), "phone cracked, name checked\r"),
		shown(`#answer[data-result=ok]`),
	)
	if word := browsertest.Get(t, ctx, "answer", chromedp.Text(css(`#answer-word`))); !strings.Contains(word, "without the pass") {
		t.Errorf("the admit answered %q, want let in without the pass", word)
	}
	if detail := browsertest.Get(t, ctx, "detail", chromedp.Text(css(`#answer-detail`))); !strings.Contains(detail, "phone cracked, name checked") {
		t.Errorf("the admit's detail is %q, want the reason recorded", detail)
	}
	browsertest.CheckAccessibility(t, ctx, "scanner: admitted")
	flagged, err = f.gate.Flagged(context.Background(), "ev1")
	if err != nil {
		t.Fatal(err)
	}
	if len(flagged) != 2 || flagged[1].PassID != "t2" || flagged[1].Flag != gate.FlagAdmitted || flagged[1].Override != "phone cracked, name checked" || flagged[1].DeviceID == "" {
		t.Errorf("flagged scans %+v, want the override and t2's admit with its reason and device", flagged)
	}
	browsertest.Do(t, ctx, "admit t2 again",
		chromedp.Click(css(`#answer-next`)),
		shown(`button[data-admit="t2"]`),
		chromedp.Click(css(`button[data-admit="t2"]`)),
		chromedp.SendKeys(css(`#admit-reason`), "again\r"),
		shown(`#answer[data-result=already_redeemed]`),
	)
	if shown := browsertest.Get(t, ctx, "override shown", chromedp.Evaluate[bool](`!document.getElementById('override-form').hidden`)); shown {
		t.Error("an admit's refusal offers an override, which needs the pass scanned")
	}
	browsertest.Do(t, ctx, "back to the search", chromedp.Click(css(`#answer-next`)), shown(`button[data-admit="t3"]`))
	browsertest.Do(t, ctx, "find a pass by its order number",
		js(`document.getElementById('q').value = ''`),
		chromedp.SendKeys(css(`#q`), "aru-2612-0002\r"),
		shown(`button[data-admit="t5"]`),
	)
	if rows := browsertest.Get(t, ctx, "rows", chromedp.Text(css(`#search-rows`))); !strings.Contains(rows, "Siti Rahayu") || strings.Contains(rows, "t1") {
		t.Errorf("the search of Siti Rahayu's order number shows %q, want t5 alone", rows)
	}
	browsertest.Do(t, ctx, "find a pass by its buyer's e-mail address",
		js(`document.getElementById('q').value = ''`),
		js(`document.getElementById('search-rows').textContent = ''`),
		chromedp.SendKeys(css(`#q`), "SITI.Rahayu@Example.COM\r"),
		shown(`button[data-admit="t5"]`),
	)
	if rows := browsertest.Get(t, ctx, "rows", chromedp.Text(css(`#search-rows`))); !strings.Contains(rows, "Siti Rahayu") || strings.Contains(rows, "t1") || strings.Contains(rows, "@") {
		t.Errorf("the search of Siti Rahayu's e-mail address shows %q, want t5 alone, without the address", rows)
	}
	// A staff pass, found by its staff member's name, which its row and
	// the admit show.
	now := time.Now()
	if _, err := f.gate.ChangeStaff(context.Background(), messages.StaffChanged{Type: messages.TypeStaffAssigned, EventID: "ev1", StaffID: "stf1",
		Name: "Rina Wulandari Kusumaningtyas", Email: "rina@crew.example", WorkStarts: now.Add(-time.Hour), WorkEnds: now.Add(5 * time.Hour), At: now}); err != nil {
		t.Fatal(err)
	}
	browsertest.Do(t, ctx, "find a staff pass by name",
		js(`document.getElementById('q').value = ''`),
		chromedp.SendKeys(css(`#q`), "kusuma\r"),
		shown(`button[data-admit="stf1"]`),
	)
	if rows := browsertest.Get(t, ctx, "rows", chromedp.Text(css(`#search-rows`))); !strings.Contains(rows, "Rina Wulandari Kusumaningtyas") || !strings.Contains(rows, "staff · *") ||
		strings.Contains(rows, "t5") || strings.Contains(rows, "@") {
		t.Errorf("the search of a staff member's name shows %q, want stf1 with the name alone", rows)
	}
	noHorizontalScroll(t, ctx, "a staff pass found")
	browsertest.Do(t, ctx, "admit the staff pass", chromedp.Click(css(`button[data-admit="stf1"]`)), shown(`#admit-reason`))
	if prompt := browsertest.Get(t, ctx, "admit prompt", chromedp.Text(css(`#admit-pass`))); !strings.Contains(prompt, "Staff: Rina Wulandari Kusumaningtyas.") || strings.Contains(prompt, "Buyer") {
		t.Errorf("the admit of a staff pass asks %q, want the staff member to check the holder against", prompt)
	}
	browsertest.Screenshot(t, ctx, "scan-admit-staff")
	browsertest.CheckAccessibility(t, ctx, "scanner: admit a staff pass")
	noHorizontalScroll(t, ctx, "admit a staff pass")
	browsertest.Do(t, ctx, "cancel the staff pass's admit", chromedp.Click(css(`#admit-cancel`)), until(`document.getElementById('admit-form').hidden`))
	setOffline(t, ctx, true)
	browsertest.Do(t, ctx, "offline, no admit", shown(`#admit-offline`),
		until(`[...document.querySelectorAll('[data-admit]')].every((b) => b.getClientRects().length === 0)`))
	browsertest.CheckAccessibility(t, ctx, "scanner: find a pass offline")
	setOffline(t, ctx, false)
	if c := f.counts(t); c.Inside != 2 || c.Flagged != 2 {
		t.Errorf("counts %+v, want t1 and t2 inside and 2 flagged", c)
	}

	// A steward's device: no search, no override. Its storage is too
	// small for the whole list (a full localStorage refuses it): it keeps
	// the passes to refuse, and says so.
	sctx := f.phone(t)
	browsertest.Do(t, sctx, "fill the storage", js(`(() => {
		const set = Storage.prototype.setItem;
		Storage.prototype.setItem = function (k, v) {
			if (k === 'arus.scan.bundle' && v.includes('"valid"')) throw new DOMException('full', 'QuotaExceededError');
			return set.call(this, k, v);
		};
	})()`))
	enrolIn(t, sctx, f.code(t, gate.RoleSteward))
	browsertest.Do(t, sctx, "see the setup", chromedp.Navigate(f.url+"/scan/#setup"), shown(`#fact-bundle`))
	if facts := browsertest.Get(t, sctx, "bundle", chromedp.Text(css(`#fact-bundle`))); !strings.Contains(facts, "only those to refuse") {
		t.Errorf("a bundle too large for the storage is described as %q", facts)
	}
	browsertest.Do(t, sctx, "back to scanning", chromedp.Navigate(f.url+"/scan/#scan"), shown(`#secret`))
	scanIn(t, sctx, "a steward scans t1", f.qr["t1"], "already_redeemed")
	if shown := browsertest.Get(t, sctx, "override shown", chromedp.Evaluate[bool](`!document.getElementById('override-form').hidden || !document.querySelector('a[href="#search"]').hidden || document.querySelector('[data-admit]') !== null`)); shown {
		t.Error("a steward's device offers the override, the search or an admit")
	}
}

// The scanner's page and service worker are served when the scanner is
// on, with the console's security headers, and name the same versioned
// assets, so that the worker keeps what the page loads.
func TestScannerPages(t *testing.T) {
	f := newFixtureWithConfig(t, func(c *Config) { c.Scanner = true })
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get("/scan/")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("/scan/: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	resp, worker := get("/scan/sw.js")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("/scan/sw.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, asset := range []string{"scan.js", "scan.css"} {
		i := strings.Index(page, "/static/"+asset+"?v=")
		if i < 0 {
			t.Fatalf("the page does not load %s by its version", asset)
		}
		url := page[i : i+strings.IndexByte(page[i:], '"')]
		if !strings.Contains(worker, `"`+url+`"`) {
			t.Errorf("the page loads %s, which the worker does not keep:\n%s", url, worker[:200])
		}
		if resp, _ := get(url); resp.StatusCode != 200 {
			t.Errorf("%s: %d", url, resp.StatusCode)
		}
	}
	off := newFixture(t)
	if resp, err := http.Get(off.srv.URL + "/scan/"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("/scan/ without the scanner: %v %v, want the console's not-found page", resp, err)
	}
}

// The gate API's own errors carry a code (docs/api.md), and the scanner
// shows them in the page's language: in Indonesian, an enrolment code too
// long to be one, a scan by a device revoked since it enrolled, and one
// with its key revoked.
func TestScannerAPIErrorsInIndonesian(t *testing.T) {
	f := newScanFixture(t)
	long := strings.Repeat("x", 65)
	resp, err := http.Post(f.url+"/api/v1/gate/enrol", "application/json", strings.NewReader(`{"code":"`+long+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var p api.Problem
	err = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusUnprocessableEntity || p.Code != "enrolment_code_length" {
		t.Fatalf("enrol with a long code: %d %+v (%v), want 422 enrolment_code_length", resp.StatusCode, p, err)
	}

	ctx := f.phone(t)
	browsertest.Do(t, ctx, "switch the scanner to Indonesian",
		js(`document.cookie = 'arus_lang=id; path=/'`),
		chromedp.Navigate(f.url+"/scan/"),
		shown(`html[lang=id] body[data-ready=true] #code`),
		chromedp.SendKeys(css(`#code`), long+"\r"),
		shown(`#code-error`),
	)
	if got, want := browsertest.Get(t, ctx, "enrol error", chromedp.Text(css(`#code-error`))), "Kode pendaftaran terdiri dari 1 sampai 64 karakter."; got != want {
		t.Errorf("enrolling with a long code says %q, want %q", got, want)
	}

	browsertest.Do(t, ctx, "clear the code", js(`document.getElementById('code').value = ''`))
	enrolIn(t, ctx, f.code(t, "steward"))
	ds, err := f.gate.Devices(context.Background(), "ev1")
	if err != nil || len(ds) != 1 {
		t.Fatalf("devices: %v %v, want one", ds, err)
	}
	if _, err := f.gate.RevokeDevice(context.Background(), ds[0].DeviceID); err != nil {
		t.Fatal(err)
	}
	scanIn(t, ctx, "scan with the revoked device", f.qr["t1"], "error")
	if got, want := browsertest.Get(t, ctx, "answer reason", chromedp.Text(css(`#answer-reason`))), "Perangkat ini sudah dicabut."; !strings.HasPrefix(got, want) {
		t.Errorf("a scan by a revoked device says %q, want %q", got, want)
	}
	// Once its key is revoked too, the API's 401 has no code: the scanner
	// says it in its own words.
	if err := f.auth.RevokeAPIKey(context.Background(), ds[0].KeyID); err != nil {
		t.Fatal(err)
	}
	scanIn(t, ctx, "scan with the revoked key", f.qr["t1"], "error")
	if got, want := browsertest.Get(t, ctx, "answer reason", chromedp.Text(css(`#answer-reason`))), "Kunci perangkat ini ditolak"; !strings.HasPrefix(got, want) {
		t.Errorf("a scan with a revoked key says %q, want %q", got, want)
	}
}

// A field error of the gate service comes in English, with no code; the
// scanner words it in the page's language from the console's formats
// (fieldText): in Indonesian, a scan at entry after gate main was made an
// exit.
func TestScannerFieldErrorInIndonesian(t *testing.T) {
	f := newScanFixture(t)
	ctx := f.phone(t)
	browsertest.Do(t, ctx, "switch the scanner to Indonesian",
		js(`document.cookie = 'arus_lang=id; path=/'`),
		chromedp.Navigate(f.url+"/scan/"),
		shown(`html[lang=id] body[data-ready=true] #code`),
	)
	enrolIn(t, ctx, f.code(t, "steward"))
	gs, err := f.gate.Gates(context.Background(), "ev1")
	if err != nil || len(gs) != 1 || gs[0].GateID != "main" {
		t.Fatalf("gates: %+v %v, want main", gs, err)
	}
	g := gs[0]
	g.Direction = gate.DirectionExit
	if err := f.gate.PutGate(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	scanIn(t, ctx, "scan at entry at an exit", f.qr["t1"], "error")
	if got, want := browsertest.Get(t, ctx, "answer reason", chromedp.Text(css(`#answer-reason`))), "gerbang main hanya meloloskan arah exit"; got != want {
		t.Errorf("a scan at entry at an exit says %q, want %q", got, want)
	}
}
