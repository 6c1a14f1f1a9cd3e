package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/arus-platform/arus/ticketing"
)

// The waiting room: while an event's room is on, checkout needs the
// room's admission token. A buyer joins (POST), gets a queue ticket kept in
// a cookie for the event, and the queue page shows their position and an
// estimate until their turn; the admission token then goes into a cookie
// that the checkout form sends on.

func queueCookie(event string) string     { return "arus_shop_q_" + event }
func admissionCookie(event string) string { return "arus_shop_adm_" + event }

// roomOn reports whether the event's waiting room is on.
func (s *shop) roomOn(r *http.Request, event string) (bool, error) {
	w, err := s.cfg.Ticketing.WaitingRoom(r.Context(), ticketing.Everything, event)
	if errors.Is(err, ticketing.ErrNotFound) {
		return false, nil
	}
	return w.Enabled, err
}

// admission is the admission token the buyer holds for the event, if any.
func admission(r *http.Request, event string) string {
	if c, err := r.Cookie(admissionCookie(event)); err == nil {
		return c.Value
	}
	return ""
}

func (s *shop) setEventCookie(w http.ResponseWriter, r *http.Request, name, event, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/shop/events/" + event, Expires: expires,
		HttpOnly: true, Secure: s.h.secure(r), SameSite: http.SameSiteLaxMode})
}

type queuePage struct {
	Event ticketing.Event
	// Checkout and Self are the links to checkout and to this page, with
	// the buyer's choice.
	Checkout, Self string
	Area           string
	Quantity       string
	Place          ticketing.QueueTicket
	Joined         bool
	Estimate       time.Time
}

// queue shows the buyer's place in the waiting room, or the button to
// join it.
func (s *shop) queue(w http.ResponseWriter, r *http.Request) {
	se, ok := s.loadEvent(w, r)
	if !ok {
		return
	}
	e := se.Event
	q := r.URL.Query()
	choice := choiceQuery(q.Get("area"), q.Get("quantity"))
	p := queuePage{Event: e, Area: q.Get("area"), Quantity: q.Get("quantity"),
		Checkout: "/shop/events/" + e.ID + "/checkout?" + choice, Self: "/shop/events/" + e.ID + "/queue?" + choice}
	if on, err := s.roomOn(r, e.ID); err != nil {
		s.fail(w, r, err)
		return
	} else if !on {
		http.Redirect(w, r, p.Checkout, http.StatusSeeOther)
		return
	}
	if c, err := r.Cookie(queueCookie(e.ID)); err == nil {
		place, err := s.cfg.Ticketing.WaitingRoomStatus(r.Context(), e.ID, c.Value)
		switch {
		case err == nil && place.Status != ticketing.QueueExpired && place.Status != ticketing.QueueUsed:
			p.Place, p.Joined = place, true
			p.Estimate = time.Now().Add(time.Duration(place.EstimatedWaitSeconds) * time.Second)
			if place.Status == ticketing.QueueAdmitted && place.AdmissionToken != "" {
				s.setEventCookie(w, r, admissionCookie(e.ID), e.ID, place.AdmissionToken, place.TokenExpires)
			}
		case err != nil && !errors.Is(err, ticketing.ErrNotFound) && !errors.Is(err, ticketing.ErrInvalid):
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "shop_queue", "queue.title", p)
}

// joinQueue takes a place in the waiting room.
func (s *shop) joinQueue(w http.ResponseWriter, r *http.Request) {
	se, ok := s.loadEvent(w, r)
	if !ok {
		return
	}
	e := se.Event
	choice := choiceQuery(r.PostFormValue("area"), r.PostFormValue("quantity"))
	place, err := s.cfg.Ticketing.JoinWaitingRoom(r.Context(), e.ID)
	switch {
	case errors.Is(err, ticketing.ErrConflict):
		// The room is off (or the sale over): go straight on.
		http.Redirect(w, r, "/shop/events/"+e.ID+"/checkout?"+choice, http.StatusSeeOther)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.setEventCookie(w, r, queueCookie(e.ID), e.ID, place.Ticket, e.SaleEnds)
	http.Redirect(w, r, "/shop/events/"+e.ID+"/queue?"+choice, http.StatusSeeOther)
}

func choiceQuery(area, quantity string) string {
	return url.Values{"area": {area}, "quantity": {strings.TrimSpace(quantity)}}.Encode()
}
