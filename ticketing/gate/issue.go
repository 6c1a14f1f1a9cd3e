package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

// IssueTickets adds an order's tickets to the event's access list, signs a
// pass for each, and publishes AccessGranted with the passes, in one
// transaction. A ticket already issued keeps its stream; its pass is
// signed again (the same pass, possibly under a newer key).
func (s *Service) IssueTickets(ctx context.Context, m messages.TicketsIssued) (messages.Access, error) {
	return s.issueTickets(ctx, m, nil)
}

// once, when not nil, is called first in the transaction of a change made
// for a consumed record: false means the record was handled already, and
// the change is skipped.
type once func(tx *sql.Tx) (bool, error)

func (s *Service) issueTickets(ctx context.Context, m messages.TicketsIssued, first once) (messages.Access, error) {
	es, err := s.liveServer(ctx, m.EventID)
	if err != nil {
		return messages.Access{}, err
	}
	at := m.At
	if at.IsZero() {
		at = s.now()
	}
	access := messages.Access{Type: messages.TypeAccessGranted, OrderID: m.OrderID, EventID: m.EventID, At: at}
	notBefore, notAfter := m.Starts, m.Ends
	if notBefore.IsZero() {
		notBefore = es.Starts
	}
	if notAfter.IsZero() {
		notAfter = es.Ends
	}
	// Doors open before the event starts: a pass is valid from a day before.
	if !notBefore.IsZero() {
		notBefore = notBefore.Add(-24 * time.Hour)
	}
	type issue struct {
		id      string
		version int64
		ev      eventsource.Event
	}
	var issues []issue
	for i, t := range m.Tickets {
		if err := checkID(fmt.Sprintf("tickets[%d].ticket_id", i), t.TicketID); err != nil {
			return messages.Access{}, err
		}
		if !es.hasArea(t.AreaID) {
			return messages.Access{}, invalid.New(ErrInvalid, fmt.Sprintf("tickets[%d].area_id", i), "the event has no area %q", t.AreaID)
		}
		qr, err := s.SignPass(ctx, Pass{Kind: KindTicket, EventID: m.EventID, PassID: t.TicketID, AreaID: t.AreaID, NotBefore: notBefore, NotAfter: notAfter})
		if err != nil {
			return messages.Access{}, err
		}
		access.TicketIDs = append(access.TicketIDs, t.TicketID)
		access.Passes = append(access.Passes, messages.Pass{TicketID: t.TicketID, QR: qr})
		st, version, err := s.loadPass(ctx, m.EventID, t.TicketID)
		if err != nil {
			return messages.Access{}, err
		}
		if st.Issued {
			continue
		}
		issues = append(issues, issue{t.TicketID, version, event(evIssued, issuedData{EventID: m.EventID, PassID: t.TicketID, Kind: "ticket",
			OrderID: m.OrderID, BuyerID: m.Buyer.UserID, Number: m.Number, BuyerName: tidyName(m.Buyer.Name), Email: strings.TrimSpace(m.Buyer.Email), AreaID: t.AreaID, NotBefore: notBefore, NotAfter: notAfter}, at)})
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if first != nil {
			if ok, err := first(tx); err != nil || !ok {
				return err
			}
		}
		for _, is := range issues {
			if _, err := s.es.AppendTx(ctx, tx, streamID(m.EventID, is.id), is.version, is.ev); err != nil {
				return err
			}
		}
		return s.publish(ctx, tx, m.OrderID, access)
	})
	if err != nil {
		return messages.Access{}, fmt.Errorf("gate: issue tickets of order %s: %w", m.OrderID, err)
	}
	s.es.Notify()
	return access, nil
}

// AssignStaff adds a staff member's pass to the access list for their
// work window, and returns its signed QR payload.
func (s *Service) AssignStaff(ctx context.Context, eventID, staffID, areaID string, from, to time.Time) (string, error) {
	es, err := s.liveServer(ctx, eventID)
	if err != nil {
		return "", err
	}
	if err := checkID("staff_id", staffID); err != nil {
		return "", err
	}
	if !es.hasArea(areaID) {
		return "", invalid.New(ErrInvalid, "area_id", "the event has no area %q", areaID)
	}
	if to.Before(from) {
		return "", invalid.New(ErrInvalid, "end", "is before start")
	}
	qr, err := s.SignPass(ctx, Pass{Kind: KindStaff, EventID: eventID, PassID: staffID, AreaID: areaID, NotBefore: from, NotAfter: to})
	if err != nil {
		return "", err
	}
	st, version, err := s.loadPass(ctx, eventID, staffID)
	if err != nil {
		return "", err
	}
	if !st.Issued {
		if _, err := s.es.Append(ctx, streamID(eventID, staffID), version, event(evIssued, issuedData{EventID: eventID, PassID: staffID, Kind: "staff",
			AreaID: areaID, NotBefore: from, NotAfter: to}, s.now())); err != nil {
			return "", fmt.Errorf("gate: assign staff %s: %w", staffID, err)
		}
	}
	return qr, nil
}

