package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/arus-platform/arus/internal/auth"
)

type loginData struct {
	Username string
	Next     string
	Error    string
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	// Already signed in: go on.
	if c, err := r.Cookie(auth.SessionCookie); err == nil {
		if _, _, err := h.auth.Session(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
	}
	h.renderLogin(w, r, http.StatusOK, loginData{Next: r.URL.Query().Get("next")})
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	h.render(w, r, status, "login", view{CSRF: h.loginCSRF(w, r), Data: d})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.renderLogin(w, r, http.StatusBadRequest, loginData{Error: "The form could not be read."})
		return
	}
	d := loginData{Username: r.PostFormValue("username"), Next: r.PostFormValue("next")}
	if !checkLoginCSRF(r) {
		d.Error = "This form expired. Please sign in again."
		h.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	ip := h.auth.ClientIP(r)
	user, err := h.auth.Authenticate(r.Context(), d.Username, r.PostFormValue("password"), ip)
	if err != nil {
		var te *auth.ThrottledError
		switch {
		case errors.As(err, &te):
			secs := int(te.RetryAfter.Round(time.Second).Seconds())
			w.Header().Set("Retry-After", fmt.Sprint(secs))
			d.Error = fmt.Sprintf("Too many failed sign-ins. Try again in %s.", te.RetryAfter.Round(time.Second))
			h.renderLogin(w, r, http.StatusTooManyRequests, d)
		case errors.Is(err, auth.ErrInvalidCredentials), errors.Is(err, auth.ErrDisabled):
			d.Error = "Wrong username or password."
			h.renderLogin(w, r, http.StatusUnauthorized, d)
		case errors.Is(err, auth.ErrUnconfirmed):
			d.Error = "Confirm your e-mail address first: open the link we sent you, or ask for a new one."
			h.renderLogin(w, r, http.StatusForbidden, d)
		default:
			h.serverError(w, r, err)
		}
		return
	}
	if err := h.startSession(w, r, user.ID, ip); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.clearCookie(w, r, csrfCookie)
	h.log.InfoContext(r.Context(), "console: signed in", "user", user.Username, "ip", ip)
	if user.MustChangePassword {
		http.Redirect(w, r, changePasswordPath, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, localPath(d.Next), http.StatusSeeOther)
}

// startSession signs a user in on this browser, in place of the session it
// had.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, userID, ip string) error {
	meta := auth.SessionMeta{IP: ip, UserAgent: r.UserAgent()}
	if c, err := r.Cookie(auth.SessionCookie); err == nil {
		meta.Replaces = c.Value
	}
	sess, token, err := h.auth.CreateSession(r.Context(), userID, meta)
	if err != nil {
		return err
	}
	h.setCookie(w, r, auth.SessionCookie, token, sess.ExpiresAt)
	return nil
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if c, err := r.Cookie(auth.SessionCookie); err == nil {
		if err := h.auth.DeleteSession(r.Context(), c.Value); err != nil && !errors.Is(err, auth.ErrNotFound) {
			h.serverError(w, r, err)
			return
		}
	}
	h.clearCookie(w, r, auth.SessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// home sends a user to their first page, passing on a notice (?ok=...).
func (h *Handler) home(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	target := "/system"
	if h.cfg.Broker != nil && p.Can(auth.PermSystemRead, "") {
		target = "/overview"
	}
	if ok := r.URL.Query().Get("ok"); flashes[ok] != "" {
		target += "?ok=" + ok
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (h *Handler) system(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.render(w, r, http.StatusOK, "system", view{Data: h.systemInfo(r.Context())})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.renderStatus(w, r, http.StatusNotFound, "Page not found", "There is no page at "+r.URL.Path+".")
}
