// Package paymentapi serves the payment service (package
// ticketing/payment) on the server's HTTP API under /api/v1/payment: the
// cashier's counter, refunds, the simulated online provider and its signed
// callback.
package paymentapi

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing/payment"
)

// IdempotencyHeader names the request header that makes a payment action
// safe to send again: the same key again answers as the first time and has
// no second effect.
const IdempotencyHeader = "Idempotency-Key"

// bodyLimit bounds request bodies, callbacks included.
const bodyLimit = 64 << 10

// Register adds the payment routes to mux, served by a under the rules of
// every /api/v1 route:
//
//	GET  /api/v1/payment/intents                  list intents          payment.read
//	GET  /api/v1/payment/intents/{id}             one intent            payment.read
//	GET  /api/v1/payment/orders/{number}          intent of an order    payment.read
//	POST /api/v1/payment/intents/{id}/cash        cash received         payment.cash
//	GET  /api/v1/payment/refunds                  list refunds          payment.read
//	GET  /api/v1/payment/refunds/{id}             one refund            payment.read
//	POST /api/v1/payment/refunds/{id}/complete    cash refund paid out  payment.cash
//	POST /api/v1/payment/provider/pay             simulate a payment    payment.simulate
//	POST /api/v1/payment/provider/callback        provider callback     signature
//
// Every route but the callback reads and acts only on the payments in the
// scope scope gives for the request (the payments of the orders of the
// merchants the caller acts for); another merchant's payment answers 404,
// as an unknown one does. docs/api.md describes each.
func Register(a *api.Server, mux *http.ServeMux, svc *payment.Service, scope func(*http.Request) (payment.Scope, error)) {
	h := &handler{a: a, svc: svc, scope: scope}
	read := []auth.Permission{auth.PermPaymentRead}
	cash := []auth.Permission{auth.PermPaymentCash}
	const p = "/api/v1/payment"
	a.Route(mux, "GET "+p+"/intents", read, h.listIntents)
	a.Route(mux, "GET "+p+"/intents/{id}", read, h.intent)
	a.Route(mux, "GET "+p+"/orders/{number}", read, h.byNumber)
	a.Route(mux, "POST "+p+"/intents/{id}/cash", cash, h.confirmCash)
	a.Route(mux, "GET "+p+"/refunds", read, h.listRefunds)
	a.Route(mux, "GET "+p+"/refunds/{id}", read, h.refund)
	a.Route(mux, "POST "+p+"/refunds/{id}/complete", cash, h.completeRefund)
	a.Route(mux, "POST "+p+"/provider/pay", []auth.Permission{auth.PermPaymentSimulate}, h.simulatePay)
	// The provider authenticates by its signature, not by a key of ours.
	a.Route(mux, "POST "+p+"/provider/callback", nil, h.callback)
}

type handler struct {
	a     *api.Server
	svc   *payment.Service
	scope func(*http.Request) (payment.Scope, error)
}

// problem turns the service's errors into problems; others are the
// server's to answer (500).
func problem(err error) error {
	var fe *invalid.Fields
	switch {
	case errors.Is(err, payment.ErrInvalid) && errors.As(err, &fe):
		return api.Coded(api.Invalid(fe.List[0].Name+": "+fe.List[0].Message, fe.List...), "body_invalid", fe.List[0].Name)
	case errors.Is(err, payment.ErrNotFound):
		return api.Refused(api.NotFound(err.Error()), err)
	case errors.Is(err, payment.ErrState):
		return api.Refused(api.Conflict(err.Error()), err)
	case errors.Is(err, payment.ErrSignature):
		// The detail keeps the service's words on what was wrong.
		return api.Refused(&api.Problem{Type: api.TypeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: err.Error()},
			invalid.Refuse(nil, "signature_invalid", "the provider's signature is missing, wrong or stale"))
	}
	return err
}

