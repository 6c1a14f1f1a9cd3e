package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/payment"
)

// The ticketing forms without JavaScript: bad input comes back with the
// error next to its field and nothing stored; a good form stores and
// redirects; reviews come before what cannot be undone.
func TestTicketingForms(t *testing.T) {
	tf := newTicketingFixture(t)
	w := tf.world(t)
	ctx := context.Background()
	br := tf.browser()
	csrf := br.login("ana", tkPassword)
	br.lang("en")
	form := func(kv ...string) url.Values {
		v := url.Values{"csrf_token": {csrf}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}

	t.Run("event form errors stay by their fields", func(t *testing.T) {
		resp, body := br.post("/ticketing/events", form("merchant_id", w.events[0].MerchantID, "name", "", "venue", "GBK", "address", "Senayan",
			"starts", "tomorrow", "ends", "2030-01-02T10:00", "sale_starts", "2030-01-01T10:00", "sale_ends", "2030-01-03T10:00"))
		wantStatus(t, "bad event", resp, http.StatusUnprocessableEntity)
		for _, id := range []string{`id="event-name-err"`, `id="event-starts-err"`, `id="event-sale-ends-err"`} {
			if !strings.Contains(body, id) {
				t.Errorf("the form does not show %s", id)
			}
		}
		if !strings.Contains(body, `is not a date and time such as`) || !strings.Contains(body, `value="GBK"`) {
			t.Errorf("the form lost what was typed or does not say why the start is wrong")
		}
		evs, _ := tf.svc.Events(ctx, ticketing.Everything, ticketing.EventFilter{})
		if len(evs) != 2 {
			t.Errorf("%d events stored after a bad form, want the 2 of before", len(evs))
		}
	})

	t.Run("an event for another merchant is refused", func(t *testing.T) {
		resp, body := br.post("/ticketing/events", form("merchant_id", w.events[1].MerchantID, "name", "Mine now", "venue", "GBK", "address", "Senayan",
			"starts", "2030-01-02T10:00", "ends", "2030-01-02T12:00", "sale_starts", "2030-01-01T10:00", "sale_ends", "2030-01-02T09:00"))
		if resp.StatusCode == http.StatusSeeOther {
			t.Fatalf("ana created an event for merchant B: %s", resp.Header.Get("Location"))
		}
		if !strings.Contains(body, "merchant") {
			t.Errorf("the refusal does not name the merchant:\n%s", truncate(body, 400))
		}
	})

	var draft string
	t.Run("a draft with an area", func(t *testing.T) {
		resp, _ := br.post("/ticketing/events", form("merchant_id", w.events[0].MerchantID, "name", "Senja", "venue", "GBK", "address", "Senayan",
			"starts", "2030-01-02T10:00", "ends", "2030-01-02T12:00", "sale_starts", "2030-01-01T10:00", "sale_ends", "2030-01-02T09:00"))
		wantStatus(t, "create event", resp, http.StatusSeeOther)
		loc := resp.Header.Get("Location")
		draft = strings.TrimPrefix(loc[:strings.Index(loc, "?")], "/ticketing/events/")
		e, err := tf.svc.Event(ctx, ticketing.Everything, draft)
		if err != nil || e.Starts.In(zone("Asia/Jakarta")).Format("2006-01-02 15:04") != "2030-01-02 10:00" {
			t.Fatalf("stored event %+v, %v: want it to start at 10:00 in Jakarta", e, err)
		}
		resp, body := br.post("/ticketing/events/"+draft+"/areas", form("name", "VIP", "capacity", "0", "price", "1.500.000"))
		wantStatus(t, "area with no capacity", resp, http.StatusUnprocessableEntity)
		if !strings.Contains(body, `id="area-capacity-err"`) {
			t.Errorf("the capacity's error is not by its field")
		}
		resp, _ = br.post("/ticketing/events/"+draft+"/areas", form("name", "VIP", "capacity", "50", "price", "1.500.000"))
		wantStatus(t, "area", resp, http.StatusSeeOther)
		e, _ = tf.svc.Event(ctx, ticketing.Everything, draft)
		if len(e.Areas) != 1 || e.Areas[0].Price != 1_500_000 || e.Areas[0].Capacity != 50 {
			t.Errorf("areas %+v, want VIP at Rp 1.500.000 for 50", e.Areas)
		}
		_, body = br.get("/ticketing/events/" + draft)
		if !strings.Contains(body, "Rp 1.500.000") || !strings.Contains(body, "Submit for approval") {
			t.Errorf("the draft's page does not show the area's price or the submit button")
		}
	})

	t.Run("staff and schedule", func(t *testing.T) {
		e := w.events[0].ID
		resp, body := br.post("/ticketing/events/"+e+"/staff", form("name", "Tono", "email", "not an address", "work_starts", "2030-01-01T10:00", "work_ends", "2030-01-01T09:00"))
		wantStatus(t, "bad staff", resp, http.StatusUnprocessableEntity)
		if !strings.Contains(body, `id="staff-email-err"`) || !strings.Contains(body, `id="staff-ends-err"`) {
			t.Errorf("the staff form does not show the e-mail's and the window's errors by their fields")
		}
		resp, body = br.post("/ticketing/events/"+e+"/schedules/"+w.schedule[0].ID, form("name", "Gate shift", "approver", "Nazar",
			"starts", localIn(w.schedule[0].Starts), "ends", localIn(w.schedule[0].Ends), "status", "progress"))
		wantStatus(t, "schedule status", resp, http.StatusSeeOther)
		ss, _ := tf.svc.Schedules(ctx, ticketing.Everything, e)
		if len(ss) != 1 || ss[0].Status != "progress" || ss[0].Approver != "Nazar" {
			t.Errorf("schedules %+v, want the shift in progress, approved by Nazar (%s)", ss, truncate(body, 200))
		}
		_, body = br.get("/ticketing/schedules")
		if !strings.Contains(body, "Approved By Nazar") {
			t.Errorf("the schedules page does not say who approved")
		}
		_, body = br.get("/ticketing/events/" + e + "/staff/" + w.staff[0].ID)
		if !strings.Contains(body, `<svg viewBox="0 0`) || !strings.Contains(body, "Print Info") || !strings.Contains(body, ">Close<") {
			t.Errorf("the staff detail lacks the QR code, Print Info or Close")
		}
	})

	t.Run("refund request and its review", func(t *testing.T) {
		resp, body := br.post("/ticketing/orders/"+w.paid[0].ID+"/refunds", form("kind", "partial", "amount", "999999999", "reason", "x"))
		wantStatus(t, "too large a refund", resp, http.StatusUnprocessableEntity)
		if !strings.Contains(body, `id="refund-amount-err"`) {
			t.Errorf("the amount's error is not by its field")
		}
		resp, _ = br.post("/ticketing/refunds/"+w.refund[0].ID+"/approve", form())
		wantStatus(t, "approve review", resp, http.StatusOK)
		if rf, _ := tf.svc.Refund(ctx, ticketing.Everything, w.refund[0].ID); rf.Status != ticketing.RefundRequested {
			t.Errorf("the review approved the refund (%s)", rf.Status)
		}
		resp, _ = br.post("/ticketing/refunds/"+w.refund[0].ID+"/approve", form("confirmed", "yes"))
		wantStatus(t, "approve", resp, http.StatusSeeOther)
		if rf, _ := tf.svc.Refund(ctx, ticketing.Everything, w.refund[0].ID); rf.Status == ticketing.RefundRequested {
			t.Errorf("the confirmed approval left the refund requested")
		}
		_, body = br.get("/ticketing/orders/" + w.paid[0].ID)
		for _, step := range []string{"Order placed", "Order paid", "Tickets issued", "Refund requested", "Refund approved"} {
			if !strings.Contains(body, step) {
				t.Errorf("the order's timeline lacks %q", step)
			}
		}
		if strings.Contains(body, "Payment requested") {
			t.Errorf("a merchant admin, without payment.read, sees the payment's own steps")
		}
		admin := tf.browser()
		admin.login("admin", adminPassword)
		admin.lang("en")
		_, body = admin.get("/ticketing/orders/" + w.paid[0].ID)
		for _, step := range []string{"Payment requested", "Payment succeeded"} {
			if !strings.Contains(body, step) {
				t.Errorf("the admin's timeline lacks %q", step)
			}
		}
	})

	t.Run("the counter takes cash once", func(t *testing.T) {
		cashier := tf.browser()
		ccsrf := cashier.login("citra", tkPassword)
		_, body := cashier.get("/ticketing/counter?number=" + url.QueryEscape(w.pending[0].Number))
		if !strings.Contains(body, `id="take-cash"`) {
			t.Fatalf("the counter does not offer to take cash for the pending order")
		}
		key := between(body, `name="key" value="`, `"`)
		resp, body := cashier.post("/ticketing/counter/"+w.pending[0].ID+"/cash", url.Values{"csrf_token": {ccsrf}, "key": {key}, "received": {"100"}})
		wantStatus(t, "too little cash", resp, http.StatusUnprocessableEntity)
		if !strings.Contains(body, `id="received-err"`) {
			t.Errorf("too little cash is not explained by its field")
		}
		for range 2 { // the same form twice
			resp, _ = cashier.post("/ticketing/counter/"+w.pending[0].ID+"/cash", url.Values{"csrf_token": {ccsrf}, "key": {key}, "received": {"600.000"}})
			wantStatus(t, "cash", resp, http.StatusSeeOther)
		}
		in, err := tf.pay.IntentByNumber(ctx, payment.Everything, w.pending[0].Number)
		if err != nil || in.State != payment.StateSucceeded || in.Received != 600000 || in.Change != 600000-in.Amount {
			t.Errorf("intent %+v, %v: want it paid once with Rp 600.000 received", in, err)
		}
		resp, _ = cashier.post("/ticketing/counter/"+w.pending[1].ID+"/cash", url.Values{"csrf_token": {ccsrf}, "key": {"k"}, "received": {"600000"}})
		wantStatus(t, "cash for merchant B's order", resp, http.StatusNotFound)
	})

	t.Run("dashboard period", func(t *testing.T) {
		admin := tf.browser()
		admin.login("admin", adminPassword)
		resp, body := admin.get("/ticketing?from=2026-02-01&to=2026-01-01")
		wantStatus(t, "backwards period", resp, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "sebelum from") {
			t.Errorf("a backwards period is not explained in Indonesian")
		}
		today := time.Now().In(zone("Asia/Jakarta")).Format(time.DateOnly)
		waitUntil(t, "the dashboard counts the sales", func() bool {
			_, body = admin.get("/ticketing?aggregation=month&from=" + today + "&to=" + today)
			return strings.Contains(body, `data-live="tickets">`) && !strings.Contains(body, `data-live="tickets">0<`)
		})
		if !strings.Contains(body, `<rect class="bar"`) || !strings.Contains(body, `data-live="merchants">2<`) {
			t.Errorf("the dashboard has no bars or does not count 2 merchants")
		}
		// The charts' periods and values are in the page's language.
		now := time.Now().In(zone("Asia/Jakarta"))
		month := map[string]string{"id": idMonths[now.Month()-1] + now.Format(" 2006"), "en": now.Format("Jan 2006")}
		if !strings.Contains(body, ">"+month["id"]+"</text>") {
			t.Errorf("the Indonesian dashboard's charts do not name the month %q", month["id"])
		}
		admin.lang("en")
		_, body = admin.get("/ticketing?aggregation=month&from=" + today + "&to=" + today)
		if !strings.Contains(body, ">"+month["en"]+"</text>") {
			t.Errorf("the English dashboard's charts do not name the month %q", month["en"])
		}
		if _, body = admin.get("/ticketing?from=2026-02-01&to=2026-01-01"); !strings.Contains(body, "is before from") {
			t.Errorf("a backwards period is not explained in English")
		}
	})
}

func localIn(t time.Time) string { return t.In(zone("Asia/Jakarta")).Format("2006-01-02T15:04") }

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}

