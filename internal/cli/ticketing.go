package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arus-platform/arus/internal/ticketingapi"
	"github.com/arus-platform/arus/ticketing"
)

const eventsAbout = `
Lists, approves and cancels the ticketing service's events on a running
server:

  arus events list
  arus events list --status waiting_for_approval
  arus events approve EVENT          approve, and start its go-live saga
  arus events cancel EVENT --reason "the venue flooded"

Cancelling refunds every paid order: its tickets are revoked, then the
refund is approved for the payment service. The command talks to the server
at ` + defaultServer + `; see --server.`

const ordersAbout = `
Lists and shows the ticketing service's orders on a running server:

  arus orders list
  arus orders list --event EVENT --status validated --limit 50
  arus orders show 2026-03-20-345-2612    by number or id, with its tickets`

const refundsAbout = `
Lists, approves and rejects refunds on a running server:

  arus refunds list --status requested
  arus refunds approve REFUND        revokes its tickets, then approves it
  arus refunds reject REFUND --reason "the event already started"`

const ticketsAbout = `
Checks the tickets of an event:

  arus tickets audit EVENT

audit replays every area of the event from its inventory events, checks
that no area ever sold or held more than its capacity, and compares the
result with the read model. It exits with status 1 when it finds a
problem.`

// ticketingClient parses the server flags and the single positional
// argument (when want is not empty) of a ticketing subcommand.
func ticketingClient(f *flags, args []string, want string) (*ticketingapi.Client, string, error) {
	s, rest, err := serverArgs(f, args)
	if err != nil {
		return nil, "", err
	}
	arg := ""
	switch {
	case want != "" && len(rest) == 0:
		return nil, "", f.fail("no %s given", want)
	case want != "":
		arg, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return nil, "", f.fail("unexpected argument %q", rest[0])
	}
	c, err := ticketingapi.NewClient(s.server, s.apiKey)
	return c, arg, err
}

// ticketingReason is ticketingClient for a subcommand on one want that
// requires --reason, whose value is reason.
func ticketingReason(f *flags, args []string, want string, reason *string) (*ticketingapi.Client, string, error) {
	c, id, err := ticketingClient(f, args, want)
	if err != nil {
		return nil, "", err
	}
	if *reason == "" {
		return nil, "", f.fail("--reason is required")
	}
	return c, id, nil
}

// shown formats a time as the console does ("18 Mar, 2023 18:20") in a
// time zone.
func shown(t time.Time, zone string) string {
	if t.IsZero() {
		return "-"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2 Jan, 2006 15:04")
}

func runEvents(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "events", eventsAbout,
		action{"list", eventsList},
		action{"approve", eventsApprove},
		action{"cancel", eventsCancel},
	)
}

func eventsList(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "events list", "arus events list [--status STATUS] [flags]", eventsAbout)
	status := f.String("status", "", "only events in this `status`: "+strings.Join(ticketing.EventStatuses, ", "))
	c, _, err := ticketingClient(f, args, "")
	if err != nil {
		return err
	}
	events, err := c.Events(ctx, *status)
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	tw := newTable(e.stdout, "ID\tEVENT\tSTATUS\tEVENT DATE\tTICKET SALE\tAREAS\tGO-LIVE")
	for _, ev := range events {
		golive := ev.GoLive.State
		if golive == "" {
			golive = "-"
		}
		if ev.GoLive.GateStub {
			golive += " (gate stub)"
		}
		status := ev.Status
		if ev.StatusReason != "" {
			status += ": " + ev.StatusReason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s – %s\t%s – %s\t%d\t%s\n", ev.ID, ev.Title(), status,
			shown(ev.Starts, ev.TimeZone), shown(ev.Ends, ev.TimeZone), shown(ev.SaleStarts, ev.TimeZone), shown(ev.SaleEnds, ev.TimeZone),
			len(ev.Areas), golive)
	}
	return tw.Flush()
}

