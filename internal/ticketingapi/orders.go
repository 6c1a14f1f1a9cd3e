package ticketingapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
)

// IdempotencyHeader carries the idempotency key of POST
// /api/v1/ticketing/orders.
const IdempotencyHeader = "Idempotency-Key"

func limit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, api.InvalidCoded(invalid.Refuse(nil, "query_not_in_range", "query parameter %s: %s is not a whole number from %d to %d", "limit", s, 1, 1000),
			invalid.Field{Name: "limit", Message: fmt.Sprintf("%q is not a whole number from 1 to 1000", s)})
	}
	return n, nil
}

func (h *handler) listOrders(w http.ResponseWriter, r *http.Request) error {
	if err := query(r, "event_id", "status", "limit"); err != nil {
		return err
	}
	q := r.URL.Query()
	if err := oneOf("status", q.Get("status"), ticketing.OrderStatuses); err != nil {
		return err
	}
	n, err := limit(r)
	if err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	os, err := h.svc.Orders(r.Context(), sc, ticketing.OrderFilter{EventID: q.Get("event_id"), Status: q.Get("status"), Limit: n})
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"orders": os})
	return nil
}

// placeOrder answers 201 with a new order, or 200 with the order an
// Idempotency-Key placed before.
func (h *handler) placeOrder(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	var in ticketing.OrderInput
	if err := h.a.Decode(w, r, 64<<10, &in); err != nil {
		return err
	}
	in.IdempotencyKey = r.Header.Get(IdempotencyHeader)
	// An order placed by a signed-in customer is theirs; any other order
	// (a cashier's sale, a guest checkout through an application's key)
	// belongs to no user, whatever the body says.
	in.Buyer.UserID = ""
	if p := auth.FromContext(r.Context()); p != nil && p.Session != nil && p.User.HasRole(auth.RoleCustomer) {
		in.Buyer.UserID = p.User.ID
	}
	o, created, err := h.svc.PlaceOrder(r.Context(), in)
	if err != nil {
		return fail(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	api.WriteJSON(w, status, o)
	return nil
}

func (h *handler) getOrder(w http.ResponseWriter, r *http.Request) error {
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
	o, err := h.svc.Order(r.Context(), sc, id[0])
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusOK, o)
	return nil
}

// buyer is the user whose own orders the request asks for: the signed-in
// user, or the owner of the request's key; "" for a key of its own, which
// has no orders.
func buyer(r *http.Request) string {
	switch p := auth.FromContext(r.Context()); {
	case p == nil:
		return ""
	case p.Key != nil:
		return p.Key.OwnerID
	default:
		return p.User.ID
	}
}

// myOrders lists the orders the caller placed as a signed-in customer,
// newest first, and no one else's.
func (h *handler) myOrders(w http.ResponseWriter, r *http.Request) error {
	if err := query(r, "status", "limit"); err != nil {
		return err
	}
	if err := oneOf("status", r.URL.Query().Get("status"), ticketing.OrderStatuses); err != nil {
		return err
	}
	n, err := limit(r)
	if err != nil {
		return err
	}
	os := []ticketing.Order{}
	if u := buyer(r); u != "" { // an empty BuyerUserID would keep every order
		if os, err = h.svc.Orders(r.Context(), ticketing.Everything, ticketing.OrderFilter{BuyerUserID: u, Status: r.URL.Query().Get("status"), Limit: n}); err != nil {
			return err
		}
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"orders": os})
	return nil
}

// myOrder answers one of the caller's own orders (by id or number) with
// its lines and tickets; anyone else's, a guest's and an unknown order
// alike are not found.
func (h *handler) myOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	if err := query(r); err != nil {
		return err
	}
	o, err := h.svc.Order(r.Context(), ticketing.Everything, id[0])
	// Another buyer's order and none at all get the same answer, word for
	// word: the answer must not tell that an order exists.
	if u := buyer(r); errors.Is(err, ticketing.ErrNotFound) || err == nil && (u == "" || o.Buyer.UserID != u) {
		err = invalid.Refuse(ticketing.ErrNotFound, "order_unknown", "no order %s of this buyer", id[0])
	}
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusOK, o)
	return nil
}

