package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/payment"
)

// Orders with the original's columns and a detail page with the order's
// timeline; refunds (request, approve, reject, partial); and the cashier's
// counter (find an order by number, take cash, print its tickets).

var orderStatuses = []string{ticketing.OrderPending, ticketing.OrderValidated, ticketing.OrderExpired, ticketing.OrderCanceled,
	ticketing.OrderPartiallyRefunded, ticketing.OrderRefunded}

type tkOrdersData struct {
	All      bool // the scope covers every merchant
	Orders   []ticketing.Order
	Events   []ticketing.Event
	Zones    map[string]string // event id → time zone
	Statuses []string
	Event    string
	Status   string
	Search   string
	Limit    int
}

func (h *Handler) tkOrders(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	ctx := r.Context()
	q := r.URL.Query()
	d := tkOrdersData{All: sc.All, Statuses: orderStatuses, Event: q.Get("event"), Status: q.Get("status"), Search: strings.TrimSpace(q.Get("q")), Limit: 100, Zones: map[string]string{}}
	var err error
	if d.Events, err = h.cfg.Ticketing.Events(ctx, sc, ticketing.EventFilter{}); err != nil {
		h.serverError(w, r, err)
		return
	}
	for _, e := range d.Events {
		d.Zones[e.ID] = e.TimeZone
	}
	if d.Search != "" {
		// A number (or id) finds its order, in the scope.
		o, err := h.cfg.Ticketing.Order(ctx, sc, d.Search)
		if err == nil {
			d.Orders = []ticketing.Order{o}
		} else if !errors.Is(err, ticketing.ErrNotFound) {
			h.serverError(w, r, err)
			return
		}
	} else if d.Orders, err = h.cfg.Ticketing.Orders(ctx, sc, ticketing.OrderFilter{EventID: d.Event, Status: d.Status, Limit: d.Limit}); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "tk_orders", view{Data: d})
}

// tkStep is one entry of an order's timeline.
type tkStep struct {
	At   time.Time
	What string
	Note string
}

type tkOrderData struct {
	Order    ticketing.Order
	Event    ticketing.Event
	Refunds  []ticketing.Refund
	Intent   *payment.Intent
	Timeline []tkStep
	Valid    int // tickets still valid
	Left     int64
	Form     struct{ Kind, Amount, Reason string }
	Errors   map[string]string
	Topic    bool // the orders topic may be browsed
}

func (h *Handler) tkOrder(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	h.tkOrderPage(w, r, p, sc, http.StatusOK, tkOrderData{})
}

func (h *Handler) tkOrderPage(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope, status int, d tkOrderData) {
	ctx := r.Context()
	o, e, ok := h.pathOrder(w, r, sc, "id")
	if !ok {
		return
	}
	d.Order, d.Event = o, e
	var err error
	if d.Refunds, err = h.cfg.Ticketing.Refunds(ctx, sc, ticketing.RefundFilter{OrderID: o.ID, Limit: 1000}); err != nil {
		h.serverError(w, r, err)
		return
	}
	if h.cfg.Payments != nil && p.Can(auth.PermPaymentRead, "") {
		if in, err := h.cfg.Payments.IntentByNumber(ctx, payment.Scope(sc), o.Number); err == nil {
			d.Intent = &in
		} else if !errors.Is(err, payment.ErrNotFound) {
			h.serverError(w, r, err)
			return
		}
	}
	for _, t := range o.Tickets {
		if t.Status == ticketing.TicketValid {
			d.Valid++
		}
	}
	d.Left = o.PaymentReceived - o.Refunded
	if d.Form.Kind == "" {
		d.Form.Kind = ticketing.RefundFull
	}
	d.Timeline = orderTimeline(pageLang(r), d)
	d.Topic = h.cfg.Broker != nil && p.Can(auth.PermRecordsRead, "")
	h.render(w, r, status, "tk_order", view{Data: d})
}

