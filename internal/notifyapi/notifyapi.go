// Package notifyapi serves the notification mailbox (package
// ticketing/notify) on the server's HTTP API under /api/v1/notify.
package notifyapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing/notify"
)

// Register adds the mailbox routes to mux, served by a under the rules of
// every /api/v1 route, each needing notify.read:
//
//	GET /api/v1/notify/messages                       list, newest first
//	GET /api/v1/notify/messages/{id}                  one, with bodies and images
//	GET /api/v1/notify/messages/{id}/parts/{part}     one inline image
//
// docs/api.md describes each.
func Register(a *api.Server, mux *http.ServeMux, svc *notify.Service) {
	h := &handler{svc: svc}
	read := []auth.Permission{auth.PermNotifyRead}
	a.Route(mux, "GET /api/v1/notify/messages", read, h.list)
	a.Route(mux, "GET /api/v1/notify/messages/{id}", read, h.message)
	a.Route(mux, "GET /api/v1/notify/messages/{id}/parts/{part}", read, h.part)
}

type handler struct{ svc *notify.Service }

// MessageList answers GET /api/v1/notify/messages.
type MessageList struct {
	Messages []notify.Message `json:"messages"`
}

var (
	kinds = []string{notify.KindOrderConfirmation, notify.KindETicket, notify.KindOrderExpired, notify.KindOrderCanceled,
		notify.KindLatePaymentRefund, notify.KindRefund, notify.KindCustomerConfirmation}
	states = []string{notify.StateMailbox, notify.StatePending, notify.StateSent, notify.StateFailed}
	params = []string{"to", "kind", "order_id", "state", "limit"}
)

func invalidRequest(errs []invalid.Field) error {
	detail := errs[0].Name + ": " + errs[0].Message
	if len(errs) > 1 {
		detail += " (and more; see errors)"
	}
	return api.Coded(api.Invalid(detail, errs...), "query_invalid", errs[0].Name)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	var errs []invalid.Field
	fail := func(field, format string, args ...any) {
		errs = append(errs, invalid.Field{Name: field, Message: fmt.Sprintf(format, args...)})
	}
	for name, vs := range v {
		switch {
		case !slices.Contains(params, name):
			fail(name, "is not a parameter of this route; use %s", strings.Join(params, ", "))
		case len(vs) > 1:
			fail(name, "is given %d times; give it once", len(vs))
		}
	}
	q := notify.Query{To: v.Get("to"), Kind: v.Get("kind"), OrderID: v.Get("order_id"), State: v.Get("state"), Limit: 50}
	if q.Kind != "" && !slices.Contains(kinds, q.Kind) {
		fail("kind", "%q: use one of %s", q.Kind, strings.Join(kinds, ", "))
	}
	if q.State != "" && !slices.Contains(states, q.State) {
		fail("state", "%q: use one of %s", q.State, strings.Join(states, ", "))
	}
	if len(q.To) > 254 || len(q.OrderID) > 200 {
		fail("to", "an address is at most 254 characters and an order id 200")
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			fail("limit", "%q: use a whole number from 1 to 500", s)
		}
		q.Limit = n
	}
	if len(errs) > 0 {
		return invalidRequest(errs)
	}
	list, err := h.svc.Messages(r.Context(), q)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, MessageList{Messages: list})
	return nil
}

func (h *handler) get(r *http.Request) (notify.Message, error) {
	if len(r.URL.Query()) > 0 {
		return notify.Message{}, invalidRequest([]invalid.Field{{Name: "(query)", Message: "this route takes no query parameters"}})
	}
	m, err := h.svc.Message(r.Context(), r.PathValue("id"))
	if errors.Is(err, notify.ErrNotFound) {
		return notify.Message{}, api.Refused(api.NotFound(err.Error()), err)
	}
	return m, err
}

func (h *handler) message(w http.ResponseWriter, r *http.Request) error {
	m, err := h.get(r)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, m)
	return nil
}

// part serves one inline image as itself, so a page can show it.
func (h *handler) part(w http.ResponseWriter, r *http.Request) error {
	m, err := h.get(r)
	if err != nil {
		return err
	}
	id := r.PathValue("part")
	i := slices.IndexFunc(m.Parts, func(p notify.Part) bool { return p.ContentID == id })
	if i < 0 {
		return api.Coded(api.NotFound(fmt.Sprintf("message %s has no part %q", m.ID, id)), "part_unknown", m.ID, id)
	}
	w.Header().Set("Content-Type", m.Parts[i].ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.Parts[i].Data)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(m.Parts[i].Data)
	return nil
}
