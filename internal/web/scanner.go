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
	// in it.
	Lang string
	Text map[string]string
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
			Lang: lang, Text: scanScript(lang)}
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
