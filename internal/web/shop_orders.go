package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/payment"
)

// orderPage is what the order's secret page shows.
type orderPage struct {
	Order   ticketing.Order
	Event   ticketing.Event
	Link    string
	Tickets int
	// Intent is the order's payment, once the payment service opened it.
	Intent *payment.Intent
	// QR is the online payment's QR code.
	QR template.HTML
	// Refresh asks the page's script to load it again in that many
	// seconds: the payment is being prepared, or the tickets issued. (Not
	// a meta refresh: a timed refresh fails WCAG 2.2.1.)
	Refresh  int
	Refunds  []ticketing.Refund
	Refund   refundForm
	Flash    string
	Provider bool
}

type refundForm struct {
	Reason string
	Error  string
	Open   bool
}

// loadOrder reads what an order's pages show. false: the link is not one
// the shop made, and the caller has answered 404.
func (s *shop) loadOrder(w http.ResponseWriter, r *http.Request) (orderPage, bool) {
	o, token, ok, err := s.orderOf(r)
	if err != nil {
		s.fail(w, r, err)
		return orderPage{}, false
	}
	if !ok {
		s.notFound(w, r)
		return orderPage{}, false
	}
	e, err := s.cfg.Ticketing.Event(r.Context(), ticketing.Everything, o.EventID)
	if err != nil {
		s.fail(w, r, err)
		return orderPage{}, false
	}
	p := orderPage{Order: o, Event: e, Link: "/shop/orders/" + token}
	for _, l := range o.Lines {
		p.Tickets += l.Quantity
	}
	if s.cfg.Payment != nil {
		// The order's link is the credential: its payment is the buyer's.
		in, err := s.cfg.Payment.IntentByNumber(r.Context(), payment.Everything, o.Number)
		switch {
		case err == nil:
			p.Intent = &in
		case !errors.Is(err, payment.ErrNotFound):
			s.fail(w, r, err)
			return orderPage{}, false
		}
	}
	p.Refunds, err = s.cfg.Ticketing.Refunds(r.Context(), ticketing.Everything, ticketing.RefundFilter{OrderID: o.ID})
	if err != nil {
		s.fail(w, r, err)
		return orderPage{}, false
	}
	return p, true
}

func (s *shop) order(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadOrder(w, r)
	if !ok {
		return
	}
	if r.URL.Query().Get("ok") == "refund" {
		p.Flash = translate(s.lang(r), "order.refund.sent")
	}
	s.renderOrder(w, r, http.StatusOK, p)
}

func (s *shop) renderOrder(w http.ResponseWriter, r *http.Request, status int, p orderPage) {
	o := p.Order
	if o.Status == ticketing.OrderPending && s.cfg.Payment != nil {
		switch {
		case p.Intent == nil:
			p.Refresh = 2 // the payment service has not opened the payment yet
		case p.Intent.State == payment.StateSucceeded:
			p.Refresh = 2 // paid: the tickets are being issued
		case p.Intent.Method == messages.MethodCash && p.Intent.State == payment.StateRequested:
			p.Refresh = 15 // the buyer is at the counter: the page follows the cashier
		case p.Intent.Method == messages.MethodOnline && p.Intent.State == payment.StateRequested:
			p.Provider = true
			if p.Intent.QR != "" {
				// A string too long for a QR code shows none; the account stays.
				p.QR, _ = qrSVG(p.Intent.QR, translate(s.lang(r), "order.online.title"))
			}
		}
	}
	p.Refund.Open = (o.Status == ticketing.OrderValidated || o.Status == ticketing.OrderPartiallyRefunded) && !pendingRefund(p.Refunds)
	s.render(w, r, status, "shop_order", "", p)
}

// pendingRefund reports whether a refund of the order waits for a
// decision; the buyer then cannot ask again.
func pendingRefund(refunds []ticketing.Refund) bool {
	for _, rf := range refunds {
		if rf.Status == ticketing.RefundRequested || rf.Status == ticketing.RefundApproved {
			return true
		}
	}
	return false
}

// providerPage plays the online payment provider's page.
func (s *shop) providerPage(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadOrder(w, r)
	if !ok {
		return
	}
	s.renderProvider(w, r, http.StatusOK, p, "")
}

type providerPage struct {
	orderPage
	Key   string
	Error string
}

