package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/stream"
)

// cardLimit is what the simulated card provider accepts in one payment.
const cardLimit = 1_000_000

// paymentService charges cards and refunds charges.
type paymentService struct{ *participant }

func newPaymentService(ctx context.Context, b stream.Broker, dir string, out *console, log *slog.Logger) (*paymentService, error) {
	p, err := openParticipant(ctx, b, dir, "payments", TopicPayment, out, log)
	if err != nil {
		return nil, err
	}
	return &paymentService{p}, nil
}

func (s *paymentService) decide(ctx context.Context, tx *sql.Tx, r *stream.Record) (*stream.Record, string, error) {
	var p Purchase
	if err := json.Unmarshal(r.Value, &p); err != nil {
		return nil, "", consume.Permanent(fmt.Errorf("purchase %s: %w", saga.ID(r), err))
	}
	id := saga.ID(r)
	var status, reason string
	err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT status, reason FROM charges WHERE saga_id = ?`), id).Scan(&status, &reason)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", err
	}
	none := errors.Is(err, sql.ErrNoRows)

	if saga.IsCompensation(r) {
		var say string
		switch {
		case none:
			// Nothing was charged (yet): remember it, so that a late charge
			// is refused.
			_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO charges (saga_id, amount, status) VALUES (?, ?, 'voided')`), id, p.Amount)
			say = p.ID + " voided: nothing was charged"
		case status == "charged":
			_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE charges SET status = 'refunded' WHERE saga_id = ?`), id)
			say = fmt.Sprintf("%s refunded %s", p.ID, rupiah(p.Amount))
		}
		if err != nil {
			return nil, "", err
		}
		return saga.Success(r, nil), say, nil
	}

	switch status {
	case "charged":
		return saga.Success(r, nil), "", nil // answered before; answer again
	case "declined", "voided", "refunded":
		return saga.Failure(r, reason), "", nil
	}
	status = "charged"
	if p.Amount > cardLimit {
		status, reason = "declined", fmt.Sprintf("card declined: %s is over the limit of %s", rupiah(p.Amount), rupiah(cardLimit))
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO charges (saga_id, amount, status, reason) VALUES (?, ?, ?, ?)`),
		id, p.Amount, status, reason); err != nil {
		return nil, "", err
	}
	if status == "declined" {
		return saga.Failure(r, reason), fmt.Sprintf("%s %s", p.ID, reason), nil
	}
	return saga.Success(r, nil), fmt.Sprintf("%s charged %s to %s", p.ID, rupiah(p.Amount), p.Customer), nil
}

// charges returns each saga's charge status.
func (s *paymentService) charges(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT saga_id, status FROM charges`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			return nil, err
		}
		out[id] = status
	}
	return out, rows.Err()
}
