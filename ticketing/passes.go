package ticketing

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

// handleAccess keeps the signed passes the gate made: a ticket's from
// AccessGranted (acl.access), a staff member's from StaffAccess
// (acl.staff), so the ticket and staff views show the QR payload the
// gates verify. A revoked staff pass is cleared.
func (s *Service) handleAccess(ctx context.Context, r *stream.Record) error {
	tx, err := handlerTx(ctx)
	if err != nil {
		return err
	}
	typ, err := messages.TypeOf(r.Value)
	if err != nil {
		return consume.Permanent(err)
	}
	switch typ {
	case messages.TypeAccessGranted:
		var m messages.Access
		if err := json.Unmarshal(r.Value, &m); err != nil {
			return consume.Permanent(fmt.Errorf("ticketing: %s: %w", typ, err))
		}
		for _, p := range m.Passes {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE tickets SET pass = ? WHERE id = ? AND order_id = ?`), p.QR, p.TicketID, m.OrderID); err != nil {
				return fmt.Errorf("ticketing: keep the pass of ticket %s: %w", p.TicketID, err)
			}
		}
	case messages.TypeStaffGranted, messages.TypeStaffRevoked:
		var m messages.StaffAccess
		if err := json.Unmarshal(r.Value, &m); err != nil {
			return consume.Permanent(fmt.Errorf("ticketing: %s: %w", typ, err))
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE staff SET pass = ? WHERE id = ? AND event_id = ?`), m.QR, m.StaffID, m.EventID); err != nil {
			return fmt.Errorf("ticketing: keep the pass of staff %s: %w", m.StaffID, err)
		}
	}
	return nil
}
