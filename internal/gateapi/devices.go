package gateapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing/gate"
)

func (h *handler) devices(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	ds, err := h.g.Devices(r.Context(), r.PathValue("event"))
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"devices": ds})
	return nil
}

// EnrolmentBody is the body of POST .../enrolments.
type EnrolmentBody struct {
	GateID string `json:"gate_id"`
	Role   string `json:"role"`
	Name   string `json:"name"`
	// TTLSeconds is how long the code may be used; default a day.
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
}

// EnrolmentAnswer answers POST .../enrolments: the code, shown once.
type EnrolmentAnswer struct {
	Code    string    `json:"code"`
	Expires time.Time `json:"expires"`
}

func (h *handler) enrolment(w http.ResponseWriter, r *http.Request) error {
	var b EnrolmentBody
	if err := h.a.Decode(w, r, 16<<10, &b); err != nil {
		return err
	}
	if b.TTLSeconds < 0 || b.TTLSeconds > 30*24*3600 {
		return api.InvalidCoded(invalid.Refuse(nil, "enrolment_ttl", "an enrolment code lasts 0 to 2592000 seconds (30 days)"),
			invalid.Field{Name: "ttl_seconds", Message: "must be 0 to 2592000 (30 days)"})
	}
	code, exp, err := h.g.CreateEnrolment(r.Context(), gate.Enrolment{EventID: r.PathValue("event"), GateID: b.GateID, Role: b.Role, Name: b.Name,
		TTL: time.Duration(b.TTLSeconds) * time.Second})
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusCreated, EnrolmentAnswer{Code: code, Expires: exp})
	return nil
}

// EnrolBody is the body of POST /api/v1/gate/enrol.
type EnrolBody struct {
	Code string `json:"code"`
}

// EnrolAnswer answers an enrolment: the device and its API key, shown once.
type EnrolAnswer struct {
	Device gate.Device `json:"device"`
	APIKey string      `json:"api_key"`
	Scopes []string    `json:"scopes"`
}

// scopes are what a device's key may do, narrowed to its event.
func scopes(d gate.Device) []string {
	s := []string{string(auth.PermGateScan) + ":" + d.EventID}
	if d.Role == gate.RoleSupervisor {
		s = append(s, string(auth.PermGateSearch)+":"+d.EventID, string(auth.PermGateOverride)+":"+d.EventID)
	}
	return s
}

func (h *handler) enrol(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var b EnrolBody
	if err := h.a.Decode(w, r, 4<<10, &b); err != nil {
		return err
	}
	if b.Code == "" || len(b.Code) > 64 {
		return api.InvalidCoded(invalid.Refuse(nil, "enrolment_code_length", "an enrolment code is 1 to 64 characters"),
			invalid.Field{Name: "code", Message: "must be the enrolment code, 1 to 64 characters"})
	}
	ctx := r.Context()
	d, err := h.g.Enrol(ctx, b.Code)
	if err != nil {
		return problem(err)
	}
	sc := scopes(d)
	key, secret, err := h.keys.CreateAPIKey(ctx, auth.NewAPIKey{Name: "gate device " + d.DeviceID, Scopes: sc})
	if err != nil {
		_, _ = h.g.RevokeDevice(ctx, d.DeviceID)
		return err
	}
	if err := h.g.SetDeviceKey(ctx, d.DeviceID, key.ID); err != nil {
		_ = h.keys.RevokeAPIKey(ctx, key.ID)
		return err
	}
	d.KeyID = key.ID
	api.WriteJSON(w, http.StatusCreated, EnrolAnswer{Device: d, APIKey: secret, Scopes: sc})
	return nil
}

