package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/arus-platform/arus/internal/auth"
)

// csrfCookie carries the login form's CSRF token (double-submit), before
// there is a session to hold one.
const csrfCookie = "arus_login_csrf"

// csrfField is the form field every POST form carries.
const csrfField = "csrf_token"

// page wraps a console handler: it requires a session (else redirects to the
// login page), the permission perm (else 403; "" means any signed-in user)
// and, on POST, the session's CSRF token (else 403).
func (h *Handler) page(perm auth.Permission, next func(w http.ResponseWriter, r *http.Request, p *auth.Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(auth.SessionCookie)
		if err != nil || c.Value == "" {
			h.toLogin(w, r)
			return
		}
		sess, user, err := h.auth.Session(r.Context(), c.Value)
		if err != nil {
			if errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrExpired) || errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrDisabled) {
				h.clearCookie(w, r, auth.SessionCookie)
				h.toLogin(w, r)
				return
			}
			h.serverError(w, r, err)
			return
		}
		p := &auth.Principal{User: user, Session: &sess}
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		if user.MustChangePassword && !passwordChangeAllowed(r) {
			// A generated password: nothing else until the user
			// chooses their own.
			http.Redirect(w, r, changePasswordPath, http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxFormBytes)
			if err := r.ParseForm(); err != nil {
				h.renderStatus(w, r, http.StatusRequestEntityTooLarge, "Form too large", "The form could not be read: "+err.Error())
				return
			}
			if !sess.CheckCSRF(r.PostFormValue(csrfField)) {
				h.renderStatus(w, r, http.StatusForbidden, "Form expired",
					"This form's security token is missing or out of date. Go back, reload the page and try again.")
				return
			}
		}
		if perm != "" && !p.Can(perm, "") {
			h.renderStatus(w, r, http.StatusForbidden, "Not allowed",
				"Your roles do not allow this ("+string(perm)+"). Ask an admin if you need it.")
			return
		}
		next(w, r, p)
	})
}

func (h *Handler) toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath keeps a post-login redirect on this site: it returns next when
// it is a path on this site and nothing a browser could read as another
// origin, else "/". Accepted: a path starting with one "/" followed by
// anything but "/" or "\", with an optional query; refused: schemes,
// hosts, backslashes anywhere (browsers read them as "/"), control
// characters and spaces (browsers drop tabs and newlines, so "/\t/x" is
// "//x" to them), and anything that does not parse as a URL. The result
// is the parsed path, escaped again, so what the Location header carries
// is plain ASCII.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || len(next) > 2048 {
		return "/"
	}
	for _, c := range next {
		if c <= ' ' || c == 0x7f || c == '\\' || unicode.IsControl(c) || unicode.IsSpace(c) {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	path := u.EscapedPath()
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.HasPrefix(path, "/\\") {
		return "/"
	}
	if u.RawQuery != "" {
		var q strings.Builder
		for i := 0; i < len(u.RawQuery); i++ {
			if c := u.RawQuery[i]; c >= 0x80 {
				fmt.Fprintf(&q, "%%%02X", c)
			} else {
				q.WriteByte(c)
			}
		}
		path += "?" + q.String()
	}
	return path
}

func (h *Handler) secure(r *http.Request) bool { return r.TLS != nil || h.cfg.SecureCookies }

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
}

// loginCSRF returns the login form's token, setting its cookie when new.
func (h *Handler) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	h.setCookie(w, r, csrfCookie, tok, time.Now().Add(2*time.Hour))
	return tok
}

func checkLoginCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) == 1
}
