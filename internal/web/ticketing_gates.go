package web

import (
	"cmp"
	"context"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gate"
)

// Gates and devices: per event, its gates with live entry and exit counts,
// the people inside, the enrolled devices, a one-time enrolment code shown
// as a QR code for a scanner to read, and the flagged scans to review.

type tkGatesData struct {
	Events []ticketing.Event
}

func (h *Handler) tkGates(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	events, err := h.cfg.Ticketing.Events(r.Context(), sc, ticketing.EventFilter{})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	var d tkGatesData
	for _, e := range events {
		if e.GoLive.SagaID != "" {
			d.Events = append(d.Events, e)
		}
	}
	h.render(w, r, http.StatusOK, "tk_gates", view{Data: d})
}

type tkGateRow struct {
	Gate           gate.Gate
	Areas          []string // the names of the areas it lets into
	Entries, Exits int
}

type tkGateData struct {
	Event     ticketing.Event
	Server    bool // the gate prepared an access-control server
	Gates     []tkGateRow
	Devices   []gate.Device
	Flagged   []gate.Scan
	Counts    gate.Counts
	Enrolment *tkEnrolment
	Form      struct{ Gate, Role, Name string }
	Errors    map[string]string
	Live      string
}

type tkEnrolment struct {
	Code    string
	Expires time.Time
	QR      template.HTML
}

func (h *Handler) tkGate(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.tkGatePage(w, r, sc, http.StatusOK, tkGateData{})
}

func (h *Handler) tkGatePage(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, status int, d tkGateData) {
	ctx := r.Context()
	e, ok := h.pathEvent(w, r, sc, "event")
	if !ok {
		return
	}
	d.Event, d.Live = e, "/ticketing/gates/"+e.ID+"/events"
	if d.Form.Role == "" {
		d.Form.Role = gate.RoleSteward
	}
	if _, err := h.cfg.Gate.Server(ctx, e.ID); errors.Is(err, gate.ErrNotFound) {
		h.render(w, r, status, "tk_gate", view{Data: d})
		return
	} else if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Server = true
	gates, err := h.cfg.Gate.Gates(ctx, e.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if d.Counts, err = h.cfg.Gate.Counts(ctx, e.ID); err != nil {
		h.serverError(w, r, err)
		return
	}
	names := map[string]string{}
	for _, a := range e.Areas {
		names[a.ID] = a.Name
	}
	for _, g := range gates {
		c := d.Counts.ByGate[g.GateID]
		row := tkGateRow{Gate: g, Entries: c.Entries, Exits: c.Exits}
		for _, a := range g.Areas {
			row.Areas = append(row.Areas, cmp.Or(names[a], a))
		}
		d.Gates = append(d.Gates, row)
	}
	if d.Devices, err = h.cfg.Gate.Devices(ctx, e.ID); err != nil {
		h.serverError(w, r, err)
		return
	}
	if d.Flagged, err = h.cfg.Gate.Flagged(ctx, e.ID); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, status, "tk_gate", view{Data: d})
}

// gateValues are the live figures of an event's gates.
func (h *Handler) gateValues(ctx context.Context, event string) (map[string]string, error) {
	c, err := h.cfg.Gate.Counts(ctx, event)
	if err != nil {
		return nil, err
	}
	v := map[string]string{"inside": formatNum(c.Inside), "scans": formatNum(c.Scans), "refused": formatNum(c.Refused), "flagged": formatNum(c.Flagged)}
	for g, n := range c.ByGate {
		v["in:"+g], v["out:"+g] = formatNum(n.Entries), formatNum(n.Exits)
	}
	return v, nil
}

func (h *Handler) tkGateEvents(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	e, ok := h.pathEvent(w, r, sc, "event")
	if !ok {
		return
	}
	h.streamValues(w, r, func(ctx context.Context) (map[string]string, error) { return h.gateValues(ctx, e.ID) })
}

// tkEnrol makes a one-time enrolment code for a scanner at a gate and
// shows it once, as text and as a QR code.
func (h *Handler) tkEnrol(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	ctx := r.Context()
	e, ok := h.pathEvent(w, r, sc, "event")
	if !ok {
		return
	}
	var d tkGateData
	d.Form.Gate, d.Form.Role, d.Form.Name = r.PostFormValue("gate_id"), r.PostFormValue("role"), strings.TrimSpace(r.PostFormValue("name"))
	code, exp, err := h.cfg.Gate.CreateEnrolment(ctx, gate.Enrolment{EventID: e.ID, GateID: d.Form.Gate, Role: d.Form.Role, Name: d.Form.Name})
	if fe := fieldErrors(err); fe != nil {
		d.Errors = fe
		h.tkGatePage(w, r, sc, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		if errors.Is(err, gate.ErrNotFound) {
			h.renderStatus(w, r, http.StatusConflict, tkT(r, "tk.noenrolment"), refusalMsg(pageLang(r), err))
			return
		}
		h.serverError(w, r, err)
		return
	}
	qr, err := qrSVG(code, "enrolment code as a QR code")
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.InfoContext(ctx, "console: enrolment code made", "event", e.ID, "gate", d.Form.Gate, "role", d.Form.Role, "by", p.Name())
	d.Enrolment = &tkEnrolment{Code: code, Expires: exp, QR: qr}
	h.tkGatePage(w, r, sc, http.StatusOK, d)
}
