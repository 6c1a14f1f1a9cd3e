package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
)

type usersData struct {
	Page   auth.UserPage
	Search string
	Role   string
	Roles  []auth.Role
	After  string
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	q := r.URL.Query()
	d := usersData{Search: strings.TrimSpace(q.Get("q")), Role: q.Get("role"), After: q.Get("after"), Roles: auth.Roles()}
	page, err := h.auth.ListUsers(r.Context(), auth.UserQuery{Search: d.Search, Role: auth.Role(d.Role), After: d.After, Limit: 50})
	if errors.Is(err, auth.ErrInvalid) {
		h.renderStatus(w, r, http.StatusBadRequest, "Bad filter", err.Error())
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Page = page
	h.render(w, r, http.StatusOK, "users", view{Data: d})
}

// userForm is the data of the new-user and edit-user forms.
type userForm struct {
	User   auth.User
	Roles  []auth.Role
	Errors map[string]string
	Error  string
	// Password is a generated password, shown once after create or reset.
	Password string
	Sessions []auth.Session
	Self     bool
}

func fieldErrors(err error) map[string]string {
	var ve *invalid.Fields
	if !errors.As(err, &ve) {
		return nil
	}
	m := map[string]string{}
	for _, fe := range ve.List {
		if _, dup := m[fe.Name]; !dup {
			m[fe.Name] = fe.Message
		}
	}
	return m
}

func formRoles(r *http.Request) []auth.Role {
	var roles []auth.Role
	for _, v := range r.PostForm["roles"] {
		roles = append(roles, auth.Role(v))
	}
	return roles
}

func (h *Handler) newUserForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.render(w, r, http.StatusOK, "user_new", view{Data: userForm{Roles: auth.Roles(), User: auth.User{Roles: []auth.Role{auth.RoleViewer}}}})
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	nu := auth.NewUser{
		Username:  strings.TrimSpace(r.PostFormValue("username")),
		Name:      strings.TrimSpace(r.PostFormValue("name")),
		Email:     strings.TrimSpace(r.PostFormValue("email")),
		Phone:     strings.TrimSpace(r.PostFormValue("phone")),
		Password:  r.PostFormValue("password"),
		Roles:     formRoles(r),
		Confirmed: r.PostFormValue("confirmed") == "on",
	}
	form := userForm{Roles: auth.Roles(), User: auth.User{Username: nu.Username, Name: nu.Name, Email: nu.Email, Phone: nu.Phone, Roles: nu.Roles, Confirmed: nu.Confirmed}}
	u, err := h.auth.CreateUser(r.Context(), nu)
	switch {
	case errors.Is(err, auth.ErrUsernameTaken):
		form.Errors = map[string]string{"username": "is taken; choose another"}
	case errors.Is(err, auth.ErrInvalid):
		form.Errors = fieldErrors(err)
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	if err != nil {
		h.render(w, r, http.StatusUnprocessableEntity, "user_new", view{Data: form})
		return
	}
	h.log.InfoContext(r.Context(), "console: user created", "user", u.Username, "by", p.Name())
	if nu.Password != "" {
		http.Redirect(w, r, "/users/"+u.ID+"?ok=user-created", http.StatusSeeOther)
		return
	}
	// No password given: generate one and show it once.
	pw, err := h.auth.ResetPassword(r.Context(), u.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.renderUser(w, r, p, u.ID, http.StatusCreated, func(f *userForm) { f.Password = pw })
}

// renderUser renders the edit page of user id; adjust sets extra fields.
func (h *Handler) renderUser(w http.ResponseWriter, r *http.Request, p *auth.Principal, id string, status int, adjust func(*userForm)) {
	u, err := h.auth.User(r.Context(), id)
	if errors.Is(err, auth.ErrNotFound) {
		h.renderStatus(w, r, http.StatusNotFound, "No such user", "There is no user with id "+id+".")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	sessions, err := h.auth.UserSessions(r.Context(), id)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	f := userForm{User: u, Roles: auth.Roles(), Sessions: sessions, Self: p.User.ID == u.ID}
	if adjust != nil {
		adjust(&f)
	}
	h.render(w, r, status, "user", view{Data: f})
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.renderUser(w, r, p, r.PathValue("id"), http.StatusOK, nil)
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	_, err := h.auth.UpdateUser(r.Context(), id, func(u *auth.User) error {
		u.Name = strings.TrimSpace(r.PostFormValue("name"))
		u.Email = strings.TrimSpace(r.PostFormValue("email"))
		u.Phone = strings.TrimSpace(r.PostFormValue("phone"))
		u.Confirmed = r.PostFormValue("confirmed") == "on"
		u.Roles = formRoles(r)
		return nil
	})
	switch {
	case err == nil:
		h.log.InfoContext(r.Context(), "console: user updated", "user_id", id, "by", p.Name())
		http.Redirect(w, r, "/users/"+id+"?ok=user-saved", http.StatusSeeOther)
	case errors.Is(err, auth.ErrNotFound):
		h.renderStatus(w, r, http.StatusNotFound, "No such user", "There is no user with id "+id+".")
	case errors.Is(err, auth.ErrLastAdmin):
		h.renderUser(w, r, p, id, http.StatusConflict, func(f *userForm) {
			f.Error = "This change would leave no enabled admin. Make someone else an admin first."
		})
	case errors.Is(err, auth.ErrInvalid):
		h.renderUser(w, r, p, id, http.StatusUnprocessableEntity, func(f *userForm) {
			f.Errors = fieldErrors(err)
			f.User.Name, f.User.Email, f.User.Phone = r.PostFormValue("name"), r.PostFormValue("email"), r.PostFormValue("phone")
			f.User.Roles = formRoles(r)
		})
	default:
		h.serverError(w, r, err)
	}
}

// userConfirmed reviews an action on the user of the request's path before
// it is done; false means the review (or an error) was rendered.
func (h *Handler) userConfirmed(w http.ResponseWriter, r *http.Request, title, msg, button string) bool {
	id := r.PathValue("id")
	u, err := h.auth.User(r.Context(), id)
	if errors.Is(err, auth.ErrNotFound) {
		h.renderStatus(w, r, http.StatusNotFound, "No such user", "There is no user with id "+id+".")
		return false
	}
	if err != nil {
		h.serverError(w, r, err)
		return false
	}
	return h.confirmed(w, r, confirmData{Title: title + " " + u.Username, Message: msg, Action: r.URL.Path, Button: button, Cancel: "/users/" + id})
}

func (h *Handler) resetPassword(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if !h.userConfirmed(w, r, "Reset the password of", "Their current password stops working and a new one is shown once; their sessions end.", "Reset password") {
		return
	}
	id := r.PathValue("id")
	pw, err := h.auth.ResetPassword(r.Context(), id)
	if errors.Is(err, auth.ErrNotFound) {
		h.renderStatus(w, r, http.StatusNotFound, "No such user", "There is no user with id "+id+".")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "console: password reset", "user_id", id, "by", p.Name())
	h.renderUser(w, r, p, id, http.StatusOK, func(f *userForm) { f.Password = pw })
}

func (h *Handler) disableUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if !h.userConfirmed(w, r, "Disable", "They are signed out at once and their API keys stop working until the user is enabled again.", "Disable user") {
		return
	}
	h.setDisabled(w, r, p, true)
}

func (h *Handler) enableUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.setDisabled(w, r, p, false)
}

func (h *Handler) setDisabled(w http.ResponseWriter, r *http.Request, p *auth.Principal, disable bool) {
	id := r.PathValue("id")
	var err error
	flash := "user-enabled"
	if disable {
		_, err = h.auth.Disable(r.Context(), id)
		flash = "user-disabled"
	} else {
		_, err = h.auth.Enable(r.Context(), id)
	}
	switch {
	case err == nil:
		h.log.InfoContext(r.Context(), "console: "+flash, "user_id", id, "by", p.Name())
		http.Redirect(w, r, "/users/"+id+"?ok="+flash, http.StatusSeeOther)
	case errors.Is(err, auth.ErrNotFound):
		h.renderStatus(w, r, http.StatusNotFound, "No such user", "There is no user with id "+id+".")
	case errors.Is(err, auth.ErrLastAdmin):
		h.renderUser(w, r, p, id, http.StatusConflict, func(f *userForm) {
			f.Error = "Disabling this user would leave no enabled admin."
		})
	default:
		h.serverError(w, r, err)
	}
}