// pathOrder reads the order the path names in {name} (by id or number)
// and its event, in the scope; on an error it answers and returns false.
func (h *Handler) pathOrder(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, name string) (ticketing.Order, ticketing.Event, bool) {
	o, err := h.cfg.Ticketing.Order(r.Context(), sc, r.PathValue(name))
	var e ticketing.Event
	if err == nil {
		e, err = h.cfg.Ticketing.Event(r.Context(), sc, o.EventID)
	}
	if err != nil {
		h.tkFail(w, r, err)
		return o, e, false
	}
	return o, e, true
}

// orderTimeline lists what happened to an order, oldest first, from the
// service's records of it: placed, the payment, the tickets issued and
// revoked, each refund's request, decision and payout, and its closing.
func orderTimeline(lang string, d tkOrderData) []tkStep {
	o, tz := d.Order, d.Event.TimeZone
	t := func(key string, args ...any) string { return translate(lang, key, args...) }
	steps := []tkStep{{At: o.PlacedAt, What: t("tk.tl.placed"), Note: t("tk.tl.placed.note", formatIDR(o.Total), o.Buyer.Name, o.Method, formatWhen(lang, o.HoldExpires, tz))}}
	if in := d.Intent; in != nil {
		steps = append(steps, tkStep{At: in.CreatedAt, What: t("tk.tl.payreq"), Note: t("tk.tl.payreq.note", formatIDR(in.Amount), strings.ToLower(in.Method), formatWhen(lang, in.PayBy, tz))})
		if !in.PaidAt.IsZero() {
			note := t("tk.tl.received", formatIDR(max(in.Received, in.Amount)))
			if in.PaidBy != "" {
				note += " " + t("tk.by", in.PaidBy)
			}
			if in.Late {
				note += " " + t("tk.tl.late")
			}
			steps = append(steps, tkStep{At: in.PaidAt, What: t("tk.tl.paysucceeded"), Note: note})
		}
	}
	if !o.PaidAt.IsZero() {
		steps = append(steps, tkStep{At: o.PaidAt, What: t("tk.tl.paid"), Note: t("tk.tl.received", formatIDR(o.PaymentReceived))})
	}
	if n := len(o.Tickets); n > 0 {
		steps = append(steps, tkStep{At: o.Tickets[0].IssuedAt, What: t("tk.tl.issued"), Note: t("tk.tl.issued.note", n)})
	}
	for _, tk := range o.Tickets {
		if !tk.RevokedAt.IsZero() {
			steps = append(steps, tkStep{At: tk.RevokedAt, What: t("tk.tl.revoked"), Note: tk.AreaName + " · " + truncate(tk.ID, 16)})
		}
	}
	for _, rf := range d.Refunds {
		steps = append(steps, tkStep{At: rf.RequestedAt, What: t("tk.tl.refundreq"), Note: t("tk.tl.refundreq.note", t("tk.status."+rf.Kind), formatIDR(rf.Amount), rf.RequestedBy, rf.Reason)})
		if !rf.DecidedAt.IsZero() {
			steps = append(steps, tkStep{At: rf.DecidedAt, What: t("tk.tl.refund", t("tk.status."+rf.Status)), Note: strings.TrimSpace(t("tk.by", rf.DecidedBy) + " " + rf.DecisionReason)})
		}
		if !rf.RefundedAt.IsZero() {
			steps = append(steps, tkStep{At: rf.RefundedAt, What: t("tk.tl.returned"), Note: formatIDR(rf.Amount)})
		}
	}
	if !o.ClosedAt.IsZero() {
		steps = append(steps, tkStep{At: o.ClosedAt, What: t("tk.tl.closed", t("tk.status."+o.Status)), Note: o.Reason})
	}
	slices.SortStableFunc(steps, func(a, b tkStep) int { return a.At.Compare(b.At) })
	return steps
}

func (h *Handler) tkCancelOrder(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	id := r.PathValue("id")
	o, err := h.cfg.Ticketing.Order(r.Context(), sc, id)
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	lang := pageLang(r)
	if !h.confirmed(w, r, confirmData{Title: translate(lang, "tk.cancelorder.title", o.Number), Action: "/ticketing/orders/" + o.ID + "/cancel", Button: translate(lang, "tk.cancelorder.button"),
		Cancel: "/ticketing/orders/" + o.ID, Message: translate(lang, "tk.cancelorder.msg", o.Number)}) {
		return
	}
	if _, err := h.cfg.Ticketing.CancelOrder(r.Context(), sc, o.ID, "canceled in the console by "+p.Name()); err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/orders/"+o.ID+"?ok=tk-canceled", http.StatusSeeOther)
}

