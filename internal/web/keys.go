package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/auth"
)

type keysData struct {
	Keys []auth.APIKey
	// Owners maps the owner ids of Keys to their usernames.
	Owners      map[string]string
	Permissions []auth.Permission
	// New is set right after a key was created or rotated: its secret is
	// shown this once.
	New    *auth.APIKey
	Secret string
	Form   keyForm
	Errors map[string]string
	// Now is the current Unix time, to tell expired keys.
	Now int64
}

type keyForm struct {
	Name    string
	Scopes  []string
	Extra   string
	Expires string
}

func (f keyForm) Has(scope string) bool {
	for _, s := range f.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request, status int, d keysData) {
	keys, err := h.auth.ListAPIKeys(r.Context(), "")
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Keys = keys
	d.Owners = map[string]string{}
	for _, k := range keys {
		if _, done := d.Owners[k.OwnerID]; k.OwnerID == "" || done {
			continue
		}
		u, err := h.auth.User(r.Context(), k.OwnerID)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		d.Owners[k.OwnerID] = u.Username
	}
	d.Permissions = auth.Permissions()
	d.Now = time.Now().Unix()
	h.render(w, r, status, "keys", view{Data: d})
}

func (h *Handler) keys(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.keysPage(w, r, http.StatusOK, keysData{Form: keyForm{Scopes: []string{string(auth.PermRecordsProduce)}, Expires: "365"}})
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f := keyForm{
		Name:    strings.TrimSpace(r.PostFormValue("name")),
		Scopes:  r.PostForm["scopes"],
		Extra:   strings.TrimSpace(r.PostFormValue("extra_scopes")),
		Expires: strings.TrimSpace(r.PostFormValue("expires_days")),
	}
	// A key made in the console belongs to the user who made it: it never
	// grants more than they may do, and stops working when they are
	// disabled or removed.
	nk := auth.NewAPIKey{Name: f.Name, OwnerID: p.User.ID, Scopes: append([]string(nil), f.Scopes...)}
	nk.Scopes = append(nk.Scopes, strings.Fields(strings.ReplaceAll(f.Extra, ",", " "))...)
	errs := map[string]string{}
	if f.Expires != "" && f.Expires != "0" {
		days, err := strconv.Atoi(f.Expires)
		if err != nil || days < 0 || days > 3650 {
			errs["expires_at"] = "give a whole number of days from 0 (never) to 3650"
		} else {
			nk.ExpiresAt = time.Now().Add(time.Duration(days) * 24 * time.Hour)
		}
	}
	if len(errs) > 0 {
		h.keysPage(w, r, http.StatusUnprocessableEntity, keysData{Form: f, Errors: errs})
		return
	}
	k, secret, err := h.auth.CreateAPIKey(r.Context(), nk)
	if errors.Is(err, auth.ErrInvalid) {
		h.keysPage(w, r, http.StatusUnprocessableEntity, keysData{Form: f, Errors: fieldErrors(err)})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "console: API key created", "key", k.Prefix, "by", p.Name())
	h.keysPage(w, r, http.StatusCreated, keysData{New: &k, Secret: secret, Form: keyForm{Expires: "365"}})
}

// keyConfirmed reviews an action on the key of the request's path before it
// is done; false means the review (or an error) was rendered.
func (h *Handler) keyConfirmed(w http.ResponseWriter, r *http.Request, title, msg, button string) bool {
	k, err := h.auth.APIKey(r.Context(), r.PathValue("id"))
	if h.keyError(w, r, err) {
		return false
	}
	if !k.RevokedAt.IsZero() {
		h.keyError(w, r, auth.ErrRevoked)
		return false
	}
	return h.confirmed(w, r, confirmData{Title: title + " “" + k.Name + "”", Message: msg, Action: r.URL.Path, Button: button, Cancel: "/keys"})
}

func (h *Handler) rotateKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if !h.keyConfirmed(w, r, "Rotate API key", "Its current secret stops working at once; the new one is shown once.", "Rotate key") {
		return
	}
	k, secret, err := h.auth.RotateAPIKey(r.Context(), r.PathValue("id"))
	if h.keyError(w, r, err) {
		return
	}
	h.log.InfoContext(r.Context(), "console: API key rotated", "key", k.Prefix, "by", p.Name())
	h.keysPage(w, r, http.StatusOK, keysData{New: &k, Secret: secret, Form: keyForm{Expires: "365"}})
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if !h.keyConfirmed(w, r, "Revoke API key", "Every request using it is refused from now on. This cannot be undone.", "Revoke key") {
		return
	}
	err := h.auth.RevokeAPIKey(r.Context(), r.PathValue("id"))
	if h.keyError(w, r, err) {
		return
	}
	h.log.InfoContext(r.Context(), "console: API key revoked", "key_id", r.PathValue("id"), "by", p.Name())
	http.Redirect(w, r, "/keys?ok=key-revoked", http.StatusSeeOther)
}

func (h *Handler) keyError(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, auth.ErrNotFound):
		h.renderStatus(w, r, http.StatusNotFound, "No such API key", "There is no API key with id "+r.PathValue("id")+".")
	case errors.Is(err, auth.ErrRevoked):
		h.renderStatus(w, r, http.StatusConflict, "Key revoked", "This key is revoked; create a new one instead.")
	default:
		h.serverError(w, r, err)
	}
	return true
}
