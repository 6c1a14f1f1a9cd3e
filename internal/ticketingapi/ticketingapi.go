// Package ticketingapi serves the ticketing service on the server's HTTP
// API under /api/v1/ticketing: merchants, events with their areas, staff
// and schedules, orders, refunds, payment methods, the dashboard and the
// inventory's audit. Routes follow the API's rules (principal, permission,
// problem answers); which merchants' data a caller sees is the ticketing
// service's scope (ScopeOf): every merchant for a holder of ticketing.admin,
// and for reading for a holder of ticketing.support, else the merchants the
// caller's user is a member of.
package ticketingapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/inventory"
)

// Users finds the user an API key acts for. *auth.Store implements it.
type Users interface {
	User(ctx context.Context, id string) (auth.User, error)
}

// Route is one route of the ticketing API.
type Route struct {
	Pattern string
	Perm    auth.Permission
	handle  api.HandlerFunc
}

// Prefix is where the ticketing API lives.
const Prefix = "/api/v1/ticketing"

type handler struct {
	a     *api.Server
	svc   *ticketing.Service
	users Users
	joins joinLimiter
}

// routes lists every route, in the order docs/api.md lists them.
func (h *handler) routes() []Route {
	read, manage, staff, sell, buy, admin := auth.PermTicketingRead, auth.PermTicketingManage, auth.PermTicketingStaff,
		auth.PermTicketingSell, auth.PermTicketingBuy, auth.PermTicketingAdmin
	return []Route{
		{"GET /merchants", read, h.listMerchants},
		{"POST /merchants", admin, h.createMerchant},
		{"GET /merchants/{id}", read, h.getMerchant},
		{"PUT /merchants/{id}", admin, h.updateMerchant},
		{"DELETE /merchants/{id}", admin, h.deleteMerchant},
		{"GET /merchants/{id}/members", admin, h.getMembers},
		{"PUT /merchants/{id}/members", admin, h.setMembers},
		{"GET /events", read, h.listEvents},
		{"POST /events", manage, h.createEvent},
		{"GET /events/{id}", read, h.getEvent},
		{"PUT /events/{id}", manage, h.updateEvent},
		{"DELETE /events/{id}", manage, h.deleteEvent},
		{"POST /events/{id}/submit", manage, h.submitEvent},
		{"POST /events/{id}/approve", admin, h.approveEvent},
		{"POST /events/{id}/reject", admin, h.rejectEvent},
		{"POST /events/{id}/go-live", admin, h.goLive},
		{"POST /events/{id}/cancel", admin, h.cancelEvent},
		{"GET /events/{id}/audit", admin, h.auditEvent},
		{"GET /events/{id}/waiting-room", read, h.getWaitroom},
		{"PUT /events/{id}/waiting-room", manage, h.setWaitroom},
		{"POST /events/{id}/waiting-room/join", "", h.joinWaitroom},
		{"POST /events/{id}/waiting-room/status", "", h.waitroomStatus},
		{"POST /events/{id}/areas", manage, h.addArea},
		{"PUT /events/{id}/areas/{area}", manage, h.updateArea},
		{"DELETE /events/{id}/areas/{area}", manage, h.deleteArea},
		{"GET /events/{id}/staff", read, h.listStaff},
		{"POST /events/{id}/staff", staff, h.addStaff},
		{"PUT /events/{id}/staff/{staff}", staff, h.updateStaff},
		{"DELETE /events/{id}/staff/{staff}", staff, h.deleteStaff},
		{"GET /events/{id}/schedules", read, h.listSchedules},
		{"POST /events/{id}/schedules", staff, h.addSchedule},
		{"PUT /events/{id}/schedules/{schedule}", staff, h.updateSchedule},
		{"DELETE /events/{id}/schedules/{schedule}", staff, h.deleteSchedule},
		{"GET /orders", read, h.listOrders},
		{"POST /orders", buy, h.placeOrder},
		{"GET /orders/{id}", read, h.getOrder},
		{"POST /orders/{id}/cancel", sell, h.cancelOrder},
		{"POST /orders/{id}/refunds", sell, h.requestRefund},
		{"GET /my/orders", buy, h.myOrders},
		{"GET /my/orders/{id}", buy, h.myOrder},
		{"GET /refunds", read, h.listRefunds},
		{"GET /refunds/{id}", read, h.getRefund},
		{"POST /refunds/{id}/approve", manage, h.approveRefund},
		{"POST /refunds/{id}/reject", manage, h.rejectRefund},
		{"GET /payment-methods", read, h.listMethods},
		{"POST /payment-methods", admin, h.createMethod},
		{"DELETE /payment-methods/{id}", admin, h.deleteMethod},
		{"GET /dashboard", admin, h.dashboard},
	}
}

