// Package gateapi serves the gate access-control service (package
// ticketing/gate) on the server's HTTP API under /api/v1/gate: the
// operators' routes (gates, lists, keys, devices, counts) and the scanning
// devices' routes (enrol, redeem, bundle, changes, upload).
package gateapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gate"
)

// Keys creates and revokes the API keys devices authenticate with.
type Keys interface {
	CreateAPIKey(ctx context.Context, nk auth.NewAPIKey) (auth.APIKey, string, error)
	RevokeAPIKey(ctx context.Context, id string) error
}

type handler struct {
	a     *api.Server
	g     *gate.Service
	keys  Keys
	scope func(*http.Request) (ticketing.Scope, error)
}

// Register adds the gate's routes to mux, served by a under the rules of
// every /api/v1 route. Every route below /api/v1/gate/events/{event} may be
// narrowed to the event by a scope ("gate.scan:EVENT"):
//
//	GET    /api/v1/gate/events/{event}                          server, keys, gates, lists   gate.read
//	PUT    /api/v1/gate/events/{event}/gates/{gate}             create or replace a gate     gate.manage
//	PUT    /api/v1/gate/events/{event}/lists/{list}             create or replace a list     gate.manage
//	POST   /api/v1/gate/events/{event}/keys                     rotate the signing key       gate.manage
//	DELETE /api/v1/gate/events/{event}/keys/{key}               retire an inactive key       gate.manage
//	POST   /api/v1/gate/events/{event}/passes/{pass}/block      block a pass                 gate.manage
//	POST   /api/v1/gate/events/{event}/passes/{pass}/unblock    unblock a pass               gate.manage
//	GET    /api/v1/gate/events/{event}/counts                   live counts                  gate.read
//	GET    /api/v1/gate/events/{event}/flagged                  conflicting scans            gate.read
//	GET    /api/v1/gate/events/{event}/devices                  devices                      gate.read
//	POST   /api/v1/gate/events/{event}/enrolments               one-time enrolment code      gate.manage
//	DELETE /api/v1/gate/events/{event}/devices/{device}         revoke a device              gate.manage
//	POST   /api/v1/gate/enrol                                   code → device and API key    (the code)
//	POST   /api/v1/gate/events/{event}/redeem                   scan                         gate.scan
//	POST   /api/v1/gate/events/{event}/passes/{pass}/admit      admit a pass by its id       gate.override
//	POST   /api/v1/gate/events/{event}/upload                   offline scans                gate.scan
//	GET    /api/v1/gate/events/{event}/bundle                   offline bundle               gate.scan
//	GET    /api/v1/gate/events/{event}/changes                  changes after a position     gate.scan
//	GET    /api/v1/gate/events/{event}/passes                   search the access list       gate.search
//	POST   /api/v1/gate/events/{event}/rebuild                  rebuild the event's list     gate.manage
//	POST   /api/v1/gate/rebuild                                 rebuild the access list      gate.manage
//	GET    /api/v1/gate/orders/{order}/passes                   the order's signed passes    ticketing.buy (its buyer)
//
// The scanning routes (redeem, admit, upload, bundle, changes, passes) confine an
// enrolled device to its event and, for scans, its gate; an API key that is
// not a device's uses them only with gate.manage for the event (an operator
// of it): a key holding gate.scan alone scans nowhere. A signed-in session
// scans as its roles allow.
//
// Every route of an event is also confined to the events of the merchants
// the caller acts for, as scope gives them for the request (every
// merchant's for the platform's admins): another merchant's event answers
// 404, as an unknown one does. A key of its own narrowed to the event by
// its scopes, as a device's key always is, was given that event and
// passes; a user's key reaches no further than its owner. Rebuilding every
// event's list needs every merchant.
func Register(a *api.Server, mux *http.ServeMux, g *gate.Service, keys Keys, scope func(*http.Request) (ticketing.Scope, error)) {
	h := &handler{a: a, g: g, keys: keys, scope: scope}
	read := []auth.Permission{auth.PermGateRead}
	manage := []auth.Permission{auth.PermGateManage}
	scan := []auth.Permission{auth.PermGateScan}
	event := func(method, path string, perms []auth.Permission, next api.HandlerFunc) {
		a.Route(mux, method+" /api/v1/gate/events/{event}"+path, perms, h.confined(next))
	}
	event("GET", "", read, h.server)
	event("PUT", "/gates/{gate}", manage, h.putGate)
	event("PUT", "/lists/{list}", manage, h.putList)
	event("POST", "/keys", manage, h.rotate)
	event("DELETE", "/keys/{key}", manage, h.retire)
	event("POST", "/passes/{pass}/block", manage, h.block)
	event("POST", "/passes/{pass}/unblock", manage, h.unblock)
	event("GET", "/counts", read, h.counts)
	event("GET", "/flagged", read, h.flagged)
	event("GET", "/devices", read, h.devices)
	event("POST", "/enrolments", manage, h.enrolment)
	event("DELETE", "/devices/{device}", manage, h.revokeDevice)
	a.Route(mux, "POST /api/v1/gate/enrol", nil, h.enrol)
	event("POST", "/redeem", scan, h.redeem)
	event("POST", "/passes/{pass}/admit", []auth.Permission{auth.PermGateOverride}, h.admit)
	event("POST", "/upload", scan, h.upload)
	event("GET", "/bundle", scan, h.bundle)
	event("GET", "/changes", scan, h.changes)
	event("GET", "/passes", []auth.Permission{auth.PermGateSearch}, h.search)
	event("POST", "/rebuild", manage, h.rebuildEvent)
	a.Route(mux, "POST /api/v1/gate/rebuild", manage, h.rebuild)
	a.Route(mux, "GET /api/v1/gate/orders/{order}/passes", []auth.Permission{auth.PermTicketingBuy}, h.orderPasses)
}

