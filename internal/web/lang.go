package web

import (
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// The pages people outside the operations team use speak Indonesian, the
// first audience's language, and English: the storefront (shop_text.go),
// the e-ticketing console (ticketing_text.go) and the gate scanner
// (scanner_text.go). The cookie of a switch on every page wins; else the
// browser's Accept-Language; else Indonesian. Each text is a key of
// texts with its Indonesian and its English wording.

var langMatcher = language.NewMatcher([]language.Tag{language.Indonesian, language.English})

// langChoice is where one part of the site keeps the language chosen: a
// cookie under path, and the page to go back to without a valid next.
type langChoice struct {
	cookie, path, home string
}

// of is the request's language: the cookie's, else the best match of
// Accept-Language, else Indonesian.
func (c langChoice) of(r *http.Request) string {
	if k, err := r.Cookie(c.cookie); err == nil && (k.Value == "id" || k.Value == "en") {
		return k.Value
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return "id"
	}
	_, i, conf := langMatcher.Match(tags...)
	if conf == language.No || i == 0 {
		return "id"
	}
	return "en"
}

// set keeps the language of ?l= and goes back to ?next=, a local page
// under one of prefixes (else c.home).
func (c langChoice) set(w http.ResponseWriter, r *http.Request, secure bool, prefixes ...string) {
	l := r.URL.Query().Get("l")
	if l != "id" && l != "en" {
		l = "id"
	}
	http.SetCookie(w, &http.Cookie{Name: c.cookie, Value: l, Path: c.path, MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	next, ok := localPath(r.URL.Query().Get("next")), false
	for _, p := range prefixes {
		ok = ok || next == strings.TrimSuffix(p, "/") || strings.HasPrefix(next, p)
	}
	if !ok {
		next = c.home
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// otherLang is the language a switch offers.
func otherLang(lang string) string {
	if lang == "en" {
		return "id"
	}
	return "en"
}

// texts is every catalogue: key → {Indonesian, English}.
var texts = mergeTexts(shopText, tkText, scanText, refusalText)

func mergeTexts(parts ...map[string][2]string) map[string][2]string {
	all := map[string][2]string{}
	for _, p := range parts {
		for k, v := range p {
			if _, dup := all[k]; dup {
				panic("web: text " + k + " is in two catalogues")
			}
			all[k] = v
		}
	}
	return all
}

// translate returns the text of key in lang, formatted with args; an
// unknown key is itself, which the tests look for.
func translate(lang, key string, args ...any) string {
	m, ok := texts[key]
	if !ok {
		return key
	}
	text := m[0]
	if lang == "en" {
		text = m[1]
	}
	return fill(text, args...)
}

// fill formats text with args, when it has any.
func fill(text string, args ...any) string {
	if len(args) > 0 && strings.Contains(text, "%") {
		return fmt.Sprintf(text, args...)
	}
	return text
}