// Register adds the ticketing routes to the API on mux. users finds the
// owners of API keys (nil: keys without ticketing.admin see no merchant),
// and, when it is a ClientAddresser, the clients the waiting room limits.
func Register(a *api.Server, mux *http.ServeMux, svc *ticketing.Service, users Users) {
	h := &handler{a: a, svc: svc, users: users}
	for _, rt := range h.routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		var perms []auth.Permission
		if rt.Perm != "" {
			perms = []auth.Permission{rt.Perm}
		}
		a.Route(mux, method+" "+Prefix+path, perms, rt.handle)
	}
}

// Routes returns every route's method and full path with its permission
// ("none" for the waiting room's buyer routes, which take no credentials),
// for the documentation test and the CLI's help.
func Routes() []string {
	h := &handler{}
	var out []string
	for _, rt := range h.routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		perm := string(rt.Perm)
		if perm == "" {
			perm = "none"
		}
		out = append(out, method+" "+Prefix+path+" "+perm)
	}
	return out
}

// Memberships finds the merchants a user acts for. *ticketing.Service
// implements it.
type Memberships interface {
	MerchantsOf(ctx context.Context, username string) ([]string, error)
}

// ScopeOf is which merchants' data the request's principal covers: the one
// rule of the ticketing, payment and gate APIs and of the console's
// ticketing pages. It is every merchant when
// the API runs without authentication, with ticketing.admin, and for
// reading (GET and HEAD) with ticketing.support; else the merchants its user, or
// its key's owner, is a member of, as members says. A key without an owner
// covers no merchant, nor does anyone but those holding every merchant
// when members is nil (the ticketing service, which keeps the memberships,
// does not run in this process).
func ScopeOf(r *http.Request, members Memberships, users Users) (ticketing.Scope, error) {
	p := auth.FromContext(r.Context())
	if p == nil || p.Can(auth.PermTicketingAdmin, "") || (r.Method == http.MethodGet || r.Method == http.MethodHead) && p.Can(auth.PermTicketingSupport, "") {
		return ticketing.Everything, nil
	}
	if members == nil {
		return ticketing.Scope{}, nil
	}
	username := p.User.Username
	if p.Key != nil {
		if p.Key.OwnerID == "" || users == nil {
			return ticketing.Scope{}, nil
		}
		u, err := users.User(r.Context(), p.Key.OwnerID)
		if err != nil {
			return ticketing.Scope{}, fmt.Errorf("ticketing api: owner of key %s: %w", p.Key.Prefix, err)
		}
		username = u.Username
	}
	merchants, err := members.MerchantsOf(r.Context(), username)
	if err != nil {
		return ticketing.Scope{}, err
	}
	return ticketing.Scope{Merchants: merchants}, nil
}

// scope is what the request's principal may see (ScopeOf).
func (h *handler) scope(r *http.Request) (ticketing.Scope, error) {
	return ScopeOf(r, h.svc, h.users)
}

