package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/inventory"
	"github.com/arus-platform/arus/ticketing/messages"
)

// shopArea is an area as the storefront shows it.
type shopArea struct {
	ticketing.Area
	Free int
}

type shopEvent struct {
	ticketing.Event
	Areas []shopArea
	// From is the lowest price.
	From int64
	// Open is true while tickets can be bought.
	Open bool
}

// saleOpen reports whether the event sells tickets now.
func (s *shop) saleOpen(e ticketing.Event) bool {
	now := time.Now()
	return e.Status == ticketing.StatusOnSale && !now.Before(e.SaleStarts) && now.Before(e.SaleEnds)
}

// withAvailability adds each area's free tickets, from the inventory's
// read model.
func (s *shop) withAvailability(r *http.Request, e ticketing.Event) (shopEvent, error) {
	se := shopEvent{Event: e, Open: s.saleOpen(e)}
	avail, err := s.cfg.Ticketing.Inventory().ReadEvent(r.Context(), e.ID)
	if err != nil {
		return se, err
	}
	for i, a := range e.Areas {
		free := 0
		if j := slices.IndexFunc(avail, func(v inventory.Availability) bool { return v.Area.Area == a.ID }); j >= 0 {
			free = avail[j].Free
		}
		se.Areas = append(se.Areas, shopArea{Area: a, Free: free})
		if i == 0 || a.Price < se.From {
			se.From = a.Price
		}
	}
	return se, nil
}

// events lists the events on sale.
func (s *shop) events(w http.ResponseWriter, r *http.Request) {
	list, err := s.cfg.Ticketing.Events(r.Context(), ticketing.Everything, ticketing.EventFilter{Status: ticketing.StatusOnSale})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var out []shopEvent
	for _, e := range list {
		if !s.saleOpen(e) {
			continue
		}
		se, err := s.withAvailability(r, e)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out = append(out, se)
	}
	slices.SortFunc(out, func(a, b shopEvent) int { return a.Starts.Compare(b.Starts) })
	s.render(w, r, http.StatusOK, "shop_events", "events.title", out)
}

// publicEvent returns an event the storefront may show: on sale, or past
// its sale (the page then says so). Drafts and events waiting for approval
// are not found.
func (s *shop) publicEvent(r *http.Request) (ticketing.Event, bool, error) {
	e, err := s.cfg.Ticketing.Event(r.Context(), ticketing.Everything, r.PathValue("event"))
	if errors.Is(err, ticketing.ErrNotFound) {
		return e, false, nil
	}
	if err != nil {
		return e, false, err
	}
	switch e.Status {
	case ticketing.StatusOnSale, ticketing.StatusSaleClosed, ticketing.StatusEnded:
		return e, true, nil
	}
	return e, false, nil
}

type eventPage struct {
	Event    shopEvent
	Area     string
	Quantity int
	Max      int
	Error    string
}

// loadEvent reads the event the path names with its areas' free tickets;
// false: it has answered 404 or 500.
func (s *shop) loadEvent(w http.ResponseWriter, r *http.Request) (shopEvent, bool) {
	e, ok, err := s.publicEvent(r)
	if err == nil && !ok {
		s.notFound(w, r)
		return shopEvent{}, false
	}
	var se shopEvent
	if err == nil {
		se, err = s.withAvailability(r, e)
	}
	if err != nil {
		s.fail(w, r, err)
		return shopEvent{}, false
	}
	return se, true
}

func (s *shop) event(w http.ResponseWriter, r *http.Request) {
	if se, ok := s.loadEvent(w, r); ok {
		s.renderEvent(w, r, http.StatusOK, eventPage{Event: se, Quantity: 1})
	}
}

func (s *shop) renderEvent(w http.ResponseWriter, r *http.Request, status int, p eventPage) {
	p.Max = maxPerOrder
	if p.Area == "" {
		for _, a := range p.Event.Areas {
			if a.Free > 0 {
				p.Area = a.ID
				break
			}
		}
	}
	s.render(w, r, status, "shop_event", "", p)
}

// maxPerOrder is how many tickets the storefront offers in one order.
const maxPerOrder = 10

// checkoutForm is what the checkout page holds: the choice made on the
// event page, the buyer's details, and the errors by field.
type checkoutForm struct {
	Event    shopEvent
	Area     shopArea
	Quantity int
	Total    int64
	Name     string
	Email    string
	Phone    string
	Lang     string
	Method   string
	Key      string
	Methods  []string
	Errors   map[string]string
	Error    string
	// HoldMinutes is how long the order will hold the tickets.
	HoldMinutes int
}

// choice reads the area and quantity of a checkout request. A bad choice
// sends the buyer back to the event page, saying what is wrong.
func (s *shop) choice(w http.ResponseWriter, r *http.Request, get func(string) string) (checkoutForm, bool) {
	se, ok := s.loadEvent(w, r)
	if !ok {
		return checkoutForm{}, false
	}
	lang := s.lang(r)
	page := eventPage{Event: se, Area: get("area"), Quantity: 1}
	if !se.Open {
		page.Error = translate(lang, "event.closed")
		s.renderEvent(w, r, http.StatusConflict, page)
		return checkoutForm{}, false
	}
	i := slices.IndexFunc(se.Areas, func(a shopArea) bool { return a.ID == page.Area })
	q, qerr := strconv.Atoi(get("quantity"))
	switch {
	case i < 0:
		page.Error = translate(lang, "event.area") + ": " + translate(lang, "field.area")
	case qerr != nil || q < 1 || q > maxPerOrder:
		page.Error = translate(lang, "event.quantity") + ": " + translate(lang, "field.quantity", maxPerOrder)
	default:
		page.Quantity = q
		return checkoutForm{Event: se, Area: se.Areas[i], Quantity: q, Total: int64(q) * se.Areas[i].Price,
			Lang: lang, Methods: s.methods(), Errors: map[string]string{},
			HoldMinutes: int(s.cfg.Ticketing.HoldTTL().Round(time.Minute) / time.Minute)}, true
	}
	s.renderEvent(w, r, http.StatusUnprocessableEntity, page)
	return checkoutForm{}, false
}