func (s *shop) renderProvider(w http.ResponseWriter, r *http.Request, status int, p orderPage, msg string) {
	in := p.Intent
	if in == nil || in.Method != messages.MethodOnline || in.State != payment.StateRequested && in.State != payment.StateFailed {
		s.message(w, r, http.StatusConflict, "provider.title", "provider.closed")
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	s.render(w, r, status, "shop_provider", "provider.title", providerPage{orderPage: p, Key: base64.RawURLEncoding.EncodeToString(b[:]), Error: msg})
}

// providerPay has the simulated provider pay (or fail) the order's
// payment: it signs the provider's event and posts it to the payment
// service's callback route, whose signature check it passes like any
// provider's callback.
func (s *shop) providerPay(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadOrder(w, r)
	if !ok {
		return
	}
	if p.Intent == nil || s.cfg.Payment == nil {
		s.message(w, r, http.StatusConflict, "provider.title", "provider.closed")
		return
	}
	outcome := payment.ProviderPaid
	if r.PostFormValue("outcome") == payment.ProviderFailed {
		outcome = payment.ProviderFailed
	}
	sim, err := s.cfg.Payment.SimulatePay(r.Context(), payment.Everything, payment.SimulatedPayment{PaymentID: p.Intent.ID, Outcome: outcome,
		Reason: map[bool]string{true: "declined on the provider's page"}[outcome == payment.ProviderFailed]}, r.PostFormValue("key"))
	var fields *invalid.Fields
	switch {
	case errors.As(err, &fields), errors.Is(err, payment.ErrState):
		s.renderProvider(w, r, http.StatusConflict, p, translate(s.lang(r), "provider.refused", refusalMsg(s.lang(r), err)))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case sim.CallbackStatus >= 300:
		s.renderProvider(w, r, http.StatusBadGateway, p, translate(s.lang(r), "provider.refused", strings.TrimSpace(string(sim.CallbackBody))))
		return
	}
	http.Redirect(w, r, p.Link, http.StatusSeeOther)
}

// ticketView is one e-ticket.
type ticketView struct {
	ticketing.Ticket
	QR      template.HTML
	Payload string
	N       int
	// Gates are the names of the gates that let the ticket in.
	Gates []string
}

type ticketsPage struct {
	orderPage
	List []ticketView
}

// tickets shows the order's e-tickets, each with the QR code the gate
// scans.
func (s *shop) tickets(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadOrder(w, r)
	if !ok {
		return
	}
	tp := ticketsPage{orderPage: p}
	lang := s.lang(r)
	for i, t := range p.Order.Tickets {
		tv := ticketView{Ticket: t, Payload: t.Code, N: i + 1}
		if t.Status == ticketing.TicketValid {
			if t.Pass != "" {
				tv.Payload = t.Pass // the pass the gate granted, as the e-mail carries it
			} else if s.cfg.Pass != nil {
				pass, err := s.cfg.Pass(r.Context(), p.Event, t)
				if err != nil {
					s.fail(w, r, err)
					return
				}
				tv.Payload = pass
			}
			if s.cfg.Gates != nil {
				gates, err := s.cfg.Gates(r.Context(), p.Event.ID, t.AreaID)
				if err != nil {
					s.fail(w, r, err)
					return
				}
				tv.Gates = gates
			}
			qr, err := qrSVG(tv.Payload, translate(lang, "tickets.qr", i+1, len(p.Order.Tickets), t.AreaName))
			if err != nil {
				s.fail(w, r, err)
				return
			}
			tv.QR = qr
		}
		tp.List = append(tp.List, tv)
	}
	s.render(w, r, http.StatusOK, "shop_tickets", "tickets.title", tp)
}

// refund records the buyer's request to refund the whole order.
func (s *shop) refund(w http.ResponseWriter, r *http.Request) {
	p, ok := s.loadOrder(w, r)
	if !ok {
		return
	}
	lang := s.lang(r)
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len([]rune(reason)) > 500 {
		p.Refund = refundForm{Reason: reason, Error: translate(lang, "field.reason")}
		s.renderOrder(w, r, http.StatusUnprocessableEntity, p)
		return
	}
	by := "buyer:" + p.Order.Buyer.Email
	_, err := s.cfg.Ticketing.RequestRefund(r.Context(), ticketing.Everything, p.Order.ID, by,
		ticketing.RefundInput{Kind: ticketing.RefundFull, Reason: reason})
	var fields *invalid.Fields
	switch {
	case err == nil:
		http.Redirect(w, r, p.Link+"?ok=refund", http.StatusSeeOther)
	case errors.As(err, &fields), errors.Is(err, ticketing.ErrConflict):
		// Nothing left to refund, or the order is not paid.
		p.Refund = refundForm{Reason: reason, Error: translate(lang, "refund.conflict")}
		s.renderOrder(w, r, http.StatusConflict, p)
	default:
		s.fail(w, r, err)
	}
}
