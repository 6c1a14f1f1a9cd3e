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

// stockService reserves items for purchases and releases them again.
type stockService struct{ *participant }

func newStockService(ctx context.Context, b stream.Broker, dir string, out *console, log *slog.Logger) (*stockService, error) {
	p, err := openParticipant(ctx, b, dir, "stock", TopicStock, out, log)
	if err != nil {
		return nil, err
	}
	return &stockService{p}, nil
}

func (s *stockService) decide(ctx context.Context, tx *sql.Tx, r *stream.Record) (*stream.Record, string, error) {
	var p Purchase
	if err := json.Unmarshal(r.Value, &p); err != nil {
		return nil, "", consume.Permanent(fmt.Errorf("purchase %s: %w", saga.ID(r), err))
	}
	id := saga.ID(r)
	var status string
	err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT status FROM reservations WHERE saga_id = ?`), id).Scan(&status)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", err
	}
	none := errors.Is(err, sql.ErrNoRows)
	reservation := []byte("R-" + id)

	if saga.IsCompensation(r) {
		var say string
		switch {
		case none:
			// Nothing was reserved (yet): remember the release, so that a
			// late reservation is refused.
			_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO reservations (saga_id, sku, qty, status) VALUES (?, ?, ?, 'released')`), id, p.SKU, p.Qty)
			say = p.ID + " release noted: nothing was reserved"
		case status == "reserved":
			if _, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE items SET available = available + ? WHERE sku = ?`), p.Qty, p.SKU); err == nil {
				_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE reservations SET status = 'released' WHERE saga_id = ?`), id)
			}
			say = fmt.Sprintf("%s released %d × %s", p.ID, p.Qty, p.SKU)
		}
		if err != nil {
			return nil, "", err
		}
		return saga.Success(r, nil), say, nil
	}

	switch status {
	case "reserved":
		return saga.Success(r, reservation), "", nil // answered before; answer again
	case "refused", "released":
		return saga.Failure(r, "reservation refused before"), "", nil
	}
	var available int
	if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT available FROM items WHERE sku = ?`), p.SKU).Scan(&available); err != nil {
		return nil, "", fmt.Errorf("item %s: %w", p.SKU, err)
	}
	if available < p.Qty {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO reservations (saga_id, sku, qty, status) VALUES (?, ?, ?, 'refused')`), id, p.SKU, p.Qty); err != nil {
			return nil, "", err
		}
		reason := fmt.Sprintf("out of stock: %d × %s wanted, %d left", p.Qty, p.SKU, available)
		return saga.Failure(r, reason), fmt.Sprintf("%s refused: %s", p.ID, reason), nil
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE items SET available = available - ? WHERE sku = ?`), p.Qty, p.SKU); err != nil {
		return nil, "", err
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO reservations (saga_id, sku, qty, status) VALUES (?, ?, ?, 'reserved')`), id, p.SKU, p.Qty); err != nil {
		return nil, "", err
	}
	return saga.Success(r, reservation), fmt.Sprintf("%s reserved %d × %s (%s)", p.ID, p.Qty, p.SKU, reservation), nil
}

// available returns the items left per SKU.
func (s *stockService) available(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sku, available FROM items`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var sku string
		var n int
		if err := rows.Scan(&sku, &n); err != nil {
			return nil, err
		}
		out[sku] = n
	}
	return out, rows.Err()
}