// problem maps the gate's errors onto problems.
func problem(err error) error {
	var fe *invalid.Fields
	switch {
	case errors.Is(err, gate.ErrInvalid) && errors.As(err, &fe):
		return api.Coded(api.Invalid("the request is not valid", fe.List...), "body_invalid", fe.List[0].Name)
	case errors.Is(err, gate.ErrNotFound):
		return api.Refused(api.NotFound(err.Error()), err)
	case errors.Is(err, gate.ErrBadCode):
		return api.Refused(&api.Problem{Type: api.TypeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: err.Error()},
			invalid.Refuse(nil, "enrolment_code_unknown", "the code is unknown, already used or expired; ask an operator for a new one"))
	}
	return err
}

// forbidden is a 403 problem of a refusal (invalid.Refuse with no kind),
// with its code and values.
func forbidden(refusal error) error {
	return api.Refused(&api.Problem{Type: api.TypeForbidden, Title: "Forbidden", Status: http.StatusForbidden, Detail: refusal.Error()}, refusal)
}

// noQuery refuses query parameters on routes that take none.
func noQuery(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return api.InvalidCoded(invalid.Refuse(nil, "query_unknown", "unknown query parameter: %s", k),
				invalid.Field{Name: k, Message: "is not a parameter of this route"})
		}
	}
	return nil
}

// confined lets next answer for the path's event only when the caller
// covers it: a key of its own narrowed to the event by one of its gate
// scopes, or a caller whose scope holds the event's merchant. Any other
// event is not found, whether or not it exists.
func (h *handler) confined(next api.HandlerFunc) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ev := r.PathValue("event")
		if p := auth.FromContext(r.Context()); p != nil && p.Key != nil && p.Key.OwnerID == "" && namesEvent(*p.Key, ev) {
			return next(w, r)
		}
		sc, err := h.scope(r)
		if err != nil {
			return err
		}
		if !sc.All {
			es, err := h.g.Server(r.Context(), ev)
			if err == nil && !sc.Allows(es.MerchantID) {
				err = invalid.Refuse(gate.ErrNotFound, "no_gate_server", "no access-control server for event %s", ev)
			}
			if err != nil {
				return problem(err)
			}
		}
		return next(w, r)
	}
}

