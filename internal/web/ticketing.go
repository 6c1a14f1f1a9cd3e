package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/ticketingapi"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/payment"
)

// The ticketing pages (files ticketing_*.go, templates tk_*.html) are the
// e-ticketing console: the platform's admins see every merchant, internal
// staff read every merchant's data and change nothing, everybody else sees
// the merchants they are a member of, as the ticketing API scopes them
// (ticketingapi.ScopeOf); another merchant's data answers 404, as an
// unknown id does.

// tkHandler is a ticketing page: a console page that also gets the
// caller's ticketing scope.
type tkHandler func(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope)

// tkRoute is one ticketing page or form and the permission it needs.
type tkRoute struct {
	pattern string
	perm    auth.Permission
	next    tkHandler
}

// registerTicketing adds the ticketing pages. handle is Register's.
func (h *Handler) registerTicketing(handle func(string, http.Handler)) {
	for _, rt := range h.ticketingRoutes() {
		handle(rt.pattern, h.page(rt.perm, h.scoped(rt.next)))
	}
}

// ticketingRoutes lists the ticketing pages that exist with the services
// configured: the counter needs the payment service, the gates pages the
// gate service.
func (h *Handler) ticketingRoutes() []tkRoute {
	read, manage, sell, admin := auth.PermTicketingRead, auth.PermTicketingManage, auth.PermTicketingSell, auth.PermTicketingAdmin
	routes := []tkRoute{
		{"GET /ticketing", admin, h.tkDashboard},
		{"GET /ticketing/dashboard/events", admin, h.tkDashboardEvents},
		{"GET /ticketing/merchants", read, h.tkMerchants},
		{"POST /ticketing/merchants", admin, h.tkCreateMerchant},
		{"GET /ticketing/merchants/{id}", read, h.tkMerchant},
		{"POST /ticketing/merchants/{id}", admin, h.tkUpdateMerchant},
		{"POST /ticketing/merchants/{id}/members", admin, h.tkSetMembers},
		{"POST /ticketing/merchants/{id}/delete", admin, h.tkDeleteMerchant},
		{"GET /ticketing/events", read, h.tkEvents},
		{"GET /ticketing/events/new", manage, h.tkNewEvent},
		{"POST /ticketing/events", manage, h.tkSaveEvent},
		{"GET /ticketing/events/{id}", read, h.tkEvent},
		{"GET /ticketing/events/{id}/edit", manage, h.tkEditEvent},
		{"GET /ticketing/events/{id}/live", read, h.tkEventLive},
		{"POST /ticketing/events/{id}", manage, h.tkSaveEvent},
		{"POST /ticketing/events/{id}/delete", manage, h.tkDeleteEvent},
		{"POST /ticketing/events/{id}/areas", manage, h.tkAddArea},
		{"POST /ticketing/events/{id}/areas/{area}/delete", manage, h.tkDeleteArea},
		{"POST /ticketing/events/{id}/submit", manage, h.tkSubmitEvent},
		{"POST /ticketing/events/{id}/approve", admin, h.tkApproveEvent},
		{"POST /ticketing/events/{id}/reject", admin, h.tkRejectEvent},
		{"POST /ticketing/events/{id}/go-live", admin, h.tkGoLive},
		{"POST /ticketing/events/{id}/cancel", admin, h.tkCancelEvent},
		{"GET /ticketing/events/{id}/staff", read, h.tkEventStaff},
		{"POST /ticketing/events/{id}/staff", manage, h.tkAddStaff},
		{"GET /ticketing/events/{id}/staff/{staff}", read, h.tkStaffMember},
		{"POST /ticketing/events/{id}/staff/{staff}", manage, h.tkUpdateStaff},
		{"POST /ticketing/events/{id}/staff/{staff}/delete", manage, h.tkDeleteStaff},
		{"POST /ticketing/events/{id}/schedules", manage, h.tkAddSchedule},
		{"POST /ticketing/events/{id}/schedules/{schedule}", manage, h.tkUpdateSchedule},
		{"POST /ticketing/events/{id}/schedules/{schedule}/delete", manage, h.tkDeleteSchedule},
		{"GET /ticketing/schedules", read, h.tkSchedules},
		{"GET /ticketing/staff", read, h.tkStaff},
		{"POST /ticketing/staff/{user}", auth.PermUsersWrite, h.tkSetStaffFlags},
		{"GET /ticketing/orders", read, h.tkOrders},
		{"GET /ticketing/orders/{id}", read, h.tkOrder},
		{"POST /ticketing/orders/{id}/cancel", sell, h.tkCancelOrder},
		{"POST /ticketing/orders/{id}/refunds", sell, h.tkRequestRefund},
		{"GET /ticketing/refunds", read, h.tkRefunds},
		{"POST /ticketing/refunds/{id}/approve", manage, h.tkApproveRefund},
		{"POST /ticketing/refunds/{id}/reject", manage, h.tkRejectRefund},
		{"GET /ticketing/payment-methods", read, h.tkMethods},
		{"POST /ticketing/payment-methods", admin, h.tkCreateMethod},
		{"POST /ticketing/payment-methods/{id}/delete", admin, h.tkDeleteMethod},
	}
	if h.cfg.Payments != nil {
		routes = append(routes,
			tkRoute{"GET /ticketing/counter", auth.PermPaymentCash, h.tkCounter},
			tkRoute{"POST /ticketing/counter/{order}/cash", auth.PermPaymentCash, h.tkTakeCash},
			tkRoute{"GET /ticketing/counter/{order}/tickets", auth.PermPaymentCash, h.tkPrintTickets})
	}
	if h.cfg.Gate != nil {
		routes = append(routes,
			tkRoute{"GET /ticketing/gates", auth.PermGateRead, h.tkGates},
			tkRoute{"GET /ticketing/gates/{event}", auth.PermGateRead, h.tkGate},
			tkRoute{"GET /ticketing/gates/{event}/events", auth.PermGateRead, h.tkGateEvents},
			tkRoute{"POST /ticketing/gates/{event}/enrolments", auth.PermGateManage, h.tkEnrol})
	}
	return routes
}