func eventsApprove(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "events approve", "arus events approve EVENT [flags]", eventsAbout)
	c, id, err := ticketingClient(f, args, "event")
	if err != nil {
		return err
	}
	ev, err := c.ApproveEvent(ctx, id)
	if err != nil {
		return fmt.Errorf("approve %s: %w", id, err)
	}
	fmt.Fprintf(e.stdout, "approved %s; its go-live saga %s is %s\n", ev.Title(), ev.GoLive.SagaID, ev.GoLive.State)
	return nil
}

func eventsCancel(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "events cancel", "arus events cancel EVENT --reason TEXT [flags]", eventsAbout)
	reason := f.String("reason", "", "why the event is canceled (required; buyers are told)")
	c, id, err := ticketingReason(f, args, "event", reason)
	if err != nil {
		return err
	}
	ev, err := c.CancelEvent(ctx, id, *reason)
	if err != nil {
		return fmt.Errorf("cancel %s: %w", id, err)
	}
	fmt.Fprintf(e.stdout, "canceled %s; every paid order is refunded\n", ev.Title())
	return nil
}

func runOrders(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "orders", ordersAbout,
		action{"list", ordersList},
		action{"show", ordersShow},
	)
}

func tick(b bool) string {
	if b {
		return "✓"
	}
	return "✗"
}

func ordersList(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "orders list", "arus orders list [--event EVENT] [--status STATUS] [--limit N] [flags]", ordersAbout)
	event := f.String("event", "", "only orders of this `event` id")
	status := f.String("status", "", "only orders in this `status`: "+strings.Join(ticketing.OrderStatuses, ", "))
	limit := f.Int("limit", 100, "at most this many orders, newest first (1 to 1000)")
	c, _, err := ticketingClient(f, args, "")
	if err != nil {
		return err
	}
	orders, err := c.Orders(ctx, *event, *status, *limit)
	if err != nil {
		return fmt.Errorf("list orders: %w", err)
	}
	tw := newTable(e.stdout, "NUMBER\tPAYMENT INFO\tTOTAL\tRECEIVED\tCHECKOUT\tPAID\tSTATUS\tCREATED")
	for _, o := range orders {
		info := "Waiting for payment until " + shown(o.HoldExpires, ticketing.DefaultTimeZone)
		switch {
		case o.Paid:
			info = "Already paid " + shown(o.PaidAt, ticketing.DefaultTimeZone)
		case o.Status == ticketing.OrderExpired:
			info = "Has expired " + shown(o.HoldExpires, ticketing.DefaultTimeZone)
		case o.Status == ticketing.OrderCanceled:
			info = "Canceled " + shown(o.ClosedAt, ticketing.DefaultTimeZone)
		}
		fmt.Fprintf(tw, "%s\t%s\tRp %d\tRp %d\t%s\t%s\t%s\t%s\n", o.Number, info, o.Total, o.PaymentReceived, tick(o.Checkout), tick(o.Paid),
			o.Status, shown(o.PlacedAt, ticketing.DefaultTimeZone))
	}
	return tw.Flush()
}

func ordersShow(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "orders show", "arus orders show ORDER [flags]", ordersAbout)
	c, id, err := ticketingClient(f, args, "order")
	if err != nil {
		return err
	}
	o, err := c.Order(ctx, id)
	if err != nil {
		return fmt.Errorf("show %s: %w", id, err)
	}
	fmt.Fprintf(e.stdout, "order %s (%s)\nevent %s\nbuyer %s <%s>\nmethod %s\nstatus %s", o.Number, o.ID, o.EventID, o.Buyer.Name, o.Buyer.Email, o.Method, o.Status)
	if o.Reason != "" {
		fmt.Fprintf(e.stdout, " (%s)", o.Reason)
	}
	fmt.Fprintf(e.stdout, "\ntotal Rp %d, received Rp %d, refunded Rp %d; checkout %s, paid %s\nhold until %s\n\n",
		o.Total, o.PaymentReceived, o.Refunded, tick(o.Checkout), tick(o.Paid), shown(o.HoldExpires, ticketing.DefaultTimeZone))
	tw := newTable(e.stdout, "AREA\tQUANTITY\tUNIT PRICE")
	for _, l := range o.Lines {
		fmt.Fprintf(tw, "%s\t%d\tRp %d\n", l.AreaName, l.Quantity, l.UnitPrice)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(o.Tickets) > 0 {
		fmt.Fprintln(e.stdout)
		tw = newTable(e.stdout, "TICKET\tAREA\tSTATUS")
		for _, t := range o.Tickets {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.AreaName, t.Status)
		}
		return tw.Flush()
	}
	return nil
}

