package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/arus-platform/arus/eventsource"
)

// AreaAudit is what the events of one area say, and what is wrong.
type AreaAudit struct {
	Area AreaID
	// Version is the number of the area's events replayed.
	Version int64
	// Capacity, Sold and Holds are the totals the events give: tickets
	// sold net of returns, holds not ended by an event.
	Capacity int
	Sold     int
	Holds    int
	// Problems lists every broken rule and every disagreement with the
	// read model; empty when the area is sound.
	Problems []string
}

// Report is the result of [Inventory.Audit].
type Report struct {
	// Position is the last event position audited: the read model's
	// checkpoint.
	Position int64
	Areas    []AreaAudit
}

// OK reports whether no area has a problem.
func (r *Report) OK() bool {
	for _, a := range r.Areas {
		if len(a.Problems) > 0 {
			return false
		}
	}
	return true
}

// Audit brings the read model up to date, then replays every area's
// events up to the read model's checkpoint and checks, at every event,
// that the area never had more tickets sold and held than its capacity,
// that every hold and late sale found its tickets free when it was made,
// and that only held or sold tickets were sold or returned; and then that
// the read model agrees with the replay.
func (inv *Inventory) Audit(ctx context.Context) (*Report, error) {
	if _, err := inv.Project(ctx); err != nil {
		return nil, fmt.Errorf("inventory: audit: %w", err)
	}
	db := inv.es.DB()
	tx, err := beginSnapshot(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("inventory: audit: %w", err)
	}
	defer tx.Rollback()
	pos, err := inv.es.CheckpointTx(ctx, tx, ProjectionName)
	if err != nil {
		return nil, fmt.Errorf("inventory: audit: %w", err)
	}
	model, err := inv.readModelTx(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("inventory: audit: read model: %w", err)
	}
	if err := tx.Rollback(); err != nil {
		return nil, fmt.Errorf("inventory: audit: %w", err)
	}

	// Events at or below a visible position never change, so they can be
	// read outside the snapshot.
	areas := map[string]*replay{}
	var after int64
	for after < pos {
		events, err := inv.es.ReadAll(ctx, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("inventory: audit: %w", err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if e.Position > pos {
				break
			}
			after = e.Position
			id, ok := parseStream(e.StreamID)
			if !ok {
				continue
			}
			r := areas[e.StreamID]
			if r == nil {
				r = &replay{AreaAudit: AreaAudit{Area: id}, state: newArea()}
				areas[e.StreamID] = r
			}
			r.step(e)
		}
	}
	report := &Report{Position: pos}
	for stream, r := range areas {
		r.compare(model[stream])
		delete(model, stream)
		report.Areas = append(report.Areas, r.AreaAudit)
	}
	for stream := range model {
		id, _ := parseStream(stream)
		report.Areas = append(report.Areas, AreaAudit{Area: id, Problems: []string{"the read model has the area but no event does"}})
	}
	sort.Slice(report.Areas, func(i, j int) bool { return report.Areas[i].Area.String() < report.Areas[j].Area.String() })
	return report, nil
}

// replay folds one area's events and checks each.
type replay struct {
	AreaAudit
	state *area
}

func (r *replay) problem(e eventsource.Event, format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf("v%d %s: ", e.Version, e.Type)+fmt.Sprintf(format, args...))
}

func (r *replay) step(e eventsource.Event) {
	a := r.state
	if e.Version != r.Version+1 {
		r.problem(e, "follows version %d", r.Version)
	}
	r.Version = e.Version
	var d eventData
	_ = json.Unmarshal(e.Data, &d) // apply reports a bad body below
	switch e.Type {
	case TypeHeld:
		if _, ok := a.Holds[d.Order]; ok {
			r.problem(e, "order %s already held tickets", d.Order)
		}
		if free := a.free(e.Time); free < d.Quantity {
			r.problem(e, "order %s held %d tickets with %d free", d.Order, d.Quantity, free)
		}
	case TypeSold:
		h, ok := a.Holds[d.Order]
		switch {
		case d.Late:
			if _, lapsed := a.Lapsed[d.Order]; !lapsed {
				r.problem(e, "late sale to order %s without a lapsed hold", d.Order)
			}
			if free := a.free(e.Time); free < d.Quantity {
				r.problem(e, "late sale of %d tickets to order %s with %d free", d.Quantity, d.Order, free)
			}
		case !ok:
			r.problem(e, "sale to order %s without a hold", d.Order)
		case !h.ExpiresAt.After(e.Time) || h.Quantity != d.Quantity:
			r.problem(e, "sale of %d tickets to order %s on a hold of %d expiring %s", d.Quantity, d.Order, h.Quantity, h.ExpiresAt)
		}
	case TypeReturned:
		if a.Sales[d.Order] < d.Quantity {
			r.problem(e, "order %s returned %d tickets of %d sold", d.Order, d.Quantity, a.Sales[d.Order])
		}
		if _, twice := a.Returns[d.Refund]; twice && d.Refund != "" {
			r.problem(e, "refund %s returned tickets twice", d.Refund)
		}
	}
	if err := a.apply(e); err != nil {
		r.problem(e, "%v", err)
		return
	}
	if taken := a.Sold + a.held(e.Time); taken > a.Capacity || a.Sold < 0 {
		r.problem(e, "%d tickets sold and %d held over a capacity of %d", a.Sold, a.held(e.Time), a.Capacity)
	}
}

// compare checks the read model's rows of the area against the replay.
func (r *replay) compare(m *readModel) {
	a := r.state
	r.Capacity, r.Sold, r.Holds = a.Capacity, a.Sold, len(a.Holds)
	if m == nil {
		r.Problems = append(r.Problems, "the read model lacks the area")
		return
	}
	if m.capacity != a.Capacity || m.sold != a.Sold || m.version != r.Version {
		r.Problems = append(r.Problems, fmt.Sprintf("read model: capacity %d, sold %d at version %d; events: capacity %d, sold %d at version %d",
			m.capacity, m.sold, m.version, a.Capacity, a.Sold, r.Version))
	}
	for order, h := range a.Holds {
		mh, ok := m.holds[order]
		if !ok || mh.Quantity != h.Quantity || !mh.ExpiresAt.Equal(h.ExpiresAt) {
			r.Problems = append(r.Problems, fmt.Sprintf("read model: hold of order %s is %+v; events: %+v", order, mh, h))
		}
	}
	for order := range m.holds {
		if _, ok := a.Holds[order]; !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("read model: hold of order %s that the events ended", order))
		}
	}
}