// idempotencyKey returns the request's Idempotency-Key, checked.
func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get(IdempotencyHeader)
	if k == "" {
		return "", nil
	}
	if len(k) > 255 || strings.ContainsFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		const msg = "must be 1 to 255 printable ASCII characters without spaces"
		return "", api.InvalidCoded(invalid.Refuse(nil, "idempotency_key_invalid", "the "+IdempotencyHeader+" header "+msg),
			invalid.Field{Name: IdempotencyHeader, Message: msg})
	}
	return k, nil
}

// query reads a request's query parameters: each is allowed once, unknown
// ones are refused.
type query struct {
	r    *http.Request
	errs []invalid.Field
	// rule is the code and values of the first error (unknown parameters
	// come first, named all in one), as the ticketing API gives them.
	rule error
}

func newQuery(r *http.Request, allowed ...string) *query {
	q := &query{r: r}
	names := slices.Sorted(maps.Keys(r.URL.Query()))
	var unknown []string
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		rule := invalid.Refuse(nil, "query_unknown", "unknown query parameter: %s", strings.Join(unknown, ", "))
		for _, name := range unknown {
			q.fail(rule, name, "is not a parameter of this route; use %s", strings.Join(allowed, ", "))
		}
	}
	for _, name := range names {
		if vs := r.URL.Query()[name]; len(vs) > 1 && slices.Contains(allowed, name) {
			q.fail(invalid.Refuse(nil, "query_repeated", "query parameter %s is given more than once", name),
				name, "is given %d times; give it once", len(vs))
		}
	}
	return q
}

// fail records that field broke rule, an invalid.Refuse of no kind; the
// problem carries the first rule broken.
func (q *query) fail(rule error, field, format string, args ...any) {
	if q.rule == nil {
		q.rule = rule
	}
	q.errs = append(q.errs, invalid.Field{Name: field, Message: fmt.Sprintf(format, args...)})
}

// oneOf returns the parameter, which must be empty or one of values.
func (q *query) oneOf(name string, values ...string) string {
	v := q.r.URL.Query().Get(name)
	if v != "" && !slices.Contains(values, v) {
		q.fail(invalid.Refuse(nil, "query_not_one_of", "query parameter %s: %s is not one of %s", name, v, strings.Join(values, ", ")),
			name, "%q: use one of %s", v, strings.Join(values, ", "))
	}
	return v
}

func (q *query) str(name string, max int) string {
	v := q.r.URL.Query().Get(name)
	if len(v) > max {
		q.fail(invalid.Refuse(nil, "query_too_long", "query parameter %s is longer than %d characters", name, max),
			name, "is longer than %d characters", max)
	}
	return v
}

// limit returns the limit parameter: 1 to 1000, default 100.
func (q *query) limit() int {
	v := q.r.URL.Query().Get("limit")
	if v == "" {
		return 100
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		q.fail(invalid.Refuse(nil, "query_not_in_range", "query parameter %s: %s is not a whole number from %d to %d", "limit", v, 1, 1000),
			"limit", "%q: use a whole number from 1 to 1000", v)
	}
	return n
}

func (q *query) err() error {
	if len(q.errs) == 0 {
		return nil
	}
	detail := q.errs[0].Name + ": " + q.errs[0].Message
	if len(q.errs) > 1 {
		detail += " (and more; see errors)"
	}
	return api.Refused(api.Invalid(detail, q.errs...), q.rule)
}

// IntentList answers GET /api/v1/payment/intents.
type IntentList struct {
	Intents []payment.Intent `json:"intents"`
}

// RefundList answers GET /api/v1/payment/refunds.
type RefundList struct {
	Refunds []payment.Refund `json:"refunds"`
}

var intentStates = []string{payment.StateRequested, payment.StateSucceeded, payment.StateFailed, payment.StateExpired,
	payment.StateCanceled, payment.StatePartiallyRefunded, payment.StateRefunded}

func (h *handler) listIntents(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r, "state", "limit")
	iq := payment.IntentQuery{State: q.oneOf("state", intentStates...), Limit: q.limit()}
	if err := q.err(); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	list, err := h.svc.Intents(r.Context(), sc, iq)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, IntentList{Intents: list})
	return nil
}

func noQuery(r *http.Request) error { return newQuery(r).err() }

