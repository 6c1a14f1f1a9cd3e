package web

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/gosource"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
)

// refusalSources are the services whose refusals reach the console and the
// scanner, and their APIs.
var refusalSources = []string{"../../ticketing", "../gateapi", "../paymentapi", "../ticketingapi"}

// refusalSentinels are the errors that mean "refused": wrapping one with
// fmt.Errorf gives a refusal no code, which no page can translate.
var refusalSentinels = map[string]bool{"ErrConflict": true, "ErrSoldOut": true, "ErrForbidden": true, "ErrState": true}

// Every refusal the services and their APIs can give (each invalid.Refuse
// in their source) is listed in docs/api.md and has a text in Indonesian
// and in English that takes its values, and every refusal text belongs to
// one: a new refusal without a translation fails here.
func TestRefusalsEveryCodeTranslated(t *testing.T) {
	codes := map[string]int{} // code → number of values
	serviceCalls(t, refusalSources, func(path string, pos token.Position, call *ast.CallExpr) {
		switch callee(call) {
		case "invalid.Refuse":
			lit, ok := call.Args[1].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING || call.Ellipsis.IsValid() {
				t.Errorf("%s: a refusal's code and values must be written out", pos)
				return
			}
			code, _ := strconv.Unquote(lit.Value)
			n := len(call.Args) - 3
			if prev, seen := codes[code]; seen && prev != n {
				t.Errorf("%s: refusal %s with %d values, elsewhere %d", pos, code, n, prev)
			}
			codes[code] = n
		case "fmt.Errorf":
			if filepath.Base(filepath.Dir(path)) == "inventory" {
				// The inventory's refusals reach people only as the
				// ticketing service's (sold_out).
				return
			}
			for _, a := range call.Args[1:] {
				if id, ok := a.(*ast.Ident); ok && refusalSentinels[id.Name] {
					t.Errorf("%s: %s wrapped without a code: use invalid.Refuse", pos, id.Name)
				}
			}
		}
	})
	if len(codes) < 30 {
		t.Fatalf("found %d refusal codes in %v; the walk misses some", len(codes), refusalSources)
	}
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	verb := regexp.MustCompile(`%(\[\d+\])?.`)
	for code, n := range codes {
		if !strings.Contains(string(doc), "| `"+code+"` |") {
			t.Errorf("refusal %s is not in docs/api.md's tables of codes", code)
		}
		text, ok := refusalText["refusal."+code]
		if !ok {
			t.Errorf("refusal %s has no text", code)
			continue
		}
		args := make([]any, n)
		for i := range args {
			args[i] = fmt.Sprintf("<%d>", i)
		}
		for i, lang := range []string{"id", "en"} {
			if text[i] == "" {
				t.Errorf("refusal %s has no %s text", code, lang)
				continue
			}
			// The scanner's script fills %s and %[n]s only.
			for _, v := range verb.FindAllString(text[i], -1) {
				if !strings.HasSuffix(v, "s") {
					t.Errorf("refusal %s in %s uses %s; the texts take %%s and %%[n]s", code, lang, v)
				}
			}
			if got := translate(lang, "refusal."+code, args...); strings.Contains(got, "%!") {
				t.Errorf("refusal %s in %s with %d values: %q", code, lang, n, got)
			}
		}
	}
	for k := range refusalText {
		if code := strings.TrimPrefix(k, "refusal."); code != "or" {
			if _, ok := codes[code]; !ok {
				t.Errorf("%s is no refusal a service gives", k)
			}
		}
	}
}

// apiSources are the APIs whose own errors (a bad query parameter, an
// unknown id, a revoked device, too many requests, a bad provider
// signature) reach the scanner, the console and the APIs' clients beside
// their services' refusals.
var apiSources = []string{"../gateapi", "../paymentapi", "../ticketingapi"}

// problemMakers build a problem of an API's own.
var problemMakers = map[string]bool{"api.Invalid": true, "api.NotFound": true, "api.Conflict": true, "api.BadGateway": true}

// Every error the gate, payment and ticketing APIs raise themselves
// carries a code (api.Refused, api.InvalidCoded with an invalid.Refuse), so
// that TestRefusalsEveryCodeTranslated holds it to a text in both
// languages.
// Only a service's field errors go on without one: their fields are the
// service's, worded by fieldText.
func TestRefusalsAPIErrorsCoded(t *testing.T) {
	made := 0
	fset, files := gosource.Files(t, apiSources...)
	for _, f := range files {
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			defer func() { stack = append(stack, n) }()
			pos := fset.Position(n.Pos())
			switch n := n.(type) {
			case *ast.CallExpr:
				switch name := callee(n); {
				case name == "fmt.Errorf":
					for _, a := range n.Args[1:] {
						if sel, ok := a.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Err") {
							t.Errorf("%s: %s wrapped without a code: use invalid.Refuse", pos, sel.Sel.Name)
						}
					}
					return true
				case !problemMakers[name]:
					return true
				case name == "api.Invalid" && n.Ellipsis.IsValid():
					return true // a service's field errors
				}
			case *ast.CompositeLit:
				if sel, ok := n.Type.(*ast.SelectorExpr); !ok || callee(&ast.CallExpr{Fun: sel}) != "api.Problem" {
					return true
				}
			default:
				return true
			}
			made++
			parent := stack[len(stack)-1]
			if u, ok := parent.(*ast.UnaryExpr); ok && u.Op == token.AND {
				parent = stack[len(stack)-2]
			}
			if call, ok := parent.(*ast.CallExpr); !ok || callee(call) != "api.Refused" {
				t.Errorf("%s: a problem of the API's own without a code: use api.Refused or api.InvalidCoded", pos)
			}
			return true
		})
	}
	if made < 8 {
		t.Fatalf("found %d problems made in %v; the walk misses some", made, apiSources)
	}
}