func (h *handler) revokeDevice(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	ctx := r.Context()
	d, err := h.g.Device(ctx, r.PathValue("device"))
	if err != nil || d.EventID != r.PathValue("event") {
		return api.Refused(api.NotFound("no such device in this event"), invalid.Refuse(nil, "device_unknown", "no such device"))
	}
	if _, err := h.g.RevokeDevice(ctx, d.DeviceID); err != nil {
		return err
	}
	if d.KeyID != "" {
		if err := h.keys.RevokeAPIKey(ctx, d.KeyID); err != nil && !errors.Is(err, auth.ErrNotFound) {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RedeemBody is a scan, the body of redeem and an element of upload.
type RedeemBody struct {
	Secret    string `json:"secret"`
	GateID    string `json:"gate_id"`
	ListID    string `json:"list_id,omitempty"`
	Direction string `json:"direction"`
	// At is an RFC 3339 time; default now (required in uploads).
	At    string `json:"at,omitempty"`
	Nonce string `json:"nonce,omitempty"`
	Force bool   `json:"force,omitempty"`
	// Override is a supervisor's reason for letting a refused pass through.
	Override string `json:"override,omitempty"`
}

func (h *handler) toRedeem(r *http.Request, d *gate.Device, b RedeemBody, field string) (gate.Redeem, error) {
	req := gate.Redeem{EventID: r.PathValue("event"), Secret: b.Secret, GateID: b.GateID, ListID: b.ListID, Direction: b.Direction,
		Nonce: b.Nonce, Force: b.Force, Override: b.Override}
	if b.At != "" {
		at, err := parseTime(field+"at", b.At)
		if err != nil {
			return req, err
		}
		req.At = at
	}
	if d != nil {
		req.DeviceID = d.DeviceID
		if d.GateID != b.GateID {
			return req, forbidden(invalid.Refuse(nil, "device_other_gate", "the device scans at gate %s", d.GateID))
		}
	}
	if b.Override != "" && !auth.FromContext(r.Context()).Can(auth.PermGateOverride, req.EventID) {
		return req, forbidden(invalid.Refuse(nil, "override_needs_supervisor", "overriding a refusal needs gate.override (a supervisor)"))
	}
	return req, nil
}

func (h *handler) redeem(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	d, err := h.scanner(r)
	if err != nil {
		return err
	}
	var b RedeemBody
	if err := h.a.Decode(w, r, 16<<10, &b); err != nil {
		return err
	}
	req, err := h.toRedeem(r, d, b, "")
	if err != nil {
		return err
	}
	res, err := h.g.Redeem(r.Context(), req)
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, res)
	return nil
}

// AdmitBody is the body of POST .../passes/{pass}/admit: a supervisor lets
// a pass through by its id, without the pass.
type AdmitBody struct {
	GateID    string `json:"gate_id"`
	ListID    string `json:"list_id,omitempty"`
	Direction string `json:"direction"`
	// At is an RFC 3339 time; default now.
	At    string `json:"at,omitempty"`
	Nonce string `json:"nonce,omitempty"`
	// Override is the supervisor's reason, required.
	Override string `json:"override"`
}

func (h *handler) admit(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	d, err := h.scanner(r)
	if err != nil {
		return err
	}
	var b AdmitBody
	if err := h.a.Decode(w, r, 16<<10, &b); err != nil {
		return err
	}
	// The checks of a scan's body (the time, the device's gate) apply.
	req, err := h.toRedeem(r, d, RedeemBody{GateID: b.GateID, ListID: b.ListID, Direction: b.Direction, At: b.At, Nonce: b.Nonce}, "")
	if err != nil {
		return err
	}
	a := gate.Admit{EventID: req.EventID, PassID: r.PathValue("pass"), GateID: req.GateID, ListID: req.ListID, Direction: req.Direction,
		At: req.At, Nonce: req.Nonce, Override: b.Override, DeviceID: req.DeviceID}
	res, err := h.g.Admit(r.Context(), a)
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, res)
	return nil
}

// UploadBody is the body of upload: scans made offline.
type UploadBody struct {
	Scans []RedeemBody `json:"scans"`
}

func (h *handler) upload(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	d, err := h.scanner(r)
	if err != nil {
		return err
	}
	var b UploadBody
	if err := h.a.Decode(w, r, 8<<20, &b); err != nil {
		return err
	}
	if len(b.Scans) == 0 || len(b.Scans) > gate.MaxUpload {
		return api.InvalidCoded(invalid.Refuse(nil, "upload_size", "an upload holds 1 to %d scans", gate.MaxUpload),
			invalid.Field{Name: "scans", Message: "must hold 1 to " + strconv.Itoa(gate.MaxUpload) + " scans"})
	}
	reqs := make([]gate.Redeem, len(b.Scans))
	for i, sb := range b.Scans {
		if reqs[i], err = h.toRedeem(r, d, sb, "scans["+strconv.Itoa(i)+"]."); err != nil {
			return err
		}
	}
	deviceID := ""
	if d != nil {
		deviceID = d.DeviceID
	}
	res, err := h.g.Upload(r.Context(), r.PathValue("event"), deviceID, reqs)
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"results": res})
	return nil
}

func (h *handler) bundle(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r, "passes"); err != nil {
		return err
	}
	if _, err := h.scanner(r); err != nil {
		return err
	}
	with := false
	if v := r.URL.Query().Get("passes"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return api.InvalidCoded(invalid.Refuse(nil, "query_not_boolean", "query parameter %s must be true or false", "passes"),
				invalid.Field{Name: "passes", Message: "must be true or false"})
		}
		with = b
	}
	b, err := h.g.Bundle(r.Context(), r.PathValue("event"), with)
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, b)
	return nil
}

func (h *handler) changes(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r, "after", "limit"); err != nil {
		return err
	}
	if _, err := h.scanner(r); err != nil {
		return err
	}
	q := r.URL.Query()
	after, limit := int64(0), 1000
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return api.InvalidCoded(invalid.Refuse(nil, "query_not_number", "query parameter %s must be a whole number", "after"),
				invalid.Field{Name: "after", Message: "must be a position, a whole number"})
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return api.InvalidCoded(invalid.Refuse(nil, "query_not_number", "query parameter %s must be a whole number", "limit"),
				invalid.Field{Name: "limit", Message: "must be a whole number"})
		}
		limit = n
	}
	cs, next, err := h.g.Changes(r.Context(), r.PathValue("event"), after, limit)
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"changes": cs, "next": next})
	return nil
}

func (h *handler) search(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r, "q", "limit"); err != nil {
		return err
	}
	if _, err := h.scanner(r); err != nil {
		return err
	}
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return api.InvalidCoded(invalid.Refuse(nil, "query_not_number", "query parameter %s must be a whole number", "limit"),
				invalid.Field{Name: "limit", Message: "must be a whole number"})
		}
		limit = n
	}
	ps, err := h.g.Search(r.Context(), r.PathValue("event"), q.Get("q"), limit)
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"passes": ps})
	return nil
}
