package ticketing

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

// The dashboard is a read model built from the orders topic
// (ticketing.orders) by the service's own consumer group, once per
// message through its inbox: orders placed, revenue, tickets sold and
// refunds per day, and the customers seen. Days are calendar days in
// Asia/Jakarta.

var dashboardZone = func() *time.Location {
	loc, err := time.LoadLocation(DefaultTimeZone)
	if err != nil {
		return time.FixedZone("WIB", 7*3600)
	}
	return loc
}()

func dashboardDay(t time.Time) string { return t.In(dashboardZone).Format(time.DateOnly) }

// handleDashboard folds one message of the orders topic into the
// dashboard, in the inbox's transaction.
func (s *Service) handleDashboard(ctx context.Context, r *stream.Record) error {
	tx, err := handlerTx(ctx)
	if err != nil {
		return err
	}
	typ, err := messages.TypeOf(r.Value)
	if err != nil {
		return consume.Permanent(fmt.Errorf("ticketing: dashboard: %w", err))
	}
	add := func(day, column string, n int64) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO dashboard_days (day, `+column+`) VALUES (?, ?)
			ON CONFLICT (day) DO UPDATE SET `+column+` = dashboard_days.`+column+` + excluded.`+column), day, n)
		return err
	}
	switch typ {
	case messages.TypeOrderPlaced:
		var m messages.OrderPlaced
		if err := json.Unmarshal(r.Value, &m); err != nil {
			return consume.Permanent(err)
		}
		day := dashboardDay(m.PlacedAt)
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO dashboard_customers (email, first_day) VALUES (?, ?) ON CONFLICT (email) DO NOTHING`),
			m.Buyer.Email, day); err != nil {
			return err
		}
		return add(day, "orders", 1)
	case messages.TypeOrderPaid:
		var m messages.OrderPaid
		if err := json.Unmarshal(r.Value, &m); err != nil {
			return consume.Permanent(err)
		}
		return add(dashboardDay(m.At), "revenue", m.Amount)
	case messages.TypeTicketsIssued:
		var m messages.TicketsIssued
		if err := json.Unmarshal(r.Value, &m); err != nil {
			return consume.Permanent(err)
		}
		return add(dashboardDay(m.At), "tickets", int64(len(m.Tickets)))
	case messages.TypeOrderRefunded:
		var m messages.OrderRefunded
		if err := json.Unmarshal(r.Value, &m); err != nil {
			return consume.Permanent(err)
		}
		return add(dashboardDay(m.At), "refunded", m.Amount)
	}
	return nil
}

// Period is the totals of a day or a month.
type Period struct {
	// Period is a day (2023-03-20) or a month (2023-03).
	Period   string `json:"period"`
	Orders   int64  `json:"orders"`
	Tickets  int64  `json:"tickets"`
	Revenue  int64  `json:"revenue"`
	Refunded int64  `json:"refunded"`
}

// Dashboard is the platform's dashboard over a period.
type Dashboard struct {
	Merchants int64 `json:"merchants"`
	Events    int64 `json:"events"`
	Customers int64 `json:"customers"`
	// From and To are the period's first and last day, inclusive.
	From   string   `json:"from"`
	To     string   `json:"to"`
	Days   []Period `json:"days"`
	Months []Period `json:"months"`
}

// Dashboard returns the counts and, for the days from..to (inclusive,
// YYYY-MM-DD), the totals by day and by month.
func (s *Service) Dashboard(ctx context.Context, from, to time.Time) (Dashboard, error) {
	d := Dashboard{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Days: []Period{}, Months: []Period{}}
	for _, c := range []struct {
		dst   *int64
		query string
	}{
		{&d.Merchants, `SELECT COUNT(*) FROM merchants`},
		{&d.Events, `SELECT COUNT(*) FROM events`},
		{&d.Customers, `SELECT COUNT(*) FROM dashboard_customers`},
	} {
		if err := s.db.QueryRowContext(ctx, c.query).Scan(c.dst); err != nil {
			return Dashboard{}, fmt.Errorf("ticketing: dashboard: %w", err)
		}
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT day, orders, tickets, revenue, refunded FROM dashboard_days
		WHERE day >= ? AND day <= ? ORDER BY day`), d.From, d.To)
	if err != nil {
		return Dashboard{}, fmt.Errorf("ticketing: dashboard: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Period
		if err := rows.Scan(&p.Period, &p.Orders, &p.Tickets, &p.Revenue, &p.Refunded); err != nil {
			return Dashboard{}, err
		}
		d.Days = append(d.Days, p)
		month := p.Period[:7]
		if n := len(d.Months); n == 0 || d.Months[n-1].Period != month {
			d.Months = append(d.Months, Period{Period: month})
		}
		m := &d.Months[len(d.Months)-1]
		m.Orders, m.Tickets, m.Revenue, m.Refunded = m.Orders+p.Orders, m.Tickets+p.Tickets, m.Revenue+p.Revenue, m.Refunded+p.Refunded
	}
	return d, rows.Err()
}