// answer runs call in the request's scope and answers what it returns
// (200), or its error as a problem.
func answer[T any](h *handler, w http.ResponseWriter, r *http.Request, call func(sc payment.Scope) (T, error)) error {
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	v, err := call(sc)
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (h *handler) intent(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	return answer(h, w, r, func(sc payment.Scope) (payment.Intent, error) {
		return h.svc.Intent(r.Context(), sc, r.PathValue("id"))
	})
}

func (h *handler) byNumber(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	return answer(h, w, r, func(sc payment.Scope) (payment.Intent, error) {
		return h.svc.IntentByNumber(r.Context(), sc, r.PathValue("number"))
	})
}

// CashRequest is the body of POST /api/v1/payment/intents/{id}/cash.
type CashRequest struct {
	// Received is the cash handed over, in whole rupiah: at least the
	// amount due.
	Received int64 `json:"received"`
}

// cashier names the principal who acts at the counter.
func cashier(r *http.Request) string {
	if p := auth.FromContext(r.Context()); p != nil {
		return p.Name()
	}
	return ""
}

func (h *handler) confirmCash(w http.ResponseWriter, r *http.Request) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	var in CashRequest
	if err := h.a.Decode(w, r, bodyLimit, &in); err != nil {
		return err
	}
	if in.Received <= 0 {
		return api.InvalidCoded(invalid.Refuse(nil, "cash_received_required", "received: is required, a positive number of rupiah"),
			invalid.Field{Name: "received", Message: "is required, a positive number of rupiah"})
	}
	return answer(h, w, r, func(sc payment.Scope) (payment.Intent, error) {
		return h.svc.ConfirmCash(r.Context(), sc, r.PathValue("id"), payment.CashPayment{Received: in.Received, Cashier: cashier(r), Key: key})
	})
}

var refundStates = []string{payment.RefundPending, payment.RefundRefunded}

func (h *handler) listRefunds(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r, "state", "order_id", "limit")
	rq := payment.RefundQuery{State: q.oneOf("state", refundStates...), OrderID: q.str("order_id", 200), Limit: q.limit()}
	if err := q.err(); err != nil {
		return err
	}
	sc, err := h.scope(r)
	if err != nil {
		return err
	}
	list, err := h.svc.Refunds(r.Context(), sc, rq)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, RefundList{Refunds: list})
	return nil
}

func (h *handler) refund(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	return answer(h, w, r, func(sc payment.Scope) (payment.Refund, error) {
		return h.svc.Refund(r.Context(), sc, r.PathValue("id"))
	})
}

func (h *handler) completeRefund(w http.ResponseWriter, r *http.Request) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	return answer(h, w, r, func(sc payment.Scope) (payment.Refund, error) {
		return h.svc.CompleteRefund(r.Context(), sc, r.PathValue("id"), cashier(r), key)
	})
}

func (h *handler) simulatePay(w http.ResponseWriter, r *http.Request) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	var in payment.SimulatedPayment
	if err := h.a.Decode(w, r, bodyLimit, &in); err != nil {
		return err
	}
	return answer(h, w, r, func(sc payment.Scope) (payment.Simulation, error) {
		return h.svc.SimulatePay(r.Context(), sc, in, key)
	})
}

// callback is the provider's signed callback. It answers as soon as the
// event is recorded: 200 for a new event and for one seen before (with
// duplicate true), 401 for a bad or stale signature (nothing recorded).
func (h *handler) callback(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			rf := invalid.Refuse(nil, "body_too_large", "the callback body is larger than %d bytes", bodyLimit)
			return api.Refused(&api.Problem{Type: api.TypeTooLarge, Title: "Request too large", Status: http.StatusRequestEntityTooLarge,
				Detail: rf.Error()}, rf)
		}
		return err
	}
	res, err := h.svc.Callback(r.Context(), r.Header.Get(payment.HeaderTimestamp), r.Header.Get(payment.HeaderSignature), body)
	if err != nil {
		return problem(err)
	}
	api.WriteJSON(w, http.StatusOK, res)
	return nil
}
