package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/ticketing"
)

// Merchants and the platform's payment methods.

type tkMerchantsData struct {
	All       bool // the scope covers every merchant
	Merchants []ticketing.Merchant
	Types     []string
	Form      ticketing.MerchantInput
	Errors    map[string]string
}

func (h *Handler) tkMerchants(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.tkMerchantsPage(w, r, sc, http.StatusOK, tkMerchantsData{Form: ticketing.MerchantInput{Type: "organizer"}})
}

func (h *Handler) tkMerchantsPage(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, status int, d tkMerchantsData) {
	ms, err := h.cfg.Ticketing.Merchants(r.Context(), sc)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.All, d.Merchants, d.Types = sc.All, ms, ticketing.MerchantTypes
	h.render(w, r, status, "tk_merchants", view{Data: d})
}

func merchantForm(r *http.Request) ticketing.MerchantInput {
	return ticketing.MerchantInput{Name: strings.TrimSpace(r.PostFormValue("name")), Type: r.PostFormValue("type")}
}

func (h *Handler) tkCreateMerchant(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	in := merchantForm(r)
	m, err := h.cfg.Ticketing.CreateMerchant(r.Context(), in)
	if errs := fieldErrors(err); errs != nil {
		h.tkMerchantsPage(w, r, sc, http.StatusUnprocessableEntity, tkMerchantsData{Form: in, Errors: errs})
		return
	}
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/merchants/"+m.ID+"?ok=tk-created", http.StatusSeeOther)
}

type tkMerchantData struct {
	Merchant ticketing.Merchant
	Types    []string
	Form     ticketing.MerchantInput
	Members  string
	Events   []ticketing.Event
	Errors   map[string]string
}

func (h *Handler) tkMerchant(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.tkMerchantPage(w, r, p, sc, http.StatusOK, nil, nil)
}

func (h *Handler) tkMerchantPage(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope, status int, form *ticketing.MerchantInput, errs map[string]string) {
	ctx := r.Context()
	m, err := h.cfg.Ticketing.Merchant(ctx, sc, r.PathValue("id"))
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	d := tkMerchantData{Merchant: m, Types: ticketing.MerchantTypes, Form: ticketing.MerchantInput{Name: m.Name, Type: m.Type}, Errors: errs}
	if form != nil {
		d.Form = *form
	}
	if p.Can(auth.PermTicketingAdmin, "") {
		members, err := h.cfg.Ticketing.Members(ctx, m.ID)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		d.Members = strings.Join(members, ", ")
	}
	if d.Events, err = h.cfg.Ticketing.Events(ctx, sc, ticketing.EventFilter{MerchantID: m.ID}); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, status, "tk_merchant", view{Data: d})
}

func (h *Handler) tkUpdateMerchant(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	in := merchantForm(r)
	m, err := h.cfg.Ticketing.UpdateMerchant(r.Context(), sc, r.PathValue("id"), in)
	if errs := fieldErrors(err); errs != nil {
		h.tkMerchantPage(w, r, p, sc, http.StatusUnprocessableEntity, &in, errs)
		return
	}
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/merchants/"+m.ID+"?ok=tk-saved", http.StatusSeeOther)
}

func (h *Handler) tkSetMembers(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	id := r.PathValue("id")
	if _, err := h.cfg.Ticketing.Merchant(r.Context(), sc, id); err != nil {
		h.tkFail(w, r, err)
		return
	}
	var names []string
	for _, n := range strings.FieldsFunc(r.PostFormValue("members"), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' }) {
		names = append(names, strings.ToLower(n))
	}
	for _, n := range names {
		if _, err := h.auth.UserByUsername(r.Context(), n); errors.Is(err, auth.ErrNotFound) {
			h.tkMerchantPage(w, r, p, sc, http.StatusUnprocessableEntity, nil, map[string]string{"members": "no user named " + n})
			return
		} else if err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	if err := h.cfg.Ticketing.SetMembers(r.Context(), id, names); err != nil {
		if errs := fieldErrors(err); errs != nil {
			h.tkMerchantPage(w, r, p, sc, http.StatusUnprocessableEntity, nil, errs)
			return
		}
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/merchants/"+id+"?ok=tk-saved", http.StatusSeeOther)
}

func (h *Handler) tkDeleteMerchant(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	id := r.PathValue("id")
	m, err := h.cfg.Ticketing.Merchant(r.Context(), sc, id)
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	if !h.confirmed(w, r, confirmData{Title: tkT(r, "tk.deletemerchant.title", m.Name), Action: "/ticketing/merchants/" + id + "/delete", Button: tkT(r, "tk.deletemerchant.button"),
		Cancel:  "/ticketing/merchants/" + id,
		Message: tkT(r, "tk.deletemerchant.msg", m.Name)}) {
		return
	}
	if err := h.cfg.Ticketing.DeleteMerchant(r.Context(), id); err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/merchants?ok=tk-deleted", http.StatusSeeOther)
}

type tkMethodsData struct {
	Methods []ticketing.PaymentMethod
	Name    string
	Errors  map[string]string
}

func (h *Handler) tkMethods(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.tkMethodsPage(w, r, http.StatusOK, tkMethodsData{})
}

func (h *Handler) tkMethodsPage(w http.ResponseWriter, r *http.Request, status int, d tkMethodsData) {
	ms, err := h.cfg.Ticketing.PaymentMethods(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Methods = ms
	h.render(w, r, status, "tk_methods", view{Data: d})
}

func (h *Handler) tkCreateMethod(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	_, err := h.cfg.Ticketing.CreatePaymentMethod(r.Context(), name)
	if errs := fieldErrors(err); errs != nil {
		h.tkMethodsPage(w, r, http.StatusUnprocessableEntity, tkMethodsData{Name: name, Errors: errs})
		return
	}
	if errors.Is(err, ticketing.ErrConflict) {
		h.tkMethodsPage(w, r, http.StatusConflict, tkMethodsData{Name: name, Errors: map[string]string{"name": refusalMsg(pageLang(r), err)}})
		return
	}
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/payment-methods?ok=tk-created", http.StatusSeeOther)
}

func (h *Handler) tkDeleteMethod(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	id := r.PathValue("id")
	if !h.confirmed(w, r, confirmData{Title: tkT(r, "tk.deletemethod.title"), Action: "/ticketing/payment-methods/" + id + "/delete", Button: tkT(r, "tk.delete"),
		Cancel: "/ticketing/payment-methods", Message: tkT(r, "tk.deletemethod.msg")}) {
		return
	}
	if err := h.cfg.Ticketing.DeletePaymentMethod(r.Context(), id); err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/payment-methods?ok=tk-deleted", http.StatusSeeOther)
}
