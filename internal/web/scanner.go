package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
)

// The gate scanner is the console's face for gate staff: one page under
// /scan/ that enrols the device with a one-time code and then speaks the
// gate's device protocol (docs/gate.md) from the browser, with the
// device's API key kept in the browser, never in a session. It works
// offline from the gate's bundle; a service worker keeps the page and its
// assets. Its templates live in templates/scan, apart from the console's
// pages and layout.

//go:embed templates/scan/*.html
var scanTemplateFS embed.FS

// scanAssets are the files the service worker keeps for offline use,
// besides the page itself.
var scanAssets = []string{"scan.js", "scan.css"}

// scanner is the parsed page and the version of its assets.
type scanner struct {
	page *template.Template
	// version changes whenever the page or an asset changes, so that the
	// browser's copies (HTTP cache, service worker cache) are replaced.
	version string
	worker  []byte
}

func newScanner() (*scanner, error) {
	t, err := template.New("scan").Funcs(template.FuncMap{"dict": funcs["dict"]}).ParseFS(scanTemplateFS, "templates/scan/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse the scanner: %w", err)
	}
	h := sha256.New()
	for _, name := range append(append([]string{}, scanAssets...), "scan-sw.js") {
		b, err := fs.ReadFile(staticFS, "static/"+name)
		if err != nil {
			return nil, fmt.Errorf("web: scanner asset: %w", err)
		}
		h.Write(b)
	}
	tpls, _ := fs.Glob(scanTemplateFS, "templates/scan/*.html")
	for _, name := range tpls {
		b, _ := fs.ReadFile(scanTemplateFS, name)
		h.Write(b)
	}
	s := &scanner{page: t, version: hex.EncodeToString(h.Sum(nil))[:12]}
	sw, err := fs.ReadFile(staticFS, "static/scan-sw.js")
	if err != nil {
		return nil, err
	}
	urls := []string{"/scan/"}
	for _, a := range scanAssets {
		urls = append(urls, s.asset(a))
	}
	keep, _ := json.Marshal(urls)
	// The worker learns the version and what to keep from two lines
	// written in front of it.
	s.worker = fmt.Appendf(nil, "const VERSION = %q;\nconst KEEP = %s;\n%s", s.version, keep, sw)
	return s, nil
}

// asset is the versioned address of a static file.
func (s *scanner) asset(name string) string { return "/static/" + name + "?v=" + s.version }

type scanView struct {
	Instance string
	CSS, JS  string
	Version  string
	// Lang is the page's language (consoleLang); Text the script's texts
	// in it, and Fields its wordings of the gate's field errors.
	Lang   string
	Text   map[string]string
	Fields [][2]string
}

// T translates a message key into the page's language.
func (v scanView) T(key string, args ...any) string { return translate(v.Lang, key, args...) }

// Other is the language the switch offers.
func (v scanView) Other() string { return otherLang(v.Lang) }

// scanScript is the script's texts in lang: its keys without "scan.js.",
// and the refusals' (refusal.<code>) as they are.
func scanScript(lang string) map[string]string {
	m := map[string]string{}
	for k := range scanText {
		if name, ok := strings.CutPrefix(k, "scan.js."); ok {
			m[name] = translate(lang, k)
		}
	}
	for k := range refusalText {
		m[k] = translate(lang, k)
	}
	return m
}

// gateFieldFormats are the formats of the gate service's field errors
// (ticketing/gate): the gate API answers them as they are, in English (a
// 422 with errors and no code), while its own problems carry a code
// (TestRefusalsAPIErrorsCoded). TestScannerFieldFormats reads the gate's
// source and fails when this list and the source differ.
var gateFieldFormats = []string{
	"a staff pass needs a work window",
	"an event needs at least one area",
	"at most %d per upload",
	"event %s has no gate %q",
	"gate %s lets through %s only",
	"is before start",
	"is before starts",
	"is before work_starts",
	"is required",
	"is required for an upload",
	"is required: say why the pass goes through without being scanned",
	"is the id of a ticket of event %s",
	"may hold letters, digits, '-', '_' and '.' only",
	"must be 1 to %d",
	"must be 1 to %d bytes",
	"must be 1 to 100",
	"must be 1 to 100 characters of text",
	"must be at most %d bytes",
	"must be at most 500 bytes",
	"must be entry or exit",
	"must be entry, exit or both",
	"must be steward or supervisor",
	"must be up to 30 days",
	"must not be negative",
	"name at least one area",
	"no inactive key %d in event %s",
	"no such list",
	"the event has no area %q",
}

// scanFields is how the script words the gate's field errors in lang,
// from fieldText's formats: each is the pattern of a message (the
// English format's, as FieldMsg matches it, in FieldMsg's order) and its
// wording, filled with the pattern's groups in order. In English there
// are none: a message stays as the API wrote it.
func scanFields(lang string) [][2]string {
	out := [][2]string{}
	if lang == "en" {
		return out
	}
	for _, f := range fieldFormats {
		if slices.Contains(gateFieldFormats, f.format) {
			out = append(out, [2]string{f.en.String(), f.id})
		}
	}
	return out
}

// registerScanner adds the scanner's page and service worker.
func (h *Handler) registerScanner(handle func(string, http.Handler)) {
	s, err := newScanner()
	if err != nil {
		panic(err) // the embedded files are fixed at build time
	}
	handle("GET /scan/{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		lang := consoleLang.of(r)
		v := scanView{Instance: h.cfg.Instance, CSS: s.asset("scan.css"), JS: s.asset("scan.js"), Version: s.version,
			Lang: lang, Text: scanScript(lang), Fields: scanFields(lang)}
		if err := s.page.ExecuteTemplate(&buf, "page", v); err != nil {
			h.serverError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Language", lang)
		w.Header().Set("Vary", "Cookie, Accept-Language")
		_, _ = w.Write(buf.Bytes())
	}))
	handle("GET /scan/sw.js", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(s.worker)
	}))
}