// RevokeTickets withdraws tickets from the access list (a refund, a
// cancellation) and publishes AccessRevoked. A reason that mentions
// cancellation marks them canceled, any other revoked.
func (s *Service) RevokeTickets(ctx context.Context, m messages.TicketsRevoked) error {
	return s.revokeTickets(ctx, m, nil)
}

func (s *Service) revokeTickets(ctx context.Context, m messages.TicketsRevoked, first once) error {
	status := StatusRevoked
	if strings.Contains(strings.ToLower(m.Reason), "cancel") {
		status = StatusCanceled
	}
	at := m.At
	if at.IsZero() {
		at = s.now()
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if first != nil {
			if ok, err := first(tx); err != nil || !ok {
				return err
			}
		}
		for _, id := range m.TicketIDs {
			if _, err := s.es.AppendTx(ctx, tx, streamID(m.EventID, id), eventsource.AnyVersion,
				event(evRevoked, statusData{EventID: m.EventID, PassID: id, Status: status, Reason: m.Reason}, at)); err != nil {
				return err
			}
		}
		return s.publish(ctx, tx, m.OrderID, messages.Access{Type: messages.TypeAccessRevoked, OrderID: m.OrderID, EventID: m.EventID, TicketIDs: m.TicketIDs, At: at})
	})
	if err != nil {
		return fmt.Errorf("gate: revoke tickets of order %s: %w", m.OrderID, err)
	}
	s.es.Notify()
	return nil
}

// Block stops a pass at every gate until Unblock; reason is recorded.
func (s *Service) Block(ctx context.Context, eventID, passID, reason string) error {
	return s.setBlocked(ctx, evBlocked, eventID, passID, reason)
}

// Unblock lets a blocked pass through again.
func (s *Service) Unblock(ctx context.Context, eventID, passID, reason string) error {
	return s.setBlocked(ctx, evUnblocked, eventID, passID, reason)
}

func (s *Service) setBlocked(ctx context.Context, typ, eventID, passID, reason string) error {
	st, version, err := s.loadPass(ctx, eventID, passID)
	if err != nil {
		return err
	}
	if !st.Issued {
		return invalid.Refuse(ErrNotFound, "pass_unknown", "event %s has no pass %s", eventID, passID)
	}
	if _, err := s.es.Append(ctx, streamID(eventID, passID), version, event(typ, statusData{EventID: eventID, PassID: passID, Reason: reason}, s.now())); err != nil {
		return fmt.Errorf("gate: %s %s: %w", typ, passID, err)
	}
	_, err = s.Project(ctx)
	return err
}

func (s *Service) publish(ctx context.Context, tx *sql.Tx, key string, m messages.Access) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.outbox.Write(ctx, tx, &stream.Record{Topic: messages.TopicAccess, Key: []byte(key), Value: b})
}

// OrderPass is a ticket of an order with its signed QR payload, as its
// buyer fetches it.
type OrderPass struct {
	EventID  string `json:"event_id"`
	TicketID string `json:"ticket_id"`
	AreaID   string `json:"area_id"`
	Status   string `json:"status"`
	// QR is the signed payload the ticket's QR code carries; absent once
	// the ticket was revoked or canceled.
	QR        string    `json:"qr,omitempty"`
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
}

// OrderPasses returns the passes of an order bought by the signed-in user
// buyerID, each signed again with the event's active key (the same pass).
// An order of another buyer, of a guest (no buyerID), or unknown is
// ErrNotFound alike, so its existence is not told.
func (s *Service) OrderPasses(ctx context.Context, orderID, buyerID string) ([]OrderPass, error) {
	notFound := invalid.Refuse(ErrNotFound, "order_unknown", "no order %s of this buyer", orderID)
	if orderID == "" || buyerID == "" {
		return nil, notFound
	}
	if _, err := s.Project(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT event_id, pass_id FROM gate_passes WHERE order_id = ? AND buyer_id = ? AND kind = 'ticket' ORDER BY event_id, pass_id`), orderID, buyerID)
	if err != nil {
		return nil, fmt.Errorf("gate: passes of order %s: %w", orderID, err)
	}
	type ref struct{ event, pass string }
	var refs []ref
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.event, &r.pass); err != nil {
			rows.Close()
			return nil, fmt.Errorf("gate: passes of order %s: %w", orderID, err)
		}
		refs = append(refs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return nil, notFound
	}
	out := make([]OrderPass, 0, len(refs))
	for _, r := range refs {
		st, _, err := s.loadPass(ctx, r.event, r.pass)
		if err != nil {
			return nil, err
		}
		op := OrderPass{EventID: r.event, TicketID: r.pass, AreaID: st.AreaID, Status: st.Status, NotBefore: st.NotBefore, NotAfter: st.NotAfter}
		if st.Status == StatusValid || st.Status == StatusBlocked {
			if op.QR, err = s.SignPass(ctx, Pass{Kind: KindTicket, EventID: r.event, PassID: r.pass, AreaID: st.AreaID, NotBefore: st.NotBefore, NotAfter: st.NotAfter}); err != nil {
				return nil, err
			}
		}
		out = append(out, op)
	}
	return out, nil
}