func (h *handler) cancelOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	reason, err := h.decodeReason(w, r)
	if err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	o, err := h.svc.CancelOrder(r.Context(), sc, id[0], reason)
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusOK, o)
	return nil
}

func (h *handler) requestRefund(w http.ResponseWriter, r *http.Request) error {
	id, err := ids(r, "id")
	if err != nil {
		return err
	}
	var in ticketing.RefundInput
	if err := h.a.Decode(w, r, 64<<10, &in); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	ref, err := h.svc.RequestRefund(r.Context(), sc, id[0], who(r), in)
	if err != nil {
		return fail(err)
	}
	api.WriteJSON(w, http.StatusCreated, ref)
	return nil
}

func (h *handler) listRefunds(w http.ResponseWriter, r *http.Request) error {
	if err := query(r, "order_id", "status", "limit"); err != nil {
		return err
	}
	q := r.URL.Query()
	if err := oneOf("status", q.Get("status"), ticketing.RefundStatuses); err != nil {
		return err
	}
	n, err := limit(r)
	if err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	rs, err := h.svc.Refunds(r.Context(), sc, ticketing.RefundFilter{OrderID: q.Get("order_id"), Status: q.Get("status"), Limit: n})
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"refunds": rs})
	return nil
}

// refundCall runs a call on the refund of the path and answers the refund.
func (h *handler) refundCall(w http.ResponseWriter, r *http.Request, call func(sc ticketing.Scope, id string) (ticketing.Refund, error)) error {
	return scopedCall(h, w, r, call)
}

func (h *handler) getRefund(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	return h.refundCall(w, r, func(sc ticketing.Scope, id string) (ticketing.Refund, error) {
		return h.svc.Refund(r.Context(), sc, id)
	})
}

func (h *handler) approveRefund(w http.ResponseWriter, r *http.Request) error {
	return h.refundCall(w, r, func(sc ticketing.Scope, id string) (ticketing.Refund, error) {
		return h.svc.ApproveRefund(r.Context(), sc, id, who(r))
	})
}

func (h *handler) rejectRefund(w http.ResponseWriter, r *http.Request) error {
	reason, err := h.decodeReason(w, r)
	if err != nil {
		return err
	}
	return h.refundCall(w, r, func(sc ticketing.Scope, id string) (ticketing.Refund, error) {
		return h.svc.RejectRefund(r.Context(), sc, id, who(r), reason)
	})
}

// dashboard answers the dashboard for from..to (YYYY-MM-DD, inclusive;
// default: the 30 days up to today in Asia/Jakarta).
func (h *handler) dashboard(w http.ResponseWriter, r *http.Request) error {
	if err := query(r, "from", "to"); err != nil {
		return err
	}
	loc, err := time.LoadLocation(ticketing.DefaultTimeZone)
	if err != nil {
		loc = time.UTC
	}
	today := time.Now().In(loc)
	to, from := today, today.AddDate(0, 0, -29)
	// The problem's code is its first field's.
	var errs []invalid.Field
	var rule error
	bad := func(f invalid.Field, refusal error) {
		errs = append(errs, f)
		if rule == nil {
			rule = refusal
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if s := r.URL.Query().Get(p.name); s != "" {
			t, err := time.ParseInLocation(time.DateOnly, s, loc)
			if err != nil {
				bad(invalid.Field{Name: p.name, Message: fmt.Sprintf("%q is not a date YYYY-MM-DD", s)},
					invalid.Refuse(nil, "query_not_date", "query parameter %s: %s is not a date YYYY-MM-DD", p.name, s))
				continue
			}
			*p.dst = t
		}
	}
	if len(errs) == 0 && to.Before(from) {
		bad(invalid.Field{Name: "to", Message: "must not be before from"}, invalid.Refuse(nil, "period_reversed", "the period's end (to) is before its start (from)"))
	}
	if len(errs) == 0 && to.Sub(from) > 3*366*24*time.Hour {
		bad(invalid.Field{Name: "from", Message: "the period is at most three years"}, invalid.Refuse(nil, "period_too_long", "the period is at most three years"))
	}
	if len(errs) > 0 {
		return api.InvalidCoded(rule, errs...)
	}
	d, err := h.svc.Dashboard(r.Context(), from, to)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, d)
	return nil
}
