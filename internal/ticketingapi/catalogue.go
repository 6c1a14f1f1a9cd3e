package ticketingapi

import (
	"context"
	"net/http"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
)

func (h *handler) listMerchants(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	ms, err := h.svc.Merchants(r.Context(), sc)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"merchants": ms})
	return nil
}

func (h *handler) createMerchant(w http.ResponseWriter, r *http.Request) error {
	var in ticketing.MerchantInput
	if err := h.a.Decode(w, r, 64<<10, &in); err != nil {
		return err
	}
	m, err := h.svc.CreateMerchant(r.Context(), in)
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusCreated, m)
	return nil
}

func (h *handler) getMerchant(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	if err := query(r); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	m, err := h.svc.Merchant(r.Context(), sc, id[0])
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusOK, m)
	return nil
}

func (h *handler) updateMerchant(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	var in ticketing.MerchantInput
	if err := h.a.Decode(w, r, 64<<10, &in); err != nil {
		return err
	}
	m, err := h.svc.UpdateMerchant(r.Context(), ticketing.Everything, id[0], in)
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusOK, m)
	return nil
}

func (h *handler) deleteMerchant(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	if err := h.svc.DeleteMerchant(r.Context(), id[0]); err != nil {
		return fail(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Members is the body of PUT and the answer of GET
// /api/v1/ticketing/merchants/{id}/members.
type Members struct {
	Usernames []string `json:"usernames"`
}

func (h *handler) getMembers(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	if _, err := h.svc.Merchant(r.Context(), ticketing.Everything, id[0]); err != nil {
		return fail(err)
	}
	us, err := h.svc.Members(r.Context(), id[0])
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, Members{Usernames: us})
	return nil
}

func (h *handler) setMembers(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	var in Members
	if err := h.a.Decode(w, r, 64<<10, &in); err != nil {
		return err
	}
	if in.Usernames == nil {
		return api.InvalidCoded(invalid.Refuse(nil, "members_required", "the members' usernames are required (an empty list removes every member)"),
			invalid.Field{Name: "usernames", Message: "is required (an empty list removes every member)"})
	}
	if err := h.svc.SetMembers(r.Context(), id[0], in.Usernames); err != nil {
		return fail(err)
	}
	return h.getMembers(w, r)
}

func (h *handler) listEvents(w http.ResponseWriter, r *http.Request) error {
	if err := query(r, "merchant_id", "status"); err != nil {
		return err
	}
	q := r.URL.Query()
	if err := oneOf("status", q.Get("status"), ticketing.EventStatuses); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	es, err := h.svc.Events(r.Context(), sc, ticketing.EventFilter{MerchantID: q.Get("merchant_id"), Status: q.Get("status")})
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"events": es})
	return nil
}

func (h *handler) createEvent(w http.ResponseWriter, r *http.Request) error {
	var in ticketing.EventInput
	if err := h.a.Decode(w, r, 256<<10, &in); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	e, err := h.svc.CreateEvent(r.Context(), sc, in)
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusCreated, e)
	return nil
}

// eventCall runs a call on the event of the path, in the caller's scope,
// and answers the event it returns.
func (h *handler) eventCall(w http.ResponseWriter, r *http.Request, call func(sc ticketing.Scope, id string) (ticketing.Event, error)) error {
	return scopedCall(h, w, r, call)
}

func (h *handler) getEvent(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	return h.eventCall(w, r, func(sc ticketing.Scope, id string) (ticketing.Event, error) { return h.svc.Event(r.Context(), sc, id) })
}

func (h *handler) updateEvent(w http.ResponseWriter, r *http.Request) error {
	var in ticketing.EventInput
	if err := h.a.Decode(w, r, 256<<10, &in); err != nil {
		return err
	}
	return h.eventCall(w, r, func(sc ticketing.Scope, id string) (ticketing.Event, error) {
		return h.svc.UpdateEvent(r.Context(), sc, id, in)
	})
}

