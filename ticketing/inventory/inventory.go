// Package inventory keeps the tickets of every area of every event, and
// makes selling more than an area's capacity impossible.
//
// Each area is an event-sourced stream: capacity set, held (an order's
// tickets kept until an expiry), hold released or expired, sold (a hold
// paid), payment refused (a late payment that found its tickets gone) and
// returned (a refund). Every decision — can this order hold 3 tickets? —
// is made on the area's state folded from its stream and appended at the
// version it was made on, so two writers, in one process or in several,
// can never both sell the last ticket: the second append is refused and
// its decision is made again on the new state.
//
// Inside one process each area has one writer: requests for an area queue,
// and whoever writes next takes every request waiting, decides each in
// turn and appends all their events in one transaction (group commit).
// Across processes the version check keeps the areas consistent.
//
// A hold counts against the area until its expiry; no sweeper is needed
// for availability. [Inventory.Sweep] appends the explicit expiry events.
// A payment for a hold that expired takes the tickets if they are still
// free, and otherwise reports [Refund]; both outcomes are events.
//
// [Inventory.Audit] replays every area from its events, checks that no
// decision ever exceeded the capacity, and compares the result with the
// read model that the inventory's projection keeps.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/stream"
)

// Defaults of [Config].
const (
	DefaultHoldTTL       = 15 * time.Minute
	DefaultMaxAttempts   = 20
	DefaultSnapshotEvery = 1000
	DefaultTopic         = "ticketing.inventory"
	// maxBatch bounds the requests decided and appended in one transaction.
	maxBatch = 500
)