// namesEvent reports whether one of the key's gate scopes is narrowed to
// the event.
func namesEvent(k auth.APIKey, event string) bool {
	return slices.ContainsFunc(k.Scopes, func(sc string) bool {
		p, res, err := auth.ParseScope(sc)
		return err == nil && res == event && strings.HasPrefix(string(p), "gate.")
	})
}

// scanner returns the device behind the request's API key, refusing a
// revoked device or one of another event; an API key that is no device's
// passes (with a nil device) only when it holds gate.manage for the event.
// A session passes as its roles allow.
func (h *handler) scanner(r *http.Request) (*gate.Device, error) {
	d, err := h.device(r)
	if err != nil || d != nil {
		return d, err
	}
	if p := auth.FromContext(r.Context()); p != nil && p.Key != nil && !p.Can(auth.PermGateManage, r.PathValue("event")) {
		return nil, forbidden(invalid.Refuse(nil, "key_not_device", "an API key scans only as an enrolled device of this event, or with gate.manage for it"))
	}
	return nil, nil
}

// device returns the device behind the request's API key, if it is one,
// refusing a revoked device or one of another event.
func (h *handler) device(r *http.Request) (*gate.Device, error) {
	p := auth.FromContext(r.Context())
	if p == nil || p.Key == nil {
		return nil, nil
	}
	d, err := h.g.DeviceByKey(r.Context(), p.Key.ID)
	if errors.Is(err, gate.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if d.Revoked {
		return nil, api.Refused(&api.Problem{Type: api.TypeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: "the device was revoked"},
			invalid.Refuse(nil, "device_revoked", "the device was revoked"))
	}
	if d.EventID != r.PathValue("event") {
		return nil, forbidden(invalid.Refuse(nil, "device_other_event", "the device belongs to event %s", d.EventID))
	}
	return &d, nil
}

func (h *handler) server(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	ctx, ev := r.Context(), r.PathValue("event")
	es, err := h.g.Server(ctx, ev)
	if err != nil {
		return problem(err)
	}
	keys, err := h.g.PublicKeys(ctx, ev)
	if err != nil {
		return err
	}
	gates, err := h.g.Gates(ctx, ev)
	if err != nil {
		return err
	}
	lists, err := h.g.Lists(ctx, ev)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"server": es, "keys": keys, "gates": gates, "lists": lists})
	return nil
}

// GateBody is the body of PUT .../gates/{gate}.
type GateBody struct {
	Name      string   `json:"name"`
	Areas     []string `json:"areas"`
	Direction string   `json:"direction"`
	ListID    string   `json:"list_id,omitempty"`
}

func (h *handler) putGate(w http.ResponseWriter, r *http.Request) error {
	var b GateBody
	if err := h.a.Decode(w, r, 64<<10, &b); err != nil {
		return err
	}
	g := gate.Gate{EventID: r.PathValue("event"), GateID: r.PathValue("gate"), Name: b.Name, Areas: b.Areas, Direction: b.Direction, ListID: b.ListID}
	if err := h.g.PutGate(r.Context(), g); err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, g)
	return nil
}

// ListBody is the body of PUT .../lists/{list}.
type ListBody struct {
	Name            string   `json:"name"`
	Areas           []string `json:"areas"`
	MultipleEntries bool     `json:"multiple_entries"`
	EntryAfterExit  bool     `json:"entry_after_exit"`
}