func (h *Handler) tkRequestRefund(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	var d tkOrderData
	d.Form.Kind, d.Form.Amount, d.Form.Reason = r.PostFormValue("kind"), r.PostFormValue("amount"), strings.TrimSpace(r.PostFormValue("reason"))
	in := ticketing.RefundInput{Kind: d.Form.Kind, Reason: d.Form.Reason, TicketIDs: r.PostForm["ticket_ids"]}
	errs := map[string]string{}
	if in.Kind == ticketing.RefundPartial {
		in.Amount = formInt(r, "amount", errs)
	}
	var err error
	if len(errs) == 0 {
		_, err = h.cfg.Ticketing.RequestRefund(r.Context(), sc, r.PathValue("id"), p.Name(), in)
	}
	if fieldErrors(err) != nil || len(errs) > 0 {
		d.Errors = mergeErrors(errs, err)
		h.tkOrderPage(w, r, p, sc, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/orders/"+r.PathValue("id")+"?ok=tk-requested#refunds", http.StatusSeeOther)
}

// refundsShown is how many refunds the refunds page lists, newest first.
const refundsShown = 200

type tkRefundsData struct {
	Refunds  []ticketing.Refund
	Numbers  map[string]string // order id → number
	Statuses []string
	Status   string
	Capped   bool // more refunds than shown
}

func (h *Handler) tkRefunds(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	ctx := r.Context()
	d := tkRefundsData{Status: r.URL.Query().Get("status"), Numbers: map[string]string{},
		Statuses: []string{ticketing.RefundRequested, ticketing.RefundApproved, ticketing.RefundRejected, ticketing.RefundRefunded}}
	var err error
	if d.Refunds, err = h.cfg.Ticketing.Refunds(ctx, sc, ticketing.RefundFilter{Status: d.Status, Limit: refundsShown}); err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Capped = len(d.Refunds) == refundsShown
	for _, rf := range d.Refunds {
		if _, ok := d.Numbers[rf.OrderID]; ok {
			continue
		}
		if o, err := h.cfg.Ticketing.Order(ctx, sc, rf.OrderID); err == nil {
			d.Numbers[rf.OrderID] = o.Number
		}
	}
	h.render(w, r, http.StatusOK, "tk_refunds", view{Data: d})
}

func (h *Handler) tkApproveRefund(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	ctx := r.Context()
	rf, err := h.cfg.Ticketing.Refund(ctx, sc, r.PathValue("id"))
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	lang := pageLang(r)
	msg := translate(lang, "tk.approverefund.msg", translate(lang, "tk.status."+rf.Kind), formatIDR(rf.Amount)) + " "
	switch rf.Kind {
	case ticketing.RefundPartial:
		msg += translate(lang, "tk.approverefund.partial")
	default:
		msg += translate(lang, "tk.approverefund.tickets")
	}
	if !h.confirmed(w, r, confirmData{Title: translate(lang, "tk.approverefund.title"), Action: "/ticketing/refunds/" + rf.ID + "/approve", Button: translate(lang, "tk.approverefund.title"),
		Cancel: "/ticketing/refunds", Message: msg}) {
		return
	}
	if _, err := h.cfg.Ticketing.ApproveRefund(ctx, sc, rf.ID, p.Name()); err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/refunds?ok=tk-refund-ok", http.StatusSeeOther)
}

func (h *Handler) tkRejectRefund(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if _, err := h.cfg.Ticketing.RejectRefund(r.Context(), sc, r.PathValue("id"), p.Name(), reason); err != nil {
		h.tkFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ticketing/refunds?ok=tk-refund-no", http.StatusSeeOther)
}

// The counter: a cashier finds an order by its number, takes the cash and
// prints the tickets.

type tkCounterData struct {
	Number   string
	Order    *ticketing.Order
	Intent   *payment.Intent
	Event    ticketing.Event
	Error    string
	Received string
	Errors   map[string]string
	Change   int64
	Key      string // the idempotency key of the cash form
}

func (h *Handler) tkCounter(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	d := tkCounterData{Number: strings.TrimSpace(r.URL.Query().Get("number"))}
	h.tkCounterPage(w, r, sc, http.StatusOK, d)
}

func (h *Handler) tkCounterPage(w http.ResponseWriter, r *http.Request, sc ticketing.Scope, status int, d tkCounterData) {
	ctx := r.Context()
	if d.Number != "" {
		o, err := h.cfg.Ticketing.Order(ctx, sc, d.Number)
		switch {
		case errors.Is(err, ticketing.ErrNotFound):
			d.Error = translate(pageLang(r), "tk.counter.notfound", d.Number)
			status = http.StatusNotFound
		case err != nil:
			h.serverError(w, r, err)
			return
		default:
			d.Order = &o
			if d.Event, err = h.cfg.Ticketing.Event(ctx, sc, o.EventID); err != nil {
				h.tkFail(w, r, err)
				return
			}
			if in, err := h.cfg.Payments.IntentByNumber(ctx, payment.Scope(sc), o.Number); err == nil {
				d.Intent = &in
			} else if !errors.Is(err, payment.ErrNotFound) {
				h.serverError(w, r, err)
				return
			}
			if d.Key == "" {
				d.Key = newFormKey()
			}
		}
	}
	h.render(w, r, status, "tk_counter", view{Data: d})
}

// newFormKey is a random idempotency key for a form, so that a cash form
// sent twice takes the money once.
func newFormKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "console-" + hex.EncodeToString(b[:])
}

func (h *Handler) tkTakeCash(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	ctx := r.Context()
	o, err := h.cfg.Ticketing.Order(ctx, sc, r.PathValue("order"))
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	d := tkCounterData{Number: o.Number, Received: r.PostFormValue("received"), Key: r.PostFormValue("key"), Errors: map[string]string{}}
	received := formInt(r, "received", d.Errors)
	if len(d.Errors) > 0 {
		h.tkCounterPage(w, r, sc, http.StatusUnprocessableEntity, d)
		return
	}
	in, err := h.cfg.Payments.IntentByNumber(ctx, payment.Scope(sc), o.Number)
	if err != nil {
		h.tkFail(w, r, err)
		return
	}
	paid, err := h.cfg.Payments.ConfirmCash(ctx, payment.Scope(sc), in.ID, payment.CashPayment{Received: received, Cashier: p.Name(), Key: d.Key})
	if fe := fieldErrors(err); fe != nil {
		d.Errors = fe
		h.tkCounterPage(w, r, sc, http.StatusUnprocessableEntity, d)
		return
	}
	if errors.Is(err, payment.ErrState) {
		d.Error = refusalMsg(pageLang(r), err)
		h.tkCounterPage(w, r, sc, http.StatusConflict, d)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.InfoContext(ctx, "console: cash taken", "order", o.Number, "amount", paid.Amount, "by", p.Name())
	http.Redirect(w, r, "/ticketing/counter?number="+o.Number+"&ok=tk-paid", http.StatusSeeOther)
}

type tkTicketsData struct {
	Order   ticketing.Order
	Event   ticketing.Event
	Tickets []tkPrintedTicket
}

type tkPrintedTicket struct {
	ticketing.Ticket
	QR template.HTML
}

// tkPrintTickets shows an order's valid tickets with their QR codes, one
// card each, for printing at the counter.
func (h *Handler) tkPrintTickets(w http.ResponseWriter, r *http.Request, p *auth.Principal, sc ticketing.Scope) {
	o, e, ok := h.pathOrder(w, r, sc, "order")
	if !ok {
		return
	}
	d := tkTicketsData{Order: o, Event: e}
	for _, t := range o.Tickets {
		if t.Status != ticketing.TicketValid {
			continue
		}
		qr, err := qrSVG(t.Code, "QR code of the "+t.AreaName+" ticket")
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		d.Tickets = append(d.Tickets, tkPrintedTicket{Ticket: t, QR: qr})
	}
	h.render(w, r, http.StatusOK, "tk_tickets", view{Data: d})
}