func (h *handler) deleteEvent(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteEvent(r.Context(), sc, id[0]); err != nil {
		return fail(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) submitEvent(w http.ResponseWriter, r *http.Request) error {
	return h.eventCall(w, r, func(sc ticketing.Scope, id string) (ticketing.Event, error) {
		return h.svc.SubmitEvent(r.Context(), sc, id)
	})
}

func (h *handler) approveEvent(w http.ResponseWriter, r *http.Request) error {
	return h.eventCall(w, r, func(_ ticketing.Scope, id string) (ticketing.Event, error) {
		return h.svc.ApproveEvent(r.Context(), id, who(r))
	})
}

func (h *handler) rejectEvent(w http.ResponseWriter, r *http.Request) error {
	reason, err := h.decodeReason(w, r)
	if err != nil {
		return err
	}
	return h.eventCall(w, r, func(_ ticketing.Scope, id string) (ticketing.Event, error) {
		return h.svc.RejectEvent(r.Context(), id, reason)
	})
}

func (h *handler) goLive(w http.ResponseWriter, r *http.Request) error {
	return h.eventCall(w, r, func(_ ticketing.Scope, id string) (ticketing.Event, error) { return h.svc.StartGoLive(r.Context(), id) })
}

func (h *handler) cancelEvent(w http.ResponseWriter, r *http.Request) error {
	reason, err := h.decodeReason(w, r)
	if err != nil {
		return err
	}
	return h.eventCall(w, r, func(_ ticketing.Scope, id string) (ticketing.Event, error) {
		return h.svc.CancelEvent(r.Context(), id, who(r), reason)
	})
}

// AreaAudit is one area of GET /api/v1/ticketing/events/{id}/audit.
type AreaAudit struct {
	AreaID   string   `json:"area_id"`
	Name     string   `json:"name"`
	Events   int64    `json:"events"`
	Capacity int      `json:"capacity"`
	Sold     int      `json:"sold"`
	Holds    int      `json:"holds"`
	Problems []string `json:"problems"`
}

// Audit is the answer of GET /api/v1/ticketing/events/{id}/audit.
type Audit struct {
	EventID  string      `json:"event_id"`
	OK       bool        `json:"ok"`
	Position int64       `json:"position"`
	Areas    []AreaAudit `json:"areas"`
}

func (h *handler) auditEvent(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	if err := query(r); err != nil {
		return err
	}
	e, err := h.svc.Event(r.Context(), ticketing.Everything, id[0])
	if err != nil {
		return fail(err)
	}
	rep, err := h.svc.Inventory().Audit(r.Context())
	if err != nil {
		return err
	}
	out := Audit{EventID: e.ID, OK: true, Position: rep.Position, Areas: []AreaAudit{}}
	names := map[string]string{}
	for _, a := range e.Areas {
		names[a.ID] = a.Name
	}
	for _, a := range rep.Areas {
		if a.Area.Event != e.ID {
			continue
		}
		aa := AreaAudit{AreaID: a.Area.Area, Name: names[a.Area.Area], Events: a.Version, Capacity: a.Capacity, Sold: a.Sold,
			Holds: a.Holds, Problems: append([]string{}, a.Problems...)}
		out.OK = out.OK && len(a.Problems) == 0
		out.Areas = append(out.Areas, aa)
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) addArea(w http.ResponseWriter, r *http.Request) error {
	return change(h, w, r, http.StatusCreated, []string{"id"}, func(ctx context.Context, sc ticketing.Scope, id []string, in ticketing.AreaInput) (any, error) {
		return h.svc.AddArea(ctx, sc, id[0], in)
	})
}

func (h *handler) updateArea(w http.ResponseWriter, r *http.Request) error {
	return change(h, w, r, http.StatusOK, []string{"id", "area"}, func(ctx context.Context, sc ticketing.Scope, id []string, in ticketing.AreaInput) (any, error) {
		return h.svc.UpdateArea(ctx, sc, id[0], id[1], in)
	})
}

func (h *handler) deleteArea(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id", "area")
	if err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteArea(r.Context(), sc, id[0], id[1]); err != nil {
		return fail(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) listStaff(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	if err := query(r); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	st, err := h.svc.StaffOf(r.Context(), sc, id[0])
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"staff": st})
	return nil
}

func (h *handler) addStaff(w http.ResponseWriter, r *http.Request) error {
	return change(h, w, r, http.StatusCreated, []string{"id"}, func(ctx context.Context, sc ticketing.Scope, id []string, in ticketing.StaffInput) (any, error) {
		return h.svc.AddStaff(ctx, sc, id[0], in)
	})
}

func (h *handler) updateStaff(w http.ResponseWriter, r *http.Request) error {
	return change(h, w, r, http.StatusOK, []string{"id", "staff"}, func(ctx context.Context, sc ticketing.Scope, id []string, in ticketing.StaffInput) (any, error) {
		return h.svc.UpdateStaff(ctx, sc, id[0], id[1], in)
	})
}

func (h *handler) deleteStaff(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id", "staff")
	if err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteStaff(r.Context(), sc, id[0], id[1]); err != nil {
		return fail(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) listSchedules(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	if err := query(r); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	out, err := h.svc.Schedules(r.Context(), sc, id[0])
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"schedules": out})
	return nil
}

func (h *handler) addSchedule(w http.ResponseWriter, r *http.Request) error {
	return change(h, w, r, http.StatusCreated, []string{"id"}, func(ctx context.Context, sc ticketing.Scope, id []string, in ticketing.ScheduleInput) (any, error) {
		return h.svc.AddSchedule(ctx, sc, id[0], in)
	})
}

func (h *handler) updateSchedule(w http.ResponseWriter, r *http.Request) error {
	return change(h, w, r, http.StatusOK, []string{"id", "schedule"}, func(ctx context.Context, sc ticketing.Scope, id []string, in ticketing.ScheduleInput) (any, error) {
		return h.svc.UpdateSchedule(ctx, sc, id[0], id[1], in)
	})
}

func (h *handler) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id", "schedule")
	if err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteSchedule(r.Context(), sc, id[0], id[1]); err != nil {
		return fail(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) listMethods(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	ms, err := h.svc.PaymentMethods(r.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"payment_methods": ms})
	return nil
}

func (h *handler) createMethod(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := h.a.Decode(w, r, 64<<10, &in); err != nil {
		return err
	}
	m, err := h.svc.CreatePaymentMethod(r.Context(), in.Name)
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusCreated, m)
	return nil
}

func (h *handler) deleteMethod(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	if err := h.svc.DeletePaymentMethod(r.Context(), id[0]); err != nil {
		return fail(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// change is the shape of the routes that change one object of an event:
// the ids the path names, a JSON body of type In, the caller's scope, then
// do; its result is the answer, with status.
func change[In any](h *handler, w http.ResponseWriter, r *http.Request, status int, names []string,
	do func(ctx context.Context, sc ticketing.Scope, id []string, in In) (any, error)) error {
	id, err := ids(r, names...)
	if err != nil {
		return err
	}
	var in In
	if err := h.a.Decode(w, r, 64<<10, &in); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	out, err := do(r.Context(), sc, id, in)
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, status, out)
	return nil
}