// scoped finds the caller's ticketing scope before next, by the rule of
// the ticketing API (ticketingapi.ScopeOf) on the principal page put in
// the request: every merchant with ticketing.admin, and for reading (GET)
// with ticketing.support; else the merchants p's user is a member of.
func (h *Handler) scoped(next tkHandler) func(http.ResponseWriter, *http.Request, *auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		sc, err := ticketingapi.ScopeOf(r, h.cfg.Ticketing, h.auth)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		next(w, r, p, sc)
	}
}

// tkFail answers an error of the ticketing or payment service: not found
// (or another merchant's) is 404, a state that forbids the action 409 with
// the reason, an input error 422 with its fields, each in the page's
// language; anything else is a server error.
func (h *Handler) tkFail(w http.ResponseWriter, r *http.Request, err error) {
	lang := pageLang(r)
	switch {
	case errors.Is(err, ticketing.ErrNotFound), errors.Is(err, payment.ErrNotFound):
		h.renderStatus(w, r, http.StatusNotFound, tkT(r, "tk.fail.notfound"), tkT(r, "tk.fail.notfound.text"))
	case errors.Is(err, ticketing.ErrConflict), errors.Is(err, ticketing.ErrSoldOut), errors.Is(err, payment.ErrState):
		h.renderStatus(w, r, http.StatusConflict, tkT(r, "tk.fail.conflict"), refusalMsg(lang, err))
	case errors.Is(err, ticketing.ErrForbidden):
		h.renderStatus(w, r, http.StatusForbidden, tkT(r, "tk.fail.forbidden"), refusalMsg(lang, err))
	case fieldErrors(err) != nil:
		h.renderStatus(w, r, http.StatusUnprocessableEntity, tkT(r, "tk.fail.invalid"), fieldsMsg(lang, err))
	default:
		h.serverError(w, r, err)
	}
}

// fieldsMsg is every field error of err, in lang: "field: message; …".
func fieldsMsg(lang string, err error) string {
	var fe *invalid.Fields
	if !errors.As(err, &fe) {
		return tkReason(err)
	}
	parts := make([]string, len(fe.List))
	for i, f := range fe.List {
		parts[i] = f.Name + ": " + view{Lang: lang}.FieldMsg(f.Message)
	}
	return strings.Join(parts, "; ")
}

