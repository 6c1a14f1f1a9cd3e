package web

import (
	stdhtml "html"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Every key the ticketing pages, the console's frame and the scanner name
// has its Indonesian and its English text; every state the pages show
// has its words.
func TestTicketingTextCatalogue(t *testing.T) {
	keyRe := regexp.MustCompile(`\.T "([a-z][\w.-]*)"`)
	check := func(dir, glob string, fsys fs.FS) {
		names, _ := fs.Glob(fsys, dir+"/"+glob)
		if len(names) == 0 {
			t.Fatalf("no templates %s/%s", dir, glob)
		}
		for _, name := range names {
			b, _ := fs.ReadFile(fsys, name)
			for _, m := range keyRe.FindAllStringSubmatch(string(b), -1) {
				if text, ok := texts[m[1]]; !ok || text[0] == "" || text[1] == "" {
					t.Errorf("%s uses %q, which the catalogue lacks in a language", name, m[1])
				}
			}
		}
	}
	check("templates", "tk_*.html", templateFS)
	check("templates", "_tk_*.html", templateFS)
	check("templates", "layout.html", templateFS)
	check("templates/scan", "*.html", scanTemplateFS)
	for _, states := range [][]string{tkStates} {
		for _, s := range states {
			if _, ok := texts["tk.status."+s]; !ok {
				t.Errorf("state %q has no words", s)
			}
		}
	}
	if got := agoIn("id", time.Now().Add(-3*time.Hour)); got != "3 jam lalu" {
		t.Errorf("agoIn(id, 3 h) = %q", got)
	}
	if got := (view{Lang: "id"}).Num(1500000); got != "1.500.000" {
		t.Errorf("Num in Indonesian = %q", got)
	}
}

// tkStates are the states the ticketing pages show in pills and options.
var tkStates = []string{"draft", "waiting_for_approval", "approved", "on_sale", "sale_closed", "ended", "expired", "canceled",
	"pending", "validated", "partially_refunded", "refunded", "requested", "rejected", "valid", "revoked", "none", "active",
	"on_break", "finished", "planned", "progress", "done", "running", "compensating", "completed", "compensated", "failed",
	"succeeded", "full", "partial", "tickets", "entry", "exit", "both", "steward", "supervisor", "organizer", "venue",
	"promoter", "community", "company", "already_redeemed", "wrong_area", "outside_window", "blocked", "invalid", "unpaid", "admitted"}

// Every ticketing page, rendered in Indonesian and in English: the page
// says which language it is in, shows no key missing from the catalogue,
// and the Indonesian page shows none of a sample of the English words it
// used to (and the English page none of their Indonesian ones).
func TestTicketingTextEveryPage(t *testing.T) {
	tf := newTicketingFixture(t)
	w := tf.world(t)
	e, o := w.events[0], w.paid[0]
	pages := []string{"/ticketing", "/ticketing/merchants", "/ticketing/merchants/" + e.MerchantID, "/ticketing/events",
		"/ticketing/events/new", "/ticketing/events/" + e.ID, "/ticketing/events/" + e.ID + "/edit",
		"/ticketing/events/" + e.ID + "/staff", "/ticketing/events/" + e.ID + "/staff/" + w.staff[0].ID,
		"/ticketing/schedules", "/ticketing/staff", "/ticketing/orders", "/ticketing/orders/" + o.ID, "/ticketing/refunds",
		"/ticketing/payment-methods", "/ticketing/counter", "/ticketing/counter?number=" + w.pending[0].Number,
		"/ticketing/counter?number=nope", "/ticketing/counter/" + o.ID + "/tickets", "/ticketing/gates", "/ticketing/gates/" + e.ID,
		"/ticketing/events/nope"}
	// Reviews and a form sent back with its errors.
	posts := []struct {
		path string
		form url.Values
	}{
		{"/ticketing/events/" + e.ID + "/cancel", nil},
		{"/ticketing/events/" + e.ID + "/reject", nil},
		{"/ticketing/merchants/" + e.MerchantID + "/delete", nil},
		{"/ticketing/payment-methods/" + w.method.ID + "/delete", nil},
		{"/ticketing/orders/" + w.pending[0].ID + "/cancel", nil},
		{"/ticketing/refunds/" + w.refund[0].ID + "/approve", nil},
		{"/ticketing/events/" + e.ID + "/staff/" + w.staff[0].ID + "/delete", nil},
		{"/ticketing/events", url.Values{"merchant_id": {e.MerchantID}, "starts": {"tomorrow"}}},
	}
	keyLeak := regexp.MustCompile(`(^|[^\w.])(tk|ui|lang)\.[a-z]`)
	mainRe := regexp.MustCompile(`(?s)<main id="main">(.*)</main>`)
	tagRe := regexp.MustCompile(`(?s)<[^>]*>`)
	words := map[string][]string{
		// English words the Indonesian pages must not show, and the
		// other way round.
		"id": {"Events", "Orders", "Refunds", "Created", "Action", "Save", "Cancel", "Delete", "Edit", "Back", "Search",
			"Filter", "Price", "Buyer", "Approve", "Submit", "Reason", "Staff", "Schedules", "ago", "Merchants", "Print",
			"Order number", "Time zone", "Event date", "Amount", "Refunded", "Received", "Inside", "Devices", "is required",
			"Payment methods", "Counter", "Dashboard", "Sign out", "Change password"},
		"en": {"Acara", "Pesanan", "Pengembalian", "Dibuat", "Aksi", "Simpan", "Batal", "Hapus", "Ubah", "Kembali", "Cari",
			"Harga", "Pemesan", "Setujui", "Alasan", "Jadwal", "lalu", "Cetak", "Keluar", "wajib diisi", "Loket", "Dasbor"},
	}
	for _, lang := range []string{"id", "en"} {
		t.Run(lang, func(t *testing.T) {
			br := tf.browser()
			csrf := br.login("admin", adminPassword)
			br.lang(lang)
			check := func(what string, resp *http.Response, body string) {
				t.Helper()
				if resp.StatusCode >= 500 || resp.StatusCode == http.StatusForbidden {
					t.Errorf("%s: status %d", what, resp.StatusCode)
				}
				if !strings.Contains(body, `<html lang="`+lang+`">`) {
					t.Errorf("%s: the page does not say it is in %s", what, lang)
				}
				if got := resp.Header.Get("Content-Language"); got != lang {
					t.Errorf("%s: Content-Language %q", what, got)
				}
				m := mainRe.FindStringSubmatch(body)
				if m == nil {
					t.Errorf("%s: no main", what)
					return
				}
				text := stdhtml.UnescapeString(tagRe.ReplaceAllString(m[1], " "))
				if k := keyLeak.FindString(body); k != "" {
					t.Errorf("%s shows a key missing from the catalogue: %q", what, k)
				}
				for _, word := range words[lang] {
					if regexp.MustCompile(`\b` + regexp.QuoteMeta(word) + `\b`).MatchString(text) {
						t.Errorf("%s (%s) still shows %q", what, lang, word)
					}
				}
				nav := body[:strings.Index(body, `<main id="main">`)]
				for _, word := range words[lang] {
					for _, link := range []string{">" + word + "</a>", ">" + word + "</button>"} {
						if strings.Contains(nav, link) && !strings.Contains(word, " ") && lang == "id" {
							t.Errorf("%s: the frame still shows %q", what, word)
						}
					}
				}
			}
			for _, p := range pages {
				resp, body := br.get(p)
				check("GET "+p, resp, body)
			}
			for _, p := range posts {
				form := url.Values{"csrf_token": {csrf}}
				for k, v := range p.form {
					form[k] = v
				}
				resp, body := br.post(p.path, form)
				check("POST "+p.path, resp, body)
			}
		})
	}
}
