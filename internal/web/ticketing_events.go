package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/inventory"
)

// Events: the list with status pills, a form to create and edit, and the
// event's page with its areas (capacity, sold, held, free), its go-live
// saga and the actions its state allows.

type tkEventsData struct {
	All       bool // the scope covers every merchant
	Events    []ticketing.Event
	Merchants map[string]string
	Statuses  []string
	Status    string
	Merchant  string
}

func (h *Handler) merchantNames(r *http.Request, sc ticketing.Scope) (map[string]string, []ticketing.Merchant, error) {
	ms, err := h.cfg.Ticketing.Merchants(r.Context(), sc)
	names := map[string]string{}
	for _, m := range ms {
		names[m.ID] = m.Name
	}
	return names, ms, err
}

func (h *Handler) tkEvents(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	q := r.URL.Query()
	d := tkEventsData{All: sc.All, Statuses: ticketing.EventStatuses, Status: q.Get("status"), Merchant: q.Get("merchant")}
	var err error
	if d.Merchants, _, err = h.merchantNames(r, sc); err != nil {
		h.serverError(w, r, err)
		return
	}
	if d.Events, err = h.cfg.Ticketing.Events(r.Context(), sc, ticketing.EventFilter{Status: d.Status, MerchantID: d.Merchant}); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "tk_events", view{Data: d})
}

// tkEventForm is the event form's values as typed.
type tkEventForm struct {
	ID                                                      string
	MerchantID, Name, Venue, Address, Description, TimeZone string
	Starts, Ends, SaleStarts, SaleEnds                      string
}

type tkEventFormData struct {
	Form      tkEventForm
	Merchants []ticketing.Merchant
	Errors    map[string]string
}

func (h *Handler) tkEventFormPage(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, status int, d tkEventFormData) {
	_, ms, err := h.merchantNames(r, sc)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Merchants = ms
	if len(ms) == 0 {
		h.renderStatus(w, r, http.StatusForbidden, tkT(r, "tk.nomerchant"), tkT(r, "tk.nomerchant.text"))
		return
	}
	h.render(w, r, status, "tk_event_form", view{Data: d})
}

func (h *Handler) tkNewEvent(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.tkEventFormPage(w, r, sc, http.StatusOK, tkEventFormData{Form: tkEventForm{MerchantID: r.URL.Query().Get("merchant"), TimeZone: ticketing.DefaultTimeZone}})
}

func (h *Handler) tkEditEvent(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	e, ok := h.pathEvent(w, r, sc, "id")
	if !ok {
		return
	}
	local := func(t time.Time) string {
		return ticketingFuncs["localInput"].(func(time.Time, string) string)(t, e.TimeZone)
	}
	h.tkEventFormPage(w, r, sc, http.StatusOK, tkEventFormData{Form: tkEventForm{ID: e.ID, MerchantID: e.MerchantID, Name: e.Name, Venue: e.Venue,
		Address: e.Address, Description: e.Description, TimeZone: e.TimeZone,
		Starts: local(e.Starts), Ends: local(e.Ends), SaleStarts: local(e.SaleStarts), SaleEnds: local(e.SaleEnds)}})
}

// eventInput reads the event form; errs holds the fields it could not read.
func eventInput(r *http.Request) (tkEventForm, ticketing.EventInput, map[string]string) {
	f := tkEventForm{MerchantID: r.PostFormValue("merchant_id"), Name: strings.TrimSpace(r.PostFormValue("name")),
		Venue: strings.TrimSpace(r.PostFormValue("venue")), Address: strings.TrimSpace(r.PostFormValue("address")),
		Description: strings.TrimSpace(r.PostFormValue("description")), TimeZone: strings.TrimSpace(r.PostFormValue("time_zone")),
		Starts: r.PostFormValue("starts"), Ends: r.PostFormValue("ends"), SaleStarts: r.PostFormValue("sale_starts"), SaleEnds: r.PostFormValue("sale_ends")}
	in := ticketing.EventInput{MerchantID: f.MerchantID, Name: f.Name, Venue: f.Venue, Address: f.Address, Description: f.Description, TimeZone: f.TimeZone}
	errs := map[string]string{}
	for _, t := range []struct {
		field string
		dst   *time.Time
	}{{"starts", &in.Starts}, {"ends", &in.Ends}, {"sale_starts", &in.SaleStarts}, {"sale_ends", &in.SaleEnds}} {
		v, err := formTime(r, t.field, f.TimeZone)
		if err != nil {
			errs[t.field] = err.Error()
		}
		*t.dst = v
	}
	return f, in, errs
}