// scopedCall runs call on the object the path's {id} names, in the
// caller's scope, and answers what it returns (200), or its error as a
// problem.
func scopedCall[T any](h *handler, w http.ResponseWriter, r *http.Request, call func(sc ticketing.Scope, id string) (T, error)) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	v, err := call(sc, id[0])
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusOK, v)
	return nil
}

// who names the principal in records (approver, requester).
func who(r *http.Request) string {
	if p := auth.FromContext(r.Context()); p != nil {
		return p.Name()
	}
	return "anonymous"
}

// Problem types of the ticketing API besides the API's own.
const (
	TypeSoldOut = "urn:arus:problem:sold-out"
)

// fail turns a ticketing error into a problem.
func fail(err error) error {
	var ve *invalid.Fields
	switch {
	case errors.Is(err, ticketing.ErrInvalid) && errors.As(err, &ve):
		return api.Coded(api.Invalid("the request has invalid fields", ve.List...), "body_invalid", ve.List[0].Name)
	case errors.Is(err, ticketing.ErrNotFound):
		return api.Refused(api.NotFound(strings.TrimPrefix(err.Error(), "ticketing: ")), err)
	case errors.Is(err, ticketing.ErrSoldOut):
		return api.Refused(&api.Problem{Type: TypeSoldOut, Title: "Sold out", Status: http.StatusConflict, Detail: strings.TrimPrefix(err.Error(), "ticketing: ")}, err)
	case errors.Is(err, ticketing.ErrConflict):
		return api.Refused(api.Conflict(strings.TrimPrefix(err.Error(), "ticketing: ")), err)
	case errors.Is(err, inventory.ErrBusy):
		return api.Refused(&api.Problem{Type: api.TypeUnavailable, Title: "Busy", Status: http.StatusServiceUnavailable,
			Detail: "the area is being written by many processes at once; try again"},
			invalid.Refuse(nil, "area_busy", "the area is being written by many processes at once; try again"))
	}
	return err
}

var idRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$`)

// ids returns the path values named, answering 404 (id_unknown) for one
// that cannot be an id.
func ids(r *http.Request, names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		v := r.PathValue(n)
		if !idRule.MatchString(v) {
			return nil, api.Refused(api.NotFound(fmt.Sprintf("no %s %q", n, v)), invalid.Refuse(nil, "id_unknown", "nothing has the id %s", v))
		}
		out[i] = v
	}
	return out, nil
}

// query checks the request's query parameters against allowed, and
// answers a 422 (query_unknown) naming each unknown one.
func query(r *http.Request, allowed ...string) error {
	var errs []invalid.Field
	var keys []string
	for k := range r.URL.Query() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			msg := "unknown query parameter; this route takes none"
			if len(allowed) > 0 {
				msg = fmt.Sprintf("unknown query parameter; use %q", allowed)
			}
			errs = append(errs, invalid.Field{Name: k, Message: msg})
		}
	}
	if len(errs) > 0 {
		names := make([]string, len(errs))
		for i, e := range errs {
			names[i] = e.Name
		}
		return api.InvalidCoded(invalid.Refuse(nil, "query_unknown", "unknown query parameter: %s", strings.Join(names, ", ")), errs...)
	}
	return nil
}

// oneOf checks an optional query value against a list.
func oneOf(field, v string, allowed []string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return api.InvalidCoded(invalid.Refuse(nil, "query_not_one_of", "query parameter %s: %s is not one of %s", field, v, strings.Join(allowed, ", ")),
		invalid.Field{Name: field, Message: fmt.Sprintf("%q is not one of %q", v, allowed)})
}

// reasonBody is the body of the routes that take only a reason.
type reasonBody struct {
	Reason string `json:"reason"`
}

func (h *handler) decodeReason(w http.ResponseWriter, r *http.Request) (string, error) {
	var b reasonBody
	if err := h.a.Decode(w, r, 64<<10, &b); err != nil {
		return "", err
	}
	return b.Reason, nil
}
