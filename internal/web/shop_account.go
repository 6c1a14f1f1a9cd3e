package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
)

type shopLogin struct {
	Username string
	Error    string
	// Signup offers the sign-up page.
	Signup bool
}

func (s *shop) loginForm(w http.ResponseWriter, r *http.Request) {
	if s.user(r) != nil {
		http.Redirect(w, r, "/shop/my", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "shop_login", "login.title", shopLogin{Signup: s.cfg.Customers != nil})
}

// login signs a customer in with the platform's accounts (the same
// throttling as the console's sign-in) and shows their orders.
func (s *shop) login(w http.ResponseWriter, r *http.Request) {
	d := shopLogin{Username: r.PostFormValue("username"), Signup: s.cfg.Customers != nil}
	ip := s.h.auth.ClientIP(r)
	user, err := s.h.auth.Authenticate(r.Context(), d.Username, r.PostFormValue("password"), ip)
	if err != nil {
		var te *auth.ThrottledError
		switch {
		case errors.As(err, &te):
			d.Error = translate(s.lang(r), "login.throttled")
			s.render(w, r, http.StatusTooManyRequests, "shop_login", "login.title", d)
		case errors.Is(err, auth.ErrInvalidCredentials), errors.Is(err, auth.ErrDisabled):
			d.Error = translate(s.lang(r), "login.wrong")
			s.render(w, r, http.StatusUnauthorized, "shop_login", "login.title", d)
		default:
			s.fail(w, r, err)
		}
		return
	}
	if err := s.h.startSession(w, r, user.ID, ip); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/shop/my", http.StatusSeeOther)
}

func (s *shop) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(auth.SessionCookie); err == nil {
		if err := s.h.auth.DeleteSession(r.Context(), c.Value); err != nil && !errors.Is(err, auth.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
	}
	s.h.clearCookie(w, r, auth.SessionCookie)
	http.Redirect(w, r, "/shop/", http.StatusSeeOther)
}

type myOrder struct {
	ticketing.Order
	Event ticketing.Event
	Link  string
}

// myOrders lists the orders the signed-in customer placed.
func (s *shop) myOrders(w http.ResponseWriter, r *http.Request) {
	u := s.user(r)
	if u == nil {
		http.Redirect(w, r, "/shop/login", http.StatusSeeOther)
		return
	}
	list, err := s.cfg.Ticketing.Orders(r.Context(), ticketing.Everything, ticketing.OrderFilter{BuyerUserID: u.ID})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	events := map[string]ticketing.Event{}
	var out []myOrder
	for _, o := range list {
		e, ok := events[o.EventID]
		if !ok {
			if e, err = s.cfg.Ticketing.Event(r.Context(), ticketing.Everything, o.EventID); err != nil {
				s.fail(w, r, err)
				return
			}
			events[o.EventID] = e
		}
		out = append(out, myOrder{Order: o, Event: e, Link: s.orderLink(o.ID)})
	}
	s.render(w, r, http.StatusOK, "shop_my", "my.title", out)
}

type shopSignup struct {
	Name, Email, Phone, Lang string
	Errors                   map[string]string
	Error                    string
}

func (s *shop) signupForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "shop_signup", "signup.title", shopSignup{Lang: s.lang(r)})
}

// signup creates a customer account; the confirmation link goes out by
// e-mail, and the account signs in once confirmed.
func (s *shop) signup(w http.ResponseWriter, r *http.Request) {
	lang := s.lang(r)
	d := shopSignup{Name: strings.TrimSpace(r.PostFormValue("name")), Email: strings.TrimSpace(r.PostFormValue("email")),
		Phone: strings.TrimSpace(r.PostFormValue("phone")), Lang: r.PostFormValue("lang"), Errors: map[string]string{}}
	if d.Lang != "en" {
		d.Lang = "id"
	}
	u, err := s.cfg.Customers.Register(r.Context(), auth.NewCustomer{Name: d.Name, Email: d.Email, Phone: d.Phone,
		Password: r.PostFormValue("password"), Lang: d.Lang})
	var fields *invalid.Fields
	switch {
	case err == nil:
		s.render(w, r, http.StatusCreated, "shop_message", "signup.title", shopMessage{
			Heading: translate(lang, "signup.done"), Text: translate(lang, "signup.confirm", u.Email, u.Username)})
		return
	case errors.As(err, &fields):
		for _, fe := range fields.List {
			d.Errors[fe.Name] = fe.Message
			if _, known := shopText["signup.err."+fe.Name]; known {
				d.Errors[fe.Name] = translate(lang, "signup.err."+fe.Name)
			}
		}
		d.Error = translate(lang, "checkout.errors")
	case errors.Is(err, auth.ErrEmailTaken), errors.Is(err, auth.ErrUsernameTaken):
		d.Errors["email"] = translate(lang, "signup.taken")
		d.Error = translate(lang, "checkout.errors")
	default:
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusUnprocessableEntity, "shop_signup", "signup.title", d)
}
