package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

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

// localPath keeps a post-login redirect on this site.
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
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
