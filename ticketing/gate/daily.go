package gate

import (
	"context"
	"fmt"
	"time"
)

// CheckinsByDay counts the entries let in (scans that moved a person
// inside) from from to to, by calendar day (YYYY-MM-DD) in loc, over every
// event.
func (s *Service) CheckinsByDay(ctx context.Context, from, to time.Time, loc *time.Location) (map[string]int64, error) {
	if _, err := s.Project(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT at_ns FROM gate_scans WHERE direction = ? AND counted = 1 AND at_ns >= ? AND at_ns < ?`),
		DirectionEntry, from.UnixNano(), to.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("gate: check-ins by day: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var ns int64
		if err := rows.Scan(&ns); err != nil {
			return nil, fmt.Errorf("gate: check-ins by day: %w", err)
		}
		out[time.Unix(0, ns).In(loc).Format(time.DateOnly)]++
	}
	return out, rows.Err()
}