// Config configures an [Inventory].
type Config struct {
	// HoldTTL is how long a hold keeps its tickets. Default 15m.
	HoldTTL time.Duration
	// MaxAttempts bounds the appends tried for one batch of requests when
	// other processes keep writing the area first; then the requests fail
	// with ErrBusy. Default 20.
	MaxAttempts int
	// SnapshotEvery saves an area's state after every this many events, so
	// loading a busy area reads few events. Default 1000.
	SnapshotEvery int64
	// Outbox, when set, publishes every area event to Topic through it, in
	// the transaction that appends the event. It must live in the event
	// store's database.
	Outbox *outbox.Outbox
	// Topic receives the area events when Outbox is set. Default
	// "ticketing.inventory".
	Topic string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	switch {
	case c.HoldTTL < 0:
		return fmt.Errorf("inventory: hold TTL %s is negative", c.HoldTTL)
	case c.MaxAttempts < 0:
		return fmt.Errorf("inventory: max attempts %d is negative", c.MaxAttempts)
	case c.SnapshotEvery < 0:
		return fmt.Errorf("inventory: snapshot interval %d is negative", c.SnapshotEvery)
	}
	if c.HoldTTL == 0 {
		c.HoldTTL = DefaultHoldTTL
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if err := stream.ValidateTopicName(c.Topic); err != nil {
		return fmt.Errorf("inventory: topic: %w", err)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Inventory sells the tickets of areas. It is safe for concurrent use;
// several Inventories (in several processes) may share one event store.
type Inventory struct {
	es  *eventsource.Store
	cfg Config
	agg *eventsource.Aggregate[*area]

	mu      sync.Mutex
	writers map[AreaID]*writer
}

// Open creates or migrates the inventory's read model in the event store's
// database and returns the inventory.
func Open(ctx context.Context, es *eventsource.Store, cfg Config) (*Inventory, error) {
	if es == nil {
		return nil, errors.New("inventory: no event store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := migrate(ctx, es); err != nil {
		return nil, err
	}
	return &Inventory{
		es:  es,
		cfg: cfg,
		agg: &eventsource.Aggregate[*area]{
			Store:         es,
			New:           newArea,
			Apply:         func(a *area, e eventsource.Event) (*area, error) { return a, a.apply(e) },
			SnapshotEvery: cfg.SnapshotEvery,
		},
		writers: map[AreaID]*writer{},
	}, nil
}

// Hold is an order's claim on tickets of an area until ExpiresAt.
type Hold struct {
	Area      AreaID
	Order     string
	Quantity  int
	ExpiresAt time.Time
}

// SetCapacity sets the number of tickets of an area. It refuses a capacity
// below the tickets sold and held now.
func (inv *Inventory) SetCapacity(ctx context.Context, id AreaID, capacity int) error {
	if capacity < 0 {
		return fmt.Errorf("inventory: capacity %d of %s: must be 0 or more", capacity, id)
	}
	return inv.do(ctx, id, func(a *area, now time.Time) ([]eventsource.Event, error) {
		if taken := a.Sold + a.held(now); capacity < taken {
			return nil, fmt.Errorf("inventory: capacity %d of %s: %d tickets are sold or held", capacity, id, taken)
		}
		if a.Configured && a.Capacity == capacity {
			return nil, nil
		}
		return []eventsource.Event{newEvent(TypeCapacitySet, now, eventData{Capacity: capacity})}, nil
	})
}

// Hold reserves quantity tickets of an area for an order until now plus
// the hold TTL. It fails with ErrSoldOut when fewer are free; holds past
// their expiry count as free. Holding again for an order that holds the
// same quantity returns the existing hold, so a retried request is safe:
// a call whose ctx ends while it waits for the area's writer may still have
// been carried out.
func (inv *Inventory) Hold(ctx context.Context, id AreaID, order string, quantity int) (Hold, error) {
	if err := validateOrder(order); err != nil {
		return Hold{}, err
	}
	if quantity < 1 {
		return Hold{}, fmt.Errorf("inventory: quantity %d: must be at least 1", quantity)
	}
	var out Hold
	err := inv.do(ctx, id, func(a *area, now time.Time) ([]eventsource.Event, error) {
		if !a.Configured {
			return nil, fmt.Errorf("%w: %s", ErrNoCapacity, id)
		}
		if h, ok := a.Holds[order]; ok && h.ExpiresAt.After(now) {
			if h.Quantity != quantity {
				return nil, fmt.Errorf("%w: order %s already holds %d tickets of %s", ErrOrderConflict, order, h.Quantity, id)
			}
			out = Hold{Area: id, Order: order, Quantity: h.Quantity, ExpiresAt: h.ExpiresAt.UTC()}
			return nil, nil
		}
		if p, ok := a.Paid[order]; ok {
			return nil, fmt.Errorf("%w: order %s already bought %d tickets of %s", ErrOrderConflict, order, p.Quantity, id)
		}
		if _, ok := a.Refused[order]; ok {
			return nil, fmt.Errorf("%w: order %s had its late payment refused in %s; place a new order", ErrOrderConflict, order, id)
		}
		var events []eventsource.Event
		if _, ok := a.Holds[order]; ok { // its own earlier hold, expired
			events = append(events, newEvent(TypeHoldExpired, now, eventData{Order: order}))
		}
		if free := a.free(now); free < quantity {
			return nil, fmt.Errorf("%w: %s has %d free, %d asked", ErrSoldOut, id, max(free, 0), quantity)
		}
		out = Hold{Area: id, Order: order, Quantity: quantity, ExpiresAt: now.Add(inv.cfg.HoldTTL).UTC()}
		return append(events, newEvent(TypeHeld, now, eventData{Order: order, Quantity: quantity, ExpiresAt: out.ExpiresAt})), nil
	})
	return out, err
}

// Release gives an order's held tickets back before their expiry (the
// buyer cancelled). Releasing an order without an active hold does
// nothing.
func (inv *Inventory) Release(ctx context.Context, id AreaID, order string) error {
	if err := validateOrder(order); err != nil {
		return err
	}
	return inv.do(ctx, id, func(a *area, now time.Time) ([]eventsource.Event, error) {
		if _, ok := a.Holds[order]; !ok {
			return nil, nil
		}
		return []eventsource.Event{newEvent(TypeHoldReleased, now, eventData{Order: order})}, nil
	})
}

// Outcome is what became of a payment for held tickets.
type Outcome string

const (
	// Sold: the hold was valid; its tickets are sold.
	Sold Outcome = "sold"
	// SoldLate: the hold had expired or been released, but as many tickets
	// were still free; they are sold.
	SoldLate Outcome = "sold_late"
	// Refund: the hold had expired or been released and the tickets are
	// gone; the payment must be refunded. Nothing is sold.
	Refund Outcome = "refund"
)

// Sale is the result of [Inventory.Confirm].
type Sale struct {
	Area     AreaID
	Order    string
	Quantity int
	Outcome  Outcome
}

// Confirm turns an order's hold into a sale when its payment arrives. A
// hold past its expiry (swept or not) or released is a late payment: its
// tickets are sold if that many are free now, else the outcome is Refund
// and a payment_refused event records it. Confirm is idempotent: a
// repeated call returns the first outcome without writing, also after the
// tickets were returned.
func (inv *Inventory) Confirm(ctx context.Context, id AreaID, order string) (Sale, error) {
	if err := validateOrder(order); err != nil {
		return Sale{}, err
	}
	out := Sale{Area: id, Order: order}
	err := inv.do(ctx, id, func(a *area, now time.Time) ([]eventsource.Event, error) {
		if p, ok := a.Paid[order]; ok {
			out.Quantity, out.Outcome = p.Quantity, Sold
			if p.Late {
				out.Outcome = SoldLate
			}
			return nil, nil
		}
		if n := a.Refused[order]; n > 0 {
			out.Quantity, out.Outcome = n, Refund
			return nil, nil
		}
		var events []eventsource.Event
		h, holding := a.Holds[order]
		if holding && h.ExpiresAt.After(now) {
			out.Quantity, out.Outcome = h.Quantity, Sold
			return []eventsource.Event{newEvent(TypeSold, now, eventData{Order: order, Quantity: h.Quantity})}, nil
		}
		qty, lapsed := a.Lapsed[order]
		if holding {
			qty = h.Quantity
			events = append(events, newEvent(TypeHoldExpired, now, eventData{Order: order}))
		} else if !lapsed {
			return nil, fmt.Errorf("%w: %s has no hold for order %s", ErrUnknownOrder, id, order)
		}
		out.Quantity = qty
		// The order's own expired hold is not counted by free.
		if a.free(now) >= qty {
			out.Outcome = SoldLate
			return append(events, newEvent(TypeSold, now, eventData{Order: order, Quantity: qty, Late: true})), nil
		}
		out.Outcome = Refund
		return append(events, newEvent(TypePaymentRefused, now, eventData{Order: order, Quantity: qty})), nil
	})
	return out, err
}

// Return takes back quantity sold tickets of an order for a refund, and
// they become free again. refund identifies the refund: returning again
// under the same refund id does nothing, so a retried call is safe.
func (inv *Inventory) Return(ctx context.Context, id AreaID, order, refund string, quantity int) error {
	if err := validateOrder(order); err != nil {
		return err
	}
	if !validID(refund) {
		return fmt.Errorf("inventory: refund id %q: use 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit", refund)
	}
	if quantity < 1 {
		return fmt.Errorf("inventory: quantity %d: must be at least 1", quantity)
	}
	return inv.do(ctx, id, func(a *area, now time.Time) ([]eventsource.Event, error) {
		if r, ok := a.Returns[refund]; ok {
			if r.Order != order || r.Quantity != quantity {
				return nil, fmt.Errorf("%w: refund %s already returned %d tickets of order %s", ErrOrderConflict, refund, r.Quantity, r.Order)
			}
			return nil, nil
		}
		if n := a.Sales[order]; n < quantity {
			return nil, fmt.Errorf("%w: order %s has %d sold tickets of %s, cannot return %d", ErrUnknownOrder, order, n, id, quantity)
		}
		return []eventsource.Event{newEvent(TypeReturned, now, eventData{Order: order, Quantity: quantity, Refund: refund})}, nil
	})
}

// Sweep appends an expiry event for every hold of the area past its
// expiry, and returns how many it expired. Availability does not depend on
// it: it makes the expiries visible in the stream and the read model.
func (inv *Inventory) Sweep(ctx context.Context, id AreaID) (int, error) {
	n := 0
	err := inv.do(ctx, id, func(a *area, now time.Time) ([]eventsource.Event, error) {
		var events []eventsource.Event
		for order, h := range a.Holds {
			if !h.ExpiresAt.After(now) {
				events = append(events, newEvent(TypeHoldExpired, now, eventData{Order: order}))
			}
		}
		n = len(events)
		return events, nil
	})
	return n, err
}

// Availability is an area's tickets at a moment.
type Availability struct {
	Area     AreaID
	Capacity int
	Sold     int
	// Held is the tickets in holds not yet expired.
	Held int
	// Free is Capacity - Sold - Held.
	Free    int
	Version int64
}

// Availability returns an area's tickets now, from its stream (the read
// model's [Inventory.ReadAvailability] is cheaper and may lag).
func (inv *Inventory) Availability(ctx context.Context, id AreaID) (Availability, error) {
	if err := id.Validate(); err != nil {
		return Availability{}, err
	}
	w := inv.writer(id)
	if err := w.mu.lock(ctx); err != nil {
		return Availability{}, err
	}
	defer w.mu.unlock()
	if err := inv.catchUp(ctx, id, w); err != nil {
		return Availability{}, err
	}
	now := inv.cfg.Now()
	held := w.state.held(now)
	return Availability{Area: id, Capacity: w.state.Capacity, Sold: w.state.Sold, Held: held,
		Free: w.state.Capacity - w.state.Sold - held, Version: w.version}, nil
}
