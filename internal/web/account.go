package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/arus-platform/arus/internal/auth"
)

// changePasswordPath is the page where a user changes their own password;
// a user whose password was generated is sent there until they have.
const changePasswordPath = "/account/password"

// passwordChangeAllowed reports whether a request may go ahead while its
// user must still change a generated password: the change page itself and
// signing out.
func passwordChangeAllowed(r *http.Request) bool {
	return r.URL.Path == changePasswordPath || (r.Method == http.MethodPost && r.URL.Path == "/logout")
}

type passwordData struct {
	// Required is set while the user must change a generated password.
	Required bool
	Errors   map[string]string
	Error    string
}

func (h *Handler) passwordForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.render(w, r, http.StatusOK, "account_password", view{Data: passwordData{Required: p.User.MustChangePassword}})
}

// changePassword replaces the signed-in user's password. The current one
// is required; every session of the user ends, and this browser gets a new
// one.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d := passwordData{Required: p.User.MustChangePassword, Errors: map[string]string{}}
	current, next := r.PostFormValue("current_password"), r.PostFormValue("new_password")
	if next != r.PostFormValue("confirm_password") {
		d.Errors["confirm_password"] = "does not match the new password"
		h.render(w, r, http.StatusUnprocessableEntity, "account_password", view{Data: d})
		return
	}
	ip := h.auth.ClientIP(r)
	user, err := h.auth.ChangePassword(r.Context(), p.User.Username, current, next, ip)
	var te *auth.ThrottledError
	switch {
	case err == nil:
	case errors.As(err, &te):
		w.Header().Set("Retry-After", fmt.Sprint(int(te.RetryAfter.Round(time.Second).Seconds())))
		d.Error = fmt.Sprintf("Too many wrong passwords. Try again in %s.", te.RetryAfter.Round(time.Second))
		h.render(w, r, http.StatusTooManyRequests, "account_password", view{Data: d})
		return
	case errors.Is(err, auth.ErrInvalidCredentials):
		d.Errors["current_password"] = "is not your current password"
		h.render(w, r, http.StatusUnprocessableEntity, "account_password", view{Data: d})
		return
	case errors.Is(err, auth.ErrInvalid):
		d.Errors = fieldErrors(err)
		h.render(w, r, http.StatusUnprocessableEntity, "account_password", view{Data: d})
		return
	default:
		h.serverError(w, r, err)
		return
	}
	// Every session of the user has ended; this browser goes on in a new one.
	sess, token, err := h.auth.CreateSession(r.Context(), user.ID, auth.SessionMeta{IP: ip, UserAgent: r.UserAgent()})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.setCookie(w, r, auth.SessionCookie, token, sess.ExpiresAt)
	h.log.InfoContext(r.Context(), "console: password changed", "user", user.Username, "ip", ip)
	http.Redirect(w, r, "/?ok=password-changed", http.StatusSeeOther)
}