func (h *handler) putList(w http.ResponseWriter, r *http.Request) error {
	var b ListBody
	if err := h.a.Decode(w, r, 64<<10, &b); err != nil {
		return err
	}
	l := gate.List{EventID: r.PathValue("event"), ListID: r.PathValue("list"), Name: b.Name, Areas: b.Areas, MultipleEntries: b.MultipleEntries, EntryAfterExit: b.EntryAfterExit}
	if err := h.g.PutList(r.Context(), l); err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, l)
	return nil
}

func (h *handler) rotate(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	k, err := h.g.RotateKey(r.Context(), r.PathValue("event"))
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusCreated, k)
	return nil
}

func (h *handler) retire(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	id, err := strconv.ParseUint(r.PathValue("key"), 10, 16)
	if err != nil {
		return api.InvalidCoded(invalid.Refuse(nil, "key_id_invalid", "%s is not a key id, 1 to 65535", r.PathValue("key")),
			invalid.Field{Name: "key", Message: "must be a key id, 1 to 65535"})
	}
	if err := h.g.RetireKey(r.Context(), r.PathValue("event"), uint16(id)); err != nil {
		return problem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ReasonBody is the body of block and unblock.
type ReasonBody struct {
	Reason string `json:"reason"`
}

func (h *handler) block(w http.ResponseWriter, r *http.Request) error {
	return h.setBlocked(w, r, h.g.Block)
}

func (h *handler) unblock(w http.ResponseWriter, r *http.Request) error {
	return h.setBlocked(w, r, h.g.Unblock)
}

func (h *handler) setBlocked(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, eventID, passID, reason string) error) error {
	var b ReasonBody
	if err := h.a.Decode(w, r, 16<<10, &b); err != nil {
		return err
	}
	if b.Reason == "" || len(b.Reason) > 500 {
		return api.InvalidCoded(invalid.Refuse(nil, "reason_length", "the reason must be 1 to 500 bytes"),
			invalid.Field{Name: "reason", Message: "must be 1 to 500 bytes"})
	}
	if err := do(r.Context(), r.PathValue("event"), r.PathValue("pass"), b.Reason); err != nil {
		return problem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) counts(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	ctx, ev := r.Context(), r.PathValue("event")
	if _, err := h.g.Server(ctx, ev); err != nil {
		return problem(err)
	}
	if _, err := h.g.Project(ctx); err != nil {
		return err
	}
	c, err := h.g.Counts(ctx, ev)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, c)
	return nil
}

func (h *handler) flagged(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	ctx, ev := r.Context(), r.PathValue("event")
	if _, err := h.g.Server(ctx, ev); err != nil {
		return problem(err)
	}
	scans, err := h.g.Flagged(ctx, ev)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"scans": scans})
	return nil
}

func (h *handler) rebuild(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	if !sc.All {
		return forbidden(invalid.Refuse(nil, "rebuild_all_needs_admin", "rebuilding every event's access list needs every merchant's events (ticketing.admin); rebuild your events one by one"))
	}
	n, err := h.g.Rebuild(r.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]int{"events": n})
	return nil
}

func (h *handler) rebuildEvent(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	n, err := h.g.RebuildEvent(r.Context(), r.PathValue("event"))
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]int{"events": n})
	return nil
}

func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, api.InvalidCoded(invalid.Refuse(nil, "time_invalid", "%s is not an RFC 3339 time", v),
			invalid.Field{Name: field, Message: "must be an RFC 3339 time"})
	}
	return t, nil
}

// orderPasses gives the buyer of an order (the signed-in customer who
// placed it, or a key of theirs) each ticket's signed QR payload. Anyone
// else, guests' orders and unknown orders alike get 404.
func (h *handler) orderPasses(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	p := auth.FromContext(r.Context())
	buyer := ""
	switch {
	case p == nil:
	case p.Key != nil:
		buyer = p.Key.OwnerID
	default:
		buyer = p.User.ID
	}
	ps, err := h.g.OrderPasses(r.Context(), r.PathValue("order"), buyer)
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"order_id": r.PathValue("order"), "passes": ps})
	return nil
}
