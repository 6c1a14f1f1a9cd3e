package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

// view is what every page template receives.
type view struct {
	Principal *auth.Principal
	CSRF      string
	Instance  string
	Engine    string
	Path      string
	// Streams is set when the stream pages exist (a broker is configured),
	// DeadLetters when the dead-letter pages do.
	Streams, DeadLetters, Sagas, Schemas, Audit, Relay bool
	// Ticketing is set when the ticketing pages exist, Counter and Gates
	// when the cashier's counter and the gates page do.
	Ticketing, Counter, Gates bool
	// Flash is a one-line notice from the previous action (?ok=...).
	Flash string
	// Lang is the page's language: "en" on the operator pages; the
	// ticketing pages speak Indonesian or English (consoleLang).
	Lang string
	// Here is the page's address, for the language switch to come back to.
	Here string
	Data any
}

// flashes are the notices a redirect can ask for with ?ok=<code>; codes, not
// text, so a link cannot put words in the console's mouth.
var flashes = map[string]string{
	"user-created":      "User created.",
	"user-saved":        "Changes saved.",
	"user-disabled":     "User disabled; their sessions have ended.",
	"user-enabled":      "User enabled.",
	"password-changed":  "Password changed. Your other sessions have ended.",
	"key-revoked":       "API key revoked. Requests using it are refused from now on.",
	"topic-created":     "Topic created.",
	"produced":          "Record produced; it is the newest below.",
	"relay-created":     "Created.",
	"relay-saved":       "Saved.",
	"relay-deleted":     "Deleted.",
	"dlq-replay":        "Replayed: the letters are back with their group.",
	"schema-registered": "Schema registered (or already present as the version shown).",
	"dlq-discard":       "Discarded: the letters are no longer listed or replayed.",
	"topic-deleted":     "Topic deleted.",
	"group-reset":       "Offsets reset. The group resumes from there when its consumers start.",
}

var funcs = template.FuncMap{
	"num":     formatNum,
	"ago":     ago,
	"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"exact":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"join":    strings.Join,
	"hasRole": func(roles []auth.Role, r auth.Role) bool { return containsRole(roles, r) },
	"can": func(p *auth.Principal, perm string) bool {
		return p.Can(auth.Permission(perm), "")
	},
	"sub":        func(a, b int64) int64 { return a - b },
	"truncate":   truncate,
	"healthPill": healthPill,
	"list":       func(v ...string) []string { return v },
	"bytes":      formatBytes,
	"rate":       func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	// qualified names a destination's table as schema.name.
	"qualified": qualified,
	// dict passes several values to a partial: dict "Form" .F "Errors" .E.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	// partKey, lagPill, groupState and groupPill render consumer-group
	// figures as their live updates do (live.go).
	"partKey":   partKey,
	"committed": committedText,
	// pathSeg escapes a name (a group may hold '/', '?' or '#') for one
	// segment of a URL path.
	"pathSeg":    url.PathEscape,
	"lagPill":    lagPill,
	"groupState": func(g stream.GroupInfo) string { s, _ := groupState(g); return s },
	"groupPill":  func(g stream.GroupInfo) string { _, p := groupState(g); return p },
	"current": func(path, prefix string) bool {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	},
}

func containsRole(roles []auth.Role, r auth.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// formatNum writes an integer with thousands separators.
func formatNum(v any) string {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ago is a relative time for people; the exact time goes in a title.
// truncate shortens s to n runes, marking the cut.
func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// formatBytes writes n bytes in binary units: 512 B, 1.5 KiB, 20 MiB.
func formatBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n), 0
	for v >= 1024 && unit < 5 {
		v /= 1024
		unit++
	}
	prec := 1
	if v >= 100 {
		prec = 0
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + [...]string{"", "KiB", "MiB", "GiB", "TiB", "PiB"}[unit]
}

func ago(t time.Time) string { return agoIn("en", t) }

// agoIn is ago in lang.
func agoIn(lang string, t time.Time) string {
	if t.IsZero() {
		return translate(lang, "ui.ago.never")
	}
	d := time.Since(t)
	dir := ".ago"
	if d < 0 {
		d, dir = -d, ".ahead"
	}
	switch {
	case d < 45*time.Second:
		return translate(lang, "ui.ago.justnow")
	case d < time.Hour:
		return translate(lang, "ui.ago.min"+dir, int(d.Minutes()+0.5))
	case d < 48*time.Hour:
		return translate(lang, "ui.ago.h"+dir, int(d.Hours()+0.5))
	default:
		return translate(lang, "ui.ago.d"+dir, int(d.Hours()/24+0.5))
	}
}

// parsePages parses every page once, each with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	// Files starting with '_' are partials, parsed into every page.
	shared := []string{"templates/layout.html", "templates/_*.html"}
	pages := map[string]*template.Template{}
	for _, e := range names {
		name := strings.TrimSuffix(e.Name(), ".html")
		// shop_ pages have the storefront's own layout (shop.go).
		if name == "layout" || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "shop_") {
			continue
		}
		t, err := template.New(name).Funcs(funcs).Funcs(ticketingFuncs).ParseFS(templateFS, append(shared, "templates/"+e.Name())...)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", e.Name(), err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a page. The page is rendered into a buffer first, so a
// template error becomes a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := h.pages[page]
	if !ok {
		h.serverError(w, r, fmt.Errorf("web: no page %q", page))
		return
	}
	v.Principal = auth.FromContext(r.Context())
	if v.CSRF == "" && v.Principal != nil && v.Principal.Session != nil {
		v.CSRF = v.Principal.Session.CSRFToken
	}
	v.Instance, v.Engine, v.Path = h.cfg.Instance, h.cfg.Engine, r.URL.Path
	if r.Method == http.MethodGet {
		// A review or a form sent back has no address to come back
		// to; the switch then goes to the ticketing home.
		v.Here = r.URL.RequestURI()
	}
	v.Lang = pageLang(r)
	v.Streams = h.cfg.Broker != nil
	v.DeadLetters = h.cfg.DLQ != nil
	v.Sagas = h.cfg.Sagas != nil
	v.Schemas = h.cfg.Schemas != nil
	v.Audit = h.cfg.Audit != nil
	v.Relay = h.cfg.Relay != nil
	v.Ticketing = h.cfg.Ticketing != nil
	v.Counter = v.Ticketing && h.cfg.Payments != nil
	v.Gates = v.Ticketing && h.cfg.Gate != nil
	if v.Flash == "" {
		v.Flash = flashes[r.URL.Query().Get("ok")]
	}
	if ok := r.URL.Query().Get("ok"); v.Flash == "" && tkFlashes[ok] {
		v.Flash = translate(v.Lang, "tk.flash."+ok)
	}
	h.writePage(w, r, status, t, "layout", page, v.Lang, v)
}

// writePage executes layout of t with v and writes the page, in lang, with
// status; a page that fails to render is logged and answered with a plain
// 500 (the layout itself may be what failed).
func (h *Handler) writePage(w http.ResponseWriter, r *http.Request, status int, t *template.Template, layout, page, lang string, v any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, layout, v); err != nil {
		h.log.ErrorContext(r.Context(), "web: render", "layout", layout, "page", page, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type statusData struct {
	Status  int
	Title   string
	Message string
}

func (h *Handler) renderStatus(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	h.render(w, r, status, "status", view{Data: statusData{Status: status, Title: title, Message: msg}})
}