// tkReason is an error's text without the package prefix.
func tkReason(err error) string {
	s := err.Error()
	for _, p := range []string{"ticketing: conflict: ", "ticketing: sold out: ", "ticketing: forbidden: ", "ticketing: ", "payment: ", "gate: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// tkFlashes are the ticketing pages' notices (?ok=<code>), whose texts
// are tk.flash.<code>.
var tkFlashes = map[string]bool{"tk-created": true, "tk-saved": true, "tk-deleted": true, "tk-submitted": true,
	"tk-approved": true, "tk-rejected": true, "tk-canceled": true, "tk-golive": true, "tk-requested": true,
	"tk-refund-ok": true, "tk-refund-no": true, "tk-paid": true}

// ticketingFuncs are the template functions of the ticketing pages.
var ticketingFuncs = template.FuncMap{
	"idr":        formatIDR,
	"eventPill":  eventPill,
	"orderPill":  orderPill,
	"goLivePill": goLivePill,
	"localInput": func(t time.Time, tz string) string {
		if t.IsZero() {
			return ""
		}
		return t.In(zone(tz)).Format("2006-01-02T15:04")
	},
	"add":    func(a, b int) int { return a + b },
	"mulIDR": func(price int64, n int) int64 { return price * int64(n) },
}

// formatIDR writes whole rupiah as Indonesians read them: Rp 1.500.000.
func formatIDR(v int64) string {
	return "Rp " + strings.ReplaceAll(formatNum(v), ",", ".")
}

// zones caches the time zones pages show times in: loading one reads the
// zone database, and a page of orders shows hundreds of times.
var zones sync.Map // name → *time.Location

// zone is the time zone named tz, or Asia/Jakarta when tz is not one.
func zone(tz string) *time.Location {
	if loc, ok := zones.Load(tz); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" {
		if loc, err = time.LoadLocation(ticketing.DefaultTimeZone); err != nil {
			loc = time.UTC
		}
	}
	zones.Store(tz, loc)
	return loc
}

var idMonths = [...]string{"Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"}

// formatWhen writes a time as the original does, "18 Mar, 2023 18:20", in
// the event's time zone with its abbreviation, with Indonesian month names
// unless lang is "en".
func formatWhen(lang string, t time.Time, tz string) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(zone(tz))
	month := t.Format("Jan")
	if lang != "en" {
		month = idMonths[t.Month()-1]
	}
	return strconv.Itoa(t.Day()) + " " + month + t.Format(", 2006 15:04 MST")
}

// eventPill is the pill colour of an event state.
func eventPill(status string) string {
	switch status {
	case ticketing.StatusOnSale, ticketing.StatusApproved:
		return "ok"
	case ticketing.StatusWaitingForApproval, ticketing.StatusDraft:
		return "warn"
	case ticketing.StatusCanceled, ticketing.StatusExpired:
		return "bad"
	}
	return "info"
}

// goLivePill is the pill colour of a go-live saga's state.
func goLivePill(state string) string {
	switch state {
	case "completed":
		return "ok"
	case "running", "":
		return "info"
	}
	return "bad"
}

// orderPill is the pill colour of an order or refund state.
func orderPill(status string) string {
	switch status {
	case ticketing.OrderValidated, ticketing.RefundRefunded, ticketing.RefundApproved:
		return "ok"
	case ticketing.OrderPending, ticketing.RefundRequested, ticketing.OrderPartiallyRefunded:
		return "warn"
	case ticketing.OrderExpired, ticketing.OrderCanceled, ticketing.RefundRejected:
		return "bad"
	}
	return "info"
}

// formTime reads a datetime-local field in the time zone tz; "" is the
// zero time, which the service reports as missing.
func formTime(r *http.Request, field, tz string) (time.Time, error) {
	v := strings.TrimSpace(r.PostFormValue(field))
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, zone(tz)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time such as 2026-03-20T18:30", v)
}

// formInt reads a whole number field; errs gets the field's error.
func formInt(r *http.Request, field string, errs map[string]string) int64 {
	v := strings.ReplaceAll(strings.TrimSpace(r.PostFormValue(field)), ".", "")
	v = strings.ReplaceAll(v, ",", "")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		errs[field] = fmt.Sprintf("%q is not a whole number", r.PostFormValue(field))
	}
	return n
}

// mergeErrors adds the service's field errors to the form's own.
func mergeErrors(own map[string]string, err error) map[string]string {
	for k, v := range fieldErrors(err) {
		if _, ok := own[k]; !ok {
			own[k] = v
		}
	}
	return own
}