// tkSaveEvent creates an event (POST /ticketing/events) or changes the
// one of the path.
func (h *Handler) tkSaveEvent(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	f, in, errs := eventInput(r)
	f.ID = r.PathValue("id")
	// Unreadable times are zero, which the service refuses: nothing is
	// stored.
	var e ticketing.Event
	var err error
	flash := "tk-saved"
	if f.ID == "" {
		e, err = h.cfg.Ticketing.CreateEvent(r.Context(), sc, in)
		flash = "tk-created#areas"
	} else {
		e, err = h.cfg.Ticketing.UpdateEvent(r.Context(), sc, f.ID, in)
	}
	if fe := fieldErrors(err); fe != nil || len(errs) > 0 {
		h.tkEventFormPage(w, r, sc, http.StatusUnprocessableEntity, tkEventFormData{Form: f, Errors: mergeErrors(errs, err)})
		return
	}
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/events/"+e.ID+"?ok="+flash, http.StatusSeeOther)
}

// pathEvent reads the event the path names in {name}, in the scope; on an
// error it answers and returns false.
func (h *Handler) pathEvent(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, name string) (ticketing.Event, bool) {
	e, err := h.cfg.Ticketing.Event(r.Context(), sc, r.PathValue(name))
	if err != nil {
		h.tkFail(w, r, err)
		return e, false
	}
	return e, true
}

func (h *Handler) tkDeleteEvent(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	e, ok := h.pathEvent(w, r, sc, "id")
	if !ok {
		return
	}
	if !h.confirmed(w, r, confirmData{Title: tkT(r, "tk.deleteevent.title", e.Title()), Action: "/ticketing/events/" + e.ID + "/delete", Button: tkT(r, "tk.deleteevent.button"),
		Cancel: "/ticketing/events/" + e.ID, Message: tkT(r, "tk.deleteevent.msg", e.Title())}) {
		return
	}
	if err := h.cfg.Ticketing.DeleteEvent(r.Context(), sc, e.ID); err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/events?ok=tk-deleted", http.StatusSeeOther)
}

// tkArea is an area with its inventory figures.
type tkArea struct {
	ticketing.Area
	Sold, Held, Free int
	Known            bool // the inventory has the area (after go-live)
}

type tkEventData struct {
	Event    ticketing.Event
	Merchant string
	Areas    []tkArea
	// Editable is true while areas may change (before approval).
	Editable   bool
	AreaForm   struct{ Name, Capacity, Price string }
	AreaErrors map[string]string
	Error      string
}

func (h *Handler) tkEvent(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.tkEventPage(w, r, sc, http.StatusOK, tkEventData{})
}

func (h *Handler) tkEventPage(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, status int, d tkEventData) {
	ctx := r.Context()
	e, ok := h.pathEvent(w, r, sc, "id")
	if !ok {
		return
	}
	d.Event = e
	if m, err := h.cfg.Ticketing.Merchant(ctx, sc, e.MerchantID); err == nil {
		d.Merchant = m.Name
	}
	d.Editable = e.Status == ticketing.StatusDraft || e.Status == ticketing.StatusWaitingForApproval
	d.Areas = h.eventAreas(ctx, e)
	h.render(w, r, status, "tk_event", view{Data: d})
}

// eventAreas is an event's areas with their figures from the inventory's
// read model, once the go-live saga has set them up there.
func (h *Handler) eventAreas(ctx context.Context, e ticketing.Event) []tkArea {
	avail := map[string]inventory.Availability{}
	if as, err := h.cfg.Ticketing.Inventory().ReadEvent(ctx, e.ID); err == nil {
		for _, a := range as {
			avail[a.Area.Area] = a
		}
	} else {
		h.log.WarnContext(ctx, "console: inventory of event", "event", e.ID, "err", err)
	}
	var out []tkArea
	for _, a := range e.Areas {
		ta := tkArea{Area: a}
		if v, ok := avail[a.ID]; ok {
			ta.Sold, ta.Held, ta.Free, ta.Known = v.Sold, v.Held, v.Free, true
		}
		out = append(out, ta)
	}
	return out
}

// tkEventLive streams the event's state, its go-live's and its areas'
// figures, so that its page follows the go-live saga and the sales.
func (h *Handler) tkEventLive(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	e, ok := h.pathEvent(w, r, sc, "id")
	if !ok {
		return
	}
	h.streamValues(w, r, func(ctx context.Context) (map[string]string, error) {
		e, err := h.cfg.Ticketing.Event(ctx, sc, e.ID)
		if err != nil {
			return nil, err
		}
		v := map[string]string{"status": strings.ReplaceAll(e.Status, "_", " "), "pill:status": eventPill(e.Status),
			"golive": e.GoLive.State, "pill:golive": goLivePill(e.GoLive.State)}
		for _, a := range h.eventAreas(ctx, e) {
			if a.Known {
				v["sold:"+a.ID], v["held:"+a.ID], v["free:"+a.ID] = formatNum(a.Sold), formatNum(a.Held), formatNum(a.Free)
			}
		}
		return v, nil
	})
}