func runRefunds(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "refunds", refundsAbout,
		action{"list", refundsList},
		action{"approve", refundsApprove},
		action{"reject", refundsReject},
	)
}

func refundsList(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "refunds list", "arus refunds list [--status STATUS] [--limit N] [flags]", refundsAbout)
	status := f.String("status", "", "only refunds in this `status`: "+strings.Join(ticketing.RefundStatuses, ", "))
	limit := f.Int("limit", 100, "at most this many refunds, newest first (1 to 1000)")
	c, _, err := ticketingClient(f, args, "")
	if err != nil {
		return err
	}
	refunds, err := c.Refunds(ctx, *status, *limit)
	if err != nil {
		return fmt.Errorf("list refunds: %w", err)
	}
	tw := newTable(e.stdout, "ID\tORDER\tKIND\tTOTAL REFUND\tTICKETS\tSTATUS\tCREATED")
	for _, r := range refunds {
		fmt.Fprintf(tw, "%s\t%s\t%s\tRp %d\t%d\t%s\t%s\n", r.ID, r.OrderID, r.Kind, r.Amount, len(r.TicketIDs), r.Status,
			shown(r.RequestedAt, ticketing.DefaultTimeZone))
	}
	return tw.Flush()
}

func refundsApprove(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "refunds approve", "arus refunds approve REFUND [flags]", refundsAbout)
	c, id, err := ticketingClient(f, args, "refund")
	if err != nil {
		return err
	}
	r, err := c.ApproveRefund(ctx, id)
	if err != nil {
		return fmt.Errorf("approve %s: %w", id, err)
	}
	fmt.Fprintf(e.stdout, "approved refund %s of Rp %d; %d tickets revoked\n", r.ID, r.Amount, len(r.TicketIDs))
	return nil
}

func refundsReject(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "refunds reject", "arus refunds reject REFUND --reason TEXT [flags]", refundsAbout)
	reason := f.String("reason", "", "why the refund is rejected (required)")
	c, id, err := ticketingReason(f, args, "refund", reason)
	if err != nil {
		return err
	}
	r, err := c.RejectRefund(ctx, id, *reason)
	if err != nil {
		return fmt.Errorf("reject %s: %w", id, err)
	}
	fmt.Fprintf(e.stdout, "rejected refund %s\n", r.ID)
	return nil
}

// errAuditFailed is the audit's verdict when it found a problem.
var errAuditFailed = errors.New("the audit found problems")

func runTickets(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "tickets", ticketsAbout,
		action{"audit", ticketsAudit},
	)
}

func ticketsAudit(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "tickets audit", "arus tickets audit EVENT [flags]", ticketsAbout)
	c, id, err := ticketingClient(f, args, "event")
	if err != nil {
		return err
	}
	a, err := c.Audit(ctx, id)
	if err != nil {
		return fmt.Errorf("audit %s: %w", id, err)
	}
	tw := newTable(e.stdout, "AREA\tEVENTS\tCAPACITY\tSOLD\tHOLDS\tVERDICT")
	for _, ar := range a.Areas {
		verdict := "ok"
		if len(ar.Problems) > 0 {
			verdict = fmt.Sprintf("%d problems", len(ar.Problems))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", ar.Name, ar.Events, ar.Capacity, ar.Sold, ar.Holds, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, ar := range a.Areas {
		for _, p := range ar.Problems {
			fmt.Fprintf(e.stdout, "%s: %s\n", ar.Name, p)
		}
	}
	fmt.Fprintf(e.stdout, "replayed up to position %d\n", a.Position)
	if !a.OK {
		return errAuditFailed
	}
	return nil
}