// methods are the ways to pay the storefront offers.
func (s *shop) methods() []string {
	if s.cfg.Payment == nil {
		return []string{ticketing.MethodCash}
	}
	return []string{ticketing.MethodOnline, ticketing.MethodCash}
}

func (s *shop) checkoutForm(w http.ResponseWriter, r *http.Request) {
	f, ok := s.choice(w, r, r.URL.Query().Get)
	if !ok {
		return
	}
	// While the event's waiting room is on, checkout needs its admission.
	if on, err := s.roomOn(r, f.Event.ID); err != nil {
		s.fail(w, r, err)
		return
	} else if on && admission(r, f.Event.ID) == "" {
		http.Redirect(w, r, "/shop/events/"+f.Event.ID+"/queue?"+r.URL.RawQuery, http.StatusSeeOther)
		return
	}
	if u := s.user(r); u != nil {
		f.Name, f.Email, f.Phone = u.Name, u.Email, u.Phone
	}
	f.Method = f.Methods[0]
	var b [16]byte
	_, _ = rand.Read(b[:])
	f.Key = base64.RawURLEncoding.EncodeToString(b[:])
	s.render(w, r, http.StatusOK, "shop_checkout", "checkout.title", f)
}

// checkout places the order, holding its tickets, and sends the buyer to
// the order's secret page.
func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	f, ok := s.choice(w, r, r.PostFormValue)
	if !ok {
		return
	}
	f.Name = strings.TrimSpace(r.PostFormValue("buyer.name"))
	f.Email = strings.TrimSpace(r.PostFormValue("buyer.email"))
	f.Phone = strings.TrimSpace(r.PostFormValue("buyer.phone"))
	f.Lang = r.PostFormValue("buyer.lang")
	f.Method = r.PostFormValue("method")
	f.Key = r.PostFormValue("key")
	lang := s.lang(r)
	if !slices.Contains(f.Methods, f.Method) {
		f.Errors["method"] = translate(lang, "field.method")
	}
	if f.Name == "" {
		f.Errors["buyer.name"] = translate(lang, "field.buyer.name")
	}
	if a, err := mail.ParseAddress(f.Email); err != nil || a.Address != f.Email {
		f.Errors["buyer.email"] = translate(lang, "field.buyer.email")
	}
	if len(f.Errors) > 0 {
		f.Error = translate(lang, "checkout.errors")
		s.render(w, r, http.StatusUnprocessableEntity, "shop_checkout", "checkout.title", f)
		return
	}
	in := ticketing.OrderInput{EventID: f.Event.ID, Method: f.Method, IdempotencyKey: f.Key, AdmissionToken: admission(r, f.Event.ID),
		Lines: []ticketing.LineInput{{AreaID: f.Area.ID, Quantity: f.Quantity}},
		Buyer: messages.Buyer{Name: f.Name, Email: f.Email, Phone: f.Phone, Lang: f.Lang}}
	if u := s.user(r); u != nil {
		in.Buyer.UserID = u.ID
	}
	o, _, err := s.cfg.Ticketing.PlaceOrder(r.Context(), in)
	var fields *invalid.Fields
	switch {
	case err == nil:
		http.Redirect(w, r, s.orderLink(o.ID), http.StatusSeeOther)
		return
	case errors.As(err, &fields) && fields.List[0].Name == "admission_token":
		// No admission, or a spent or expired one: back to the queue.
		http.SetCookie(w, &http.Cookie{Name: admissionCookie(f.Event.ID), Path: "/shop/events/" + f.Event.ID, MaxAge: -1})
		http.SetCookie(w, &http.Cookie{Name: queueCookie(f.Event.ID), Path: "/shop/events/" + f.Event.ID, MaxAge: -1})
		http.Redirect(w, r, "/shop/events/"+f.Event.ID+"/queue?"+choiceQuery(f.Area.ID, fmt.Sprint(f.Quantity)), http.StatusSeeOther)
		return
	case errors.As(err, &fields):
		for _, fe := range fields.List {
			name := fe.Name
			if strings.HasPrefix(name, "lines") {
				name = "quantity"
			}
			f.Errors[name] = fe.Message
			if _, known := shopText["field."+name]; known {
				f.Errors[name] = translate(lang, "field."+name, maxPerOrder)
			}
		}
		f.Error = translate(lang, "checkout.errors")
	case errors.Is(err, ticketing.ErrSoldOut):
		f.Error = translate(lang, "soldout")
		s.render(w, r, http.StatusConflict, "shop_checkout", "checkout.title", f)
		return
	case errors.Is(err, ticketing.ErrConflict):
		f.Error = translate(lang, "notonsale")
		s.render(w, r, http.StatusConflict, "shop_checkout", "checkout.title", f)
		return
	default:
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusUnprocessableEntity, "shop_checkout", "checkout.title", f)
}