func (h *Handler) tkAddArea(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	var d tkEventData
	d.AreaForm.Name, d.AreaForm.Capacity, d.AreaForm.Price = strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("capacity"), r.PostFormValue("price")
	errs := map[string]string{}
	capacity, price := formInt(r, "capacity", errs), formInt(r, "price", errs)
	var err error
	if len(errs) == 0 {
		_, err = h.cfg.Ticketing.AddArea(r.Context(), sc, r.PathValue("id"), ticketing.AreaInput{Name: d.AreaForm.Name, Capacity: int(capacity), Price: price})
	}
	if fieldErrors(err) != nil || len(errs) > 0 {
		d.AreaErrors = mergeErrors(errs, err)
		h.tkEventPage(w, r, sc, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/events/"+r.PathValue("id")+"?ok=tk-created#areas", http.StatusSeeOther)
}

func (h *Handler) tkDeleteArea(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.eventAction(w, r, "?ok=tk-deleted#areas", func(id string) error { return h.cfg.Ticketing.DeleteArea(r.Context(), sc, id, r.PathValue("area")) })
}

// eventAction runs one change of the event in the path and goes back to
// the event's page, or the one under it that then names ("/staff?ok=…").
func (h *Handler) eventAction(w http.ResponseWriter, r *http.Request, then string, do func(id string) error) {
	id := r.PathValue("id")
	if err := do(id); err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/events/"+id+then, http.StatusSeeOther)
}

func (h *Handler) tkSubmitEvent(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.eventAction(w, r, "?ok=tk-submitted", func(id string) error { _, err := h.cfg.Ticketing.SubmitEvent(r.Context(), sc, id); return err })
}

func (h *Handler) tkApproveEvent(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.eventAction(w, r, "?ok=tk-approved", func(id string) error { _, err := h.cfg.Ticketing.ApproveEvent(r.Context(), id, p.Name()); return err })
}

func (h *Handler) tkGoLive(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.eventAction(w, r, "?ok=tk-golive", func(id string) error { _, err := h.cfg.Ticketing.StartGoLive(r.Context(), id); return err })
}

// tkReasonForm asks for a reason before a rejection or cancellation; for a
// cancellation it lists the refunds it causes first.
type tkReasonData struct {
	Event       ticketing.Event
	Action      string // reject or cancel
	Reason      string
	Errors      map[string]string
	Refunds     []ticketing.Order // the paid orders refunded in full
	Refund      int64             // their total
	Pending     int               // pending orders canceled
	Capped      bool              // more orders than listed
	Verb        string
	Consequence string
}

func (h *Handler) tkRejectEvent(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.eventWithReason(w, r, sc, "reject", func(id, reason string) error {
		_, err := h.cfg.Ticketing.RejectEvent(r.Context(), id, reason)
		return err
	})
}

func (h *Handler) tkCancelEvent(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.eventWithReason(w, r, sc, "cancel", func(id, reason string) error {
		_, err := h.cfg.Ticketing.CancelEvent(r.Context(), id, p.Name(), reason)
		return err
	})
}

// eventWithReason shows the review of a rejection or cancellation (with
// the reason to give) until it is confirmed, then does it.
func (h *Handler) eventWithReason(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, action string, do func(id, reason string) error) {
	ctx := r.Context()
	e, ok := h.pathEvent(w, r, sc, "id")
	if !ok {
		return
	}
	d := tkReasonData{Event: e, Action: action, Reason: strings.TrimSpace(r.PostFormValue("reason")), Verb: tkT(r, "tk.rejectevent"),
		Consequence: tkT(r, "tk.rejectevent.msg")}
	if action == "cancel" {
		d.Verb = tkT(r, "tk.cancelevent")
		const limit = 1000
		orders, err := h.cfg.Ticketing.Orders(ctx, sc, ticketing.OrderFilter{EventID: e.ID, Limit: limit})
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		d.Capped = len(orders) == limit
		for _, o := range orders {
			switch o.Status {
			case ticketing.OrderValidated, ticketing.OrderPartiallyRefunded:
				d.Refunds = append(d.Refunds, o)
				d.Refund += o.PaymentReceived - o.Refunded
			case ticketing.OrderPending:
				d.Pending++
			}
		}
		d.Consequence = tkT(r, "tk.cancelevent.msg")
	}
	if r.PostFormValue("confirmed") != "yes" || d.Reason == "" {
		status := http.StatusOK
		if r.PostFormValue("confirmed") == "yes" {
			d.Errors, status = map[string]string{"reason": tkT(r, "tk.err.reason")}, http.StatusUnprocessableEntity
		}
		h.render(w, r, status, "tk_event_reason", view{Data: d})
		return
	}
	if err := do(e.ID, d.Reason); err != nil {
		if fe := fieldErrors(err); fe != nil {
			d.Errors = fe
			h.render(w, r, http.StatusUnprocessableEntity, "tk_event_reason", view{Data: d})
			return
		}
		h.tkFail(w, r, err)
		return
	}
	flash := "tk-rejected"
	if action == "cancel" {
		flash = "tk-canceled"
	}
	http.Redirect(w, r, "/ticketing/events/"+e.ID+"?ok="+flash, http.StatusSeeOther)
}