func TestBarChart(t *testing.T) {
	days := []string{"2026-08-01", "2026-08-02", "2026-08-03"}
	for _, tc := range []struct {
		lang    string
		periods []string
		v       []float64
		want    []string
	}{
		{"en", days, []float64{0, 2500, 1000}, []string{`aria-label="rupiah per day from 1 Aug 2026 to 3 Aug 2026: total 3,500, highest 2,500"`,
			`>5,000</text>`, `>2,500</text>`, `<title>2 Aug 2026: 2,500</title>`, `>1 Aug 2026</text>`, `>3 Aug 2026</text>`}},
		{"id", days, []float64{0, 2500, 1000}, []string{`aria-label="rupiah per day dari 1 Agu 2026 sampai 3 Agu 2026: total 3.500, tertinggi 2.500"`,
			`>5.000</text>`, `>2.500</text>`, `<title>2 Agu 2026: 2.500</title>`, `>1 Agu 2026</text>`, `>3 Agu 2026</text>`}},
		{"en", []string{"2026-10", "2026-11", "2026-12"}, []float64{1.2e6, 0, 3e4}, []string{`>2M</text>`, `>1M</text>`,
			`>Oct 2026</text>`, `>Nov 2026</text>`, `>Dec 2026</text>`, `<title>Oct 2026: 1,200,000</title>`}},
		{"id", []string{"2026-10", "2026-11", "2026-12"}, []float64{1.2e6, 0, 3e4}, []string{`>2jt</text>`, `>1jt</text>`,
			`>Okt 2026</text>`, `>Nov 2026</text>`, `>Des 2026</text>`, `<title>Okt 2026: 1.200.000</title>`}},
		{"id", []string{"2026-05"}, []float64{25000}, []string{`>50rb</text>`, `>25rb</text>`, `>Mei 2026</text>`}},
	} {
		svg := string(barChart(tc.lang, tc.v, tc.periods, "rupiah per day"))
		for _, want := range tc.want {
			if !strings.Contains(svg, want) {
				t.Errorf("%s chart of %v lacks %s:\n%s", tc.lang, tc.periods, want, svg)
			}
		}
	}
	if n := strings.Count(string(barChart("en", []float64{0, 2500, 1000}, days, "x")), "<rect"); n != 2 {
		t.Errorf("%d bars, want 2 (none for a zero)", n)
	}
	if got := string(barChart("id", nil, nil, "x")); !strings.Contains(got, "Tidak ada periode") {
		t.Errorf("an empty Indonesian chart says %s", got)
	}
}
