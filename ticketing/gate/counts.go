package gate

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// GateCount is how many people a gate let in and out.
type GateCount struct {
	Entries int `json:"entries"`
	Exits   int `json:"exits"`
}

// Counts are an event's live figures. Inside counts people, not scans:
// each pass is inside or not, whatever lists or gates it was scanned on,
// so nobody is counted twice.
type Counts struct {
	Inside       int                  `json:"inside"`
	InsideByArea map[string]int       `json:"inside_by_area"`
	ByGate       map[string]GateCount `json:"by_gate"`
	// Scans is every scan recorded; Flagged those recorded although they
	// conflict (forced or overridden) or were admitted by id without the
	// pass; Refused those refused.
	Scans   int `json:"scans"`
	Flagged int `json:"flagged"`
	Refused int `json:"refused"`
}

// Counts reads an event's figures from the access list, brought up to date
// with every event appended first.
func (s *Service) Counts(ctx context.Context, eventID string) (Counts, error) {
	c := Counts{InsideByArea: map[string]int{}, ByGate: map[string]GateCount{}}
	if _, err := s.Project(ctx); err != nil {
		return c, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT area_id, COUNT(*) FROM gate_passes WHERE event_id = ? AND inside = 1 GROUP BY area_id`), eventID)
	if err != nil {
		return c, fmt.Errorf("gate: counts: %w", err)
	}
	for rows.Next() {
		var area string
		var n int
		if err := rows.Scan(&area, &n); err != nil {
			rows.Close()
			return c, fmt.Errorf("gate: counts: %w", err)
		}
		c.InsideByArea[area] = n
		c.Inside += n
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, s.db.Rebind(`SELECT gate_id, direction, result, flag <> '', counted, COUNT(*) FROM gate_scans WHERE event_id = ? GROUP BY gate_id, direction, result, flag <> '', counted`), eventID)
	if err != nil {
		return c, fmt.Errorf("gate: counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var gate, dir, result string
		var flagged bool
		var counted, n int
		if err := rows.Scan(&gate, &dir, &result, &flagged, &counted, &n); err != nil {
			return c, fmt.Errorf("gate: counts: %w", err)
		}
		c.add(gate, dir, result == "ok", flagged, counted == 1, n)
	}
	return c, rows.Err()
}

func (c *Counts) add(gate, dir string, ok, flagged, counted bool, n int) {
	c.Scans += n
	if !ok {
		c.Refused += n
	}
	if flagged {
		c.Flagged += n
	}
	if counted {
		g := c.ByGate[gate]
		if dir == DirectionEntry {
			g.Entries += n
		} else {
			g.Exits += n
		}
		c.ByGate[gate] = g
	}
}

// Recount computes an event's figures from its log alone, without the
// access list: every pass's stream folded again. It equals [Service.Counts]
// whenever the access list is up to date.
func (s *Service) Recount(ctx context.Context, eventID string) (Counts, error) {
	c := Counts{InsideByArea: map[string]int{}, ByGate: map[string]GateCount{}}
	passes := map[string]*passState{}
	areas := map[string]string{}
	var after int64
	for {
		events, err := s.es.ReadAll(ctx, after, 1000)
		if err != nil {
			return c, fmt.Errorf("gate: recount: %w", err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			after = e.Position
			ev, pass, ok := splitStream(e.StreamID)
			if !ok || ev != eventID {
				continue
			}
			st := passes[pass]
			if st == nil {
				st = &passState{}
				passes[pass] = st
			}
			if err := st.apply(e); err != nil {
				return c, fmt.Errorf("gate: recount: %w", err)
			}
			if e.Type == evScanned {
				sc, err := scanOf(e.Data)
				if err != nil {
					return c, err
				}
				if sc.AreaID != "" && areas[pass] == "" {
					areas[pass] = sc.AreaID
				}
				c.add(sc.GateID, sc.Direction, sc.OK, sc.Flag != "", sc.Counted, 1)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(passes)) {
		st := passes[id]
		if !st.Inside {
			continue
		}
		area := st.AreaID
		if area == "" {
			area = areas[id]
		}
		c.Inside++
		c.InsideByArea[area]++
	}
	return c, nil
}

// Flagged lists an event's scans recorded although they conflict (forced
// uploads, overrides) and those admitted by id without the pass, oldest
// first: which pass, which gate, when, why, and for a duplicate the entry
// it duplicates.
func (s *Service) Flagged(ctx context.Context, eventID string) ([]Scan, error) {
	if _, err := s.Project(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT pass_id FROM gate_scans WHERE event_id = ? AND flag <> '' ORDER BY position`), eventID)
	if err != nil {
		return nil, fmt.Errorf("gate: flagged scans: %w", err)
	}
	var passes []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, err
		}
		if !slices.Contains(passes, p) {
			passes = append(passes, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []Scan{}
	for _, p := range passes {
		events, err := s.es.Load(ctx, streamID(eventID, p), 0)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			if e.Type != evScanned {
				continue
			}
			sc, err := scanOf(e.Data)
			if err != nil {
				return nil, err
			}
			if sc.Flag != "" {
				out = append(out, sc)
			}
		}
	}
	return out, nil
}
