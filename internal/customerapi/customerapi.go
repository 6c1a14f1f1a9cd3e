// Package customerapi serves customer sign-up (auth.Customers) on the
// server's HTTP API under /api/v1/customers. The routes need no
// credentials: they are how a buyer gets an account.
package customerapi

import (
	"errors"
	"net/http"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
)

// bodyLimit bounds a request body.
const bodyLimit = 16 << 10

// ConfirmPath is the route a confirmation link opens.
const ConfirmPath = "/api/v1/customers/confirm"

// Register adds the sign-up routes to mux, served by a:
//
//	POST /api/v1/customers                  sign up; the link goes out by e-mail
//	GET  /api/v1/customers/confirm?token=   confirm, from the link
//	POST /api/v1/customers/confirm/resend   send the link again
//
// docs/api.md describes each.
func Register(a *api.Server, mux *http.ServeMux, cs *auth.Customers) {
	h := &handler{a: a, cs: cs}
	a.Route(mux, "POST /api/v1/customers", nil, h.register)
	a.Route(mux, "GET "+ConfirmPath, nil, h.confirm)
	a.Route(mux, "POST "+ConfirmPath+"/resend", nil, h.resend)
}

type handler struct {
	a  *api.Server
	cs *auth.Customers
}

// SignUp is the body of POST /api/v1/customers.
type SignUp struct {
	// Username is optional; the default is made from the e-mail address.
	Username string `json:"username,omitempty"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Phone    string `json:"phone,omitempty"`
	Password string `json:"password"`
	// Lang of the confirmation message: id (default) or en.
	Lang string `json:"lang,omitempty"`
}

// Account answers a sign-up and a confirmation.
type Account struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Confirmed bool   `json:"confirmed"`
}

func account(u auth.User) Account {
	return Account{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, Confirmed: u.Confirmed}
}

// problem turns auth's errors into problems.
func problem(err error) error {
	var ve *invalid.Fields
	switch {
	case errors.As(err, &ve):
		errs := ve.List
		detail := errs[0].Name + ": " + errs[0].Message
		if len(errs) > 1 {
			detail += " (and more; see errors)"
		}
		return api.Coded(api.Invalid(detail, errs...), "body_invalid", errs[0].Name)
	case errors.Is(err, auth.ErrEmailTaken):
		return api.Coded(api.Conflict(err.Error()+"; sign in, or ask for the confirmation link again"), "email_taken")
	case errors.Is(err, auth.ErrUsernameTaken):
		return api.Coded(api.Conflict(err.Error()+"; sign in, or ask for the confirmation link again"), "username_taken")
	case errors.Is(err, auth.ErrBadToken):
		return api.Coded(api.Invalid("token: the confirmation link is not valid", invalid.Field{Name: "token", Message: "is not a valid confirmation token"}),
			"confirmation_token_invalid")
	case errors.Is(err, auth.ErrExpired):
		return api.Coded(&api.Problem{Type: api.TypeInvalid, Title: "Invalid request", Status: http.StatusGone,
			Detail: "the confirmation link expired; ask for a new one at " + ConfirmPath + "/resend"}, "confirmation_expired")
	}
	return err
}

// noQuery refuses query parameters on a route that takes none.
func noQuery(r *http.Request) error {
	for name := range r.URL.Query() {
		return api.Coded(api.Invalid(name+": this route takes no query parameters", invalid.Field{Name: name, Message: "is not a parameter of this route"}), "query_unknown", name)
	}
	return nil
}

func (h *handler) register(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in SignUp
	if err := h.a.Decode(w, r, bodyLimit, &in); err != nil {
		return err
	}
	u, err := h.cs.Register(r.Context(), auth.NewCustomer{Username: in.Username, Name: in.Name, Email: in.Email,
		Phone: in.Phone, Password: in.Password, Lang: in.Lang})
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusCreated, account(u))
	return nil
}

func (h *handler) confirm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if len(q) != 1 || len(q["token"]) != 1 || q.Get("token") == "" {
		return api.Coded(api.Invalid("token: give the confirmation token, once, as the only query parameter",
			invalid.Field{Name: "token", Message: "is required, once, as the only query parameter"}), "query_invalid", "token")
	}
	u, err := h.cs.Confirm(r.Context(), q.Get("token"))
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, account(u))
	return nil
}

// Resend is the body of POST /api/v1/customers/confirm/resend.
type Resend struct {
	Email string `json:"email"`
	Lang  string `json:"lang,omitempty"`
}

// resend answers 202 whether or not the address has an account waiting,
// so the route does not tell who has one.
func (h *handler) resend(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var in Resend
	if err := h.a.Decode(w, r, bodyLimit, &in); err != nil {
		return err
	}
	if in.Email == "" {
		return api.Coded(api.Invalid("email: is required", invalid.Field{Name: "email", Message: "is required"}), "body_invalid", "email")
	}
	if in.Lang != "" && in.Lang != "id" && in.Lang != "en" {
		return api.Coded(api.Invalid("lang: use id or en", invalid.Field{Name: "lang", Message: "use id or en"}), "body_invalid", "lang")
	}
	if err := h.cs.Resend(r.Context(), in.Email, in.Lang); err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "if an account waits for confirmation at this address, a new link is on its way"})
	return nil
}
