// Package gateapi serves the gate access-control service (package
// ticketing/gate) on the server's HTTP API under /api/v1/gate: the
// operators' routes (gates, lists, keys, devices, counts) and the scanning
// devices' routes (enrol, redeem, bundle, changes, upload).
package gateapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing/gate"
)

// Keys creates and revokes the API keys devices authenticate with.
type Keys interface {
	CreateAPIKey(ctx context.Context, nk auth.NewAPIKey) (auth.APIKey, string, error)
	RevokeAPIKey(ctx context.Context, id string) error
}

type handler struct {
	a    *api.Server
	g    *gate.Service
	keys Keys
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
//	POST   /api/v1/gate/events/{event}/upload                   offline scans                gate.scan
//	GET    /api/v1/gate/events/{event}/bundle                   offline bundle               gate.scan
//	GET    /api/v1/gate/events/{event}/changes                  changes after a position     gate.scan
//	GET    /api/v1/gate/events/{event}/passes                   search the access list       gate.search
//	POST   /api/v1/gate/events/{event}/rebuild                  rebuild the event's list     gate.manage
//	POST   /api/v1/gate/rebuild                                 rebuild the access list      gate.manage
//	GET    /api/v1/gate/orders/{order}/passes                   the order's signed passes    ticketing.buy (its buyer)
//
// The scanning routes (redeem, upload, bundle, changes, passes) confine an
// enrolled device to its event and, for scans, its gate; an API key that is
// not a device's uses them only with gate.manage for the event (an operator
// of it): a key holding gate.scan alone scans nowhere. A signed-in session
// scans as its roles allow.
func Register(a *api.Server, mux *http.ServeMux, g *gate.Service, keys Keys) {
	h := &handler{a: a, g: g, keys: keys}
	read := []auth.Permission{auth.PermGateRead}
	manage := []auth.Permission{auth.PermGateManage}
	scan := []auth.Permission{auth.PermGateScan}
	const ev = "/api/v1/gate/events/{event}"
	a.Route(mux, "GET "+ev, read, h.server)
	a.Route(mux, "PUT "+ev+"/gates/{gate}", manage, h.putGate)
	a.Route(mux, "PUT "+ev+"/lists/{list}", manage, h.putList)
	a.Route(mux, "POST "+ev+"/keys", manage, h.rotate)
	a.Route(mux, "DELETE "+ev+"/keys/{key}", manage, h.retire)
	a.Route(mux, "POST "+ev+"/passes/{pass}/block", manage, h.block)
	a.Route(mux, "POST "+ev+"/passes/{pass}/unblock", manage, h.unblock)
	a.Route(mux, "GET "+ev+"/counts", read, h.counts)
	a.Route(mux, "GET "+ev+"/flagged", read, h.flagged)
	a.Route(mux, "GET "+ev+"/devices", read, h.devices)
	a.Route(mux, "POST "+ev+"/enrolments", manage, h.enrolment)
	a.Route(mux, "DELETE "+ev+"/devices/{device}", manage, h.revokeDevice)
	a.Route(mux, "POST /api/v1/gate/enrol", nil, h.enrol)
	a.Route(mux, "POST "+ev+"/redeem", scan, h.redeem)
	a.Route(mux, "POST "+ev+"/upload", scan, h.upload)
	a.Route(mux, "GET "+ev+"/bundle", scan, h.bundle)
	a.Route(mux, "GET "+ev+"/changes", scan, h.changes)
	a.Route(mux, "GET "+ev+"/passes", []auth.Permission{auth.PermGateSearch}, h.search)
	a.Route(mux, "POST "+ev+"/rebuild", manage, h.rebuildEvent)
	a.Route(mux, "POST /api/v1/gate/rebuild", manage, h.rebuild)
	a.Route(mux, "GET /api/v1/gate/orders/{order}/passes", []auth.Permission{auth.PermTicketingBuy}, h.orderPasses)
}

// problem maps the gate's errors onto problems.
func problem(err error) error {
	var fe *invalid.Fields
	switch {
	case errors.Is(err, gate.ErrInvalid) && errors.As(err, &fe):
		return api.Invalid("the request is not valid", fe.List...)
	case errors.Is(err, gate.ErrNotFound):
		return api.NotFound(err.Error())
	case errors.Is(err, gate.ErrBadCode):
		return &api.Problem{Type: api.TypeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: err.Error()}
	}
	return err
}

func forbidden(detail string) error {
	return &api.Problem{Type: api.TypeForbidden, Title: "Forbidden", Status: http.StatusForbidden, Detail: detail}
}

// noQuery refuses query parameters on routes that take none.
func noQuery(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return api.Invalid("unknown query parameter", invalid.Field{Name: k, Message: "is not a parameter of this route"})
		}
	}
	return nil
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
		return nil, forbidden("an API key scans only as an enrolled device of this event, or with gate.manage for it")
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
		return nil, &api.Problem{Type: api.TypeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: "the device was revoked"}
	}
	if d.EventID != r.PathValue("event") {
		return nil, forbidden(fmt.Sprintf("the device belongs to event %s", d.EventID))
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
		return api.Invalid("the request is not valid", invalid.Field{Name: "key", Message: "must be a key id, 1 to 65535"})
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
		return api.Invalid("the request is not valid", invalid.Field{Name: "reason", Message: "must be 1 to 500 bytes"})
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
		return t, api.Invalid("the request is not valid", invalid.Field{Name: field, Message: "must be an RFC 3339 time"})
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
