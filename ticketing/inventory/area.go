package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arus-platform/arus/eventsource"
)

// Event types of an area's stream.
const (
	TypeCapacitySet    = "capacity_set"
	TypeHeld           = "held"
	TypeHoldReleased   = "hold_released"
	TypeHoldExpired    = "hold_expired"
	TypeSold           = "sold"
	TypePaymentRefused = "payment_refused"
	TypeReturned       = "returned"
)

// Errors callers act on. Each is wrapped with the details; match with
// errors.Is.
var (
	// ErrSoldOut: the area has fewer free tickets than asked for.
	ErrSoldOut = errors.New("inventory: sold out")
	// ErrBusy: the area's stream kept changing under concurrent writers
	// (other processes) for every attempt; nothing was written. Try again.
	ErrBusy = errors.New("inventory: busy")
	// ErrNoCapacity: the area has no capacity set yet.
	ErrNoCapacity = errors.New("inventory: area has no capacity")
	// ErrUnknownOrder: the order has no hold and no sale in the area.
	ErrUnknownOrder = errors.New("inventory: unknown order")
	// ErrOrderConflict: the order already holds or bought other tickets
	// in the area than asked for.
	ErrOrderConflict = errors.New("inventory: order conflict")
)

// validID reports whether s is 1 to 64 letters, digits, '_', '.', ':' or
// '-', starting with a letter or digit. (A loop: it runs on every call,
// where a regular expression cost a tenth of a reservation's CPU.)
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// AreaID names an area of an event; its tickets are one stream.
type AreaID struct {
	Event string
	Area  string
}

func (a AreaID) String() string { return a.Event + "/" + a.Area }

// Validate checks both ids: 1 to 64 letters, digits, '_', '.', ':' or '-',
// starting with a letter or digit.
func (a AreaID) Validate() error {
	if !validID(a.Event) {
		return fmt.Errorf("inventory: event id %q: use 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit", a.Event)
	}
	if !validID(a.Area) {
		return fmt.Errorf("inventory: area id %q: use 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit", a.Area)
	}
	return nil
}

const streamPrefix = "area/"

func (a AreaID) stream() string { return streamPrefix + a.Event + "/" + a.Area }

// parseStream returns the area of an area stream id; ok is false for
// other streams.
func parseStream(id string) (AreaID, bool) {
	rest, ok := strings.CutPrefix(id, streamPrefix)
	if !ok {
		return AreaID{}, false
	}
	ev, ar, ok := strings.Cut(rest, "/")
	return AreaID{Event: ev, Area: ar}, ok
}

func validateOrder(order string) error {
	if !validID(order) {
		return fmt.Errorf("inventory: order id %q: use 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit", order)
	}
	return nil
}

// eventData is the body of every area event; each type uses some fields.
type eventData struct {
	Capacity  int       `json:"capacity,omitempty"`
	Order     string    `json:"order,omitempty"`
	Quantity  int       `json:"quantity,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Late      bool      `json:"late,omitempty"`
	Refund    string    `json:"refund,omitempty"`
}

func newEvent(typ string, now time.Time, d eventData) eventsource.Event {
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("inventory: encode %s: %v", typ, err)) // plain struct: cannot fail
	}
	return eventsource.Event{Type: typ, Data: b, Time: now}
}

// hold is an active hold: not released, expired by an event, or sold.
type hold struct {
	Quantity  int       `json:"quantity"`
	ExpiresAt time.Time `json:"expires_at"`
}

// paid is an accepted payment: the tickets it bought, and whether late.
type paid struct {
	Quantity int  `json:"quantity"`
	Late     bool `json:"late,omitempty"`
}

// returned is the tickets one refund gave back.
type returned struct {
	Order    string `json:"order"`
	Quantity int    `json:"quantity"`
}

// area is the state folded from an area's events. Its JSON form is the
// area's snapshot.
type area struct {
	Configured bool            `json:"configured"`
	Capacity   int             `json:"capacity"`
	Sold       int             `json:"sold"`
	Holds      map[string]hold `json:"holds"`
	// Sales is tickets sold per order, net of returns.
	Sales map[string]int `json:"sales"`
	// Lapsed is the quantity of holds that expired or were released and
	// not paid (yet).
	Lapsed map[string]int `json:"lapsed"`
	// Refused is the quantity of late payments refused per order.
	Refused map[string]int `json:"refused"`
	// Paid is the outcome of each order's accepted payment, kept after its
	// tickets are returned so that a repeated payment gets the same answer.
	Paid map[string]paid `json:"paid"`
	// Returns is the return made under each refund id.
	Returns map[string]returned `json:"returns"`

	// index counts the held tickets quickly; rebuilt from Holds when nil.
	index *holdIndex
}

func newArea() *area {
	return &area{Holds: map[string]hold{}, Sales: map[string]int{}, Lapsed: map[string]int{}, Refused: map[string]int{},
		Paid: map[string]paid{}, Returns: map[string]returned{}}
}

// held is the number of tickets in holds that are still valid at now.
func (a *area) held(now time.Time) int {
	if a.index == nil || now.Before(a.index.asOf) {
		a.index = newHoldIndex(a.Holds, now)
	}
	return a.index.held(now)
}

// setHold and endHold change the active holds and their index.
func (a *area) setHold(order string, h hold) {
	a.endHold(order)
	a.Holds[order] = h
	if a.index != nil {
		a.index.add(order, h)
	}
}

func (a *area) endHold(order string) {
	h, ok := a.Holds[order]
	if !ok {
		return
	}
	if a.index != nil {
		a.index.remove(order, h)
	}
	delete(a.Holds, order)
}

// free is the number of tickets that can be held at now.
func (a *area) free(now time.Time) int { return a.Capacity - a.Sold - a.held(now) }

// apply folds one event into the state.
func (a *area) apply(e eventsource.Event) error {
	var d eventData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return fmt.Errorf("decode %s: %w", e.Type, err)
	}
	switch e.Type {
	case TypeCapacitySet:
		a.Configured, a.Capacity = true, d.Capacity
	case TypeHeld:
		a.setHold(d.Order, hold{Quantity: d.Quantity, ExpiresAt: d.ExpiresAt})
		delete(a.Lapsed, d.Order)
	case TypeHoldReleased, TypeHoldExpired:
		if h, ok := a.Holds[d.Order]; ok {
			a.Lapsed[d.Order] = h.Quantity
			a.endHold(d.Order)
		}
	case TypeSold:
		a.endHold(d.Order)
		delete(a.Lapsed, d.Order)
		a.Sold += d.Quantity
		a.Sales[d.Order] += d.Quantity
		a.Paid[d.Order] = paid{Quantity: d.Quantity, Late: d.Late}
	case TypePaymentRefused:
		delete(a.Lapsed, d.Order)
		a.Refused[d.Order] += d.Quantity
	case TypeReturned:
		a.Sold -= d.Quantity
		a.Sales[d.Order] -= d.Quantity
		if a.Sales[d.Order] <= 0 {
			delete(a.Sales, d.Order)
		}
		if d.Refund != "" {
			a.Returns[d.Refund] = returned{Order: d.Order, Quantity: d.Quantity}
		}
	default:
		return fmt.Errorf("unknown event type %q", e.Type)
	}
	return nil
}