// serviceCalls calls fn with every call in the Go files (not the tests)
// under dirs.
func serviceCalls(t *testing.T, dirs []string, fn func(path string, pos token.Position, call *ast.CallExpr)) {
	t.Helper()
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					fn(path, fset.Position(call.Pos()), call)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// callee is a call's function as written, "pkg.Name" or "Name".
func callee(call *ast.CallExpr) string {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name
		}
	}
	return ""
}

func TestRefusalMsg(t *testing.T) {
	at := time.Date(2026, 3, 18, 11, 20, 0, 0, time.UTC)
	tests := []struct {
		err    error
		id, en string
	}{
		{invalid.Refuse(ticketing.ErrConflict, "order_not_pending", "order %s is %s", "2026-03-18-1", "validated"),
			"Pesanan 2026-03-18-1 berstatus lunas; hanya pesanan yang menunggu pembayaran yang dapat dibatalkan (kembalikan dana pesanan yang sudah dibayar).",
			"Order 2026-03-18-1 is validated; only a pending order can be canceled (refund a paid one)."},
		{invalid.Refuse(ticketing.ErrConflict, "event_not_in_state", "event %s is not %s", "ev_1", "draft or approved"),
			"Acara ev_1 tidak berstatus draf atau disetujui.", "Event ev_1 is not draft or approved."},
		{invalid.Refuse(ticketing.ErrConflict, "sale_ended", "the sale of event %s ended at %s", "ev_1", at.Format(time.RFC3339)),
			"Penjualan acara ev_1 sudah berakhir 18 Mar, 2026 18:20 WIB.", "The sale of event ev_1 ended at 18 Mar, 2026 18:20 WIB."},
		{invalid.Refuse(ticketing.ErrConflict, "merchant_has_events", "merchant %s has %d events", "m_1", 1200),
			"Merchant m_1 masih punya 1.200 acara, jadi tidak dapat dihapus.", "Merchant m_1 still has 1,200 event(s), so it cannot be deleted."},
		{invalid.Refuse(ticketing.ErrSoldOut, "sold_out", "area %s: %s", "VIP", "inventory: sold out"),
			"Tiket area VIP tidak cukup lagi.", "Area VIP has too few tickets left."},
		// An error of the ticketing API's own, with its numbers.
		{invalid.Refuse(nil, "too_many_joins", "this address joined the waiting room %d times this minute; try again in %d s", 30, 12),
			"Alamat ini sudah 30 kali masuk ruang tunggu menit ini; coba lagi dalam 12 detik.",
			"This address joined the waiting room 30 times this minute; try again in 12 s."},
		// A refusal with no text, and an error with no code, keep the
		// service's words.
		{invalid.Refuse(ticketing.ErrConflict, "no_such_code", "a new rule"), "a new rule", "a new rule"},
		{fmt.Errorf("%w: something", ticketing.ErrNotFound), "not found: something", "not found: something"},
	}
	for _, tc := range tests {
		if got := refusalMsg("id", tc.err); got != tc.id {
			t.Errorf("refusalMsg(id, %v) = %q, want %q", tc.err, got, tc.id)
		}
		if got := refusalMsg("en", tc.err); got != tc.en {
			t.Errorf("refusalMsg(en, %v) = %q, want %q", tc.err, got, tc.en)
		}
	}
}

// A refused action shows the refusal in the page's language.
func TestRefusalPages(t *testing.T) {
	tf := newTicketingFixture(t)
	ctx := context.Background()
	s := tf.svc
	m, err := s.CreateMerchant(ctx, ticketing.MerchantInput{Name: "Java Jazz", Type: "organizer"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e, err := s.CreateEvent(ctx, ticketing.Everything, ticketing.EventInput{MerchantID: m.ID, Name: "Jazz Night", Venue: "JIExpo",
		Address: "Kemayoran, Jakarta", Starts: now.Add(72 * time.Hour), Ends: now.Add(76 * time.Hour), SaleStarts: now.Add(-time.Hour), SaleEnds: now.Add(70 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddArea(ctx, ticketing.Everything, e.ID, ticketing.AreaInput{Name: "Festival", Capacity: 100, Price: 250000}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SubmitEvent(ctx, ticketing.Everything, e.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path   string
		id, en string
	}{
		{"/ticketing/events/" + e.ID + "/delete",
			"Acara " + e.ID + " berstatus menunggu persetujuan; hanya draf yang dapat dihapus",
			"Event " + e.ID + " is waiting for approval; only a draft can be deleted"},
		{"/ticketing/merchants/" + m.ID + "/delete",
			"Merchant " + m.ID + " masih punya 1 acara, jadi tidak dapat dihapus.",
			"Merchant " + m.ID + " still has 1 event(s), so it cannot be deleted."},
		{"/ticketing/events/" + e.ID + "/submit",
			"Acara " + e.ID + " tidak berstatus draf.", "Event " + e.ID + " is not draft."},
	}
	for _, lang := range []string{"id", "en"} {
		br := tf.browser()
		csrf := br.login("admin", adminPassword)
		br.lang(lang)
		for _, tc := range tests {
			resp, body := br.post(tc.path, url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}})
			want := map[string]string{"id": tc.id, "en": tc.en}[lang]
			if resp.StatusCode != http.StatusConflict || !strings.Contains(body, want) {
				t.Errorf("%s POST %s: status %d, want 409 saying %q\n%s", lang, tc.path, resp.StatusCode, want, truncate(body, 600))
			}
			if lang == "id" && (strings.Contains(body, tc.en) || strings.Contains(body, "event "+e.ID)) {
				t.Errorf("the Indonesian page of POST %s shows English", tc.path)
			}
		}
	}
}
