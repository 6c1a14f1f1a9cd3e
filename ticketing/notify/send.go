package notify

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// claimFor is how long a sender holds a message it is sending: another
// sender (another process on a shared PostgreSQL store) leaves it alone
// that long.
const claimFor = 5 * time.Minute

// sendLoop sends pending messages until ctx ends: every SendInterval, and
// at once when a message is composed in this process.
func (s *Service) sendLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.SendInterval)
	defer t.Stop()
	for {
		if err := s.SendPending(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("notify: sending pending messages failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// SendPending sends the messages waiting for SMTP whose time has come. A
// message is claimed before it is sent, so two senders do not send it
// twice; a sender that dies mid-send leaves it to be tried again after
// the claim ran out, so a message is sent at least once.
func (s *Service) SendPending(ctx context.Context) error {
	if s.cfg.SMTP == nil {
		return nil
	}
	now := s.cfg.Now().UnixNano()
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, next_ns, attempts FROM notify_messages
		WHERE state = ? AND next_ns <= ? ORDER BY created_ns LIMIT 50`), StatePending, now)
	if err != nil {
		return fmt.Errorf("notify: find pending messages: %w", err)
	}
	type due struct {
		id       string
		next     int64
		attempts int
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.next, &d.attempts); err != nil {
			rows.Close()
			return err
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range list {
		res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE notify_messages SET next_ns = ? WHERE id = ? AND state = ? AND next_ns = ?`),
			now+int64(claimFor), d.id, StatePending, d.next)
		if err != nil {
			return fmt.Errorf("notify: claim message %s: %w", d.id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue // another sender has it
		}
		if err := s.sendOne(ctx, d.id, d.attempts+1); err != nil {
			return err
		}
	}
	return nil
}

// sendOne sends a claimed message and records the outcome.
func (s *Service) sendOne(ctx context.Context, id string, attempt int) error {
	m, err := s.Message(ctx, id)
	if err != nil {
		return err
	}
	raw, err := MIME(m, s.cfg.SMTP.From)
	if err != nil {
		return fmt.Errorf("notify: message %s: %w", id, err)
	}
	sendErr := s.cfg.SMTP.send(ctx, m.To, raw)
	if ctx.Err() != nil {
		return ctx.Err() // the claim runs out and the message is tried again
	}
	now := s.cfg.Now()
	state, next, lastErr, sent := StateSent, int64(0), "", now.UnixNano()
	if sendErr != nil {
		var pe *permanentError
		lastErr, sent = sendErr.Error(), 0
		state = StatePending
		backoff := s.cfg.RetryBackoff << min(attempt-1, 20)
		next = now.Add(min(backoff, time.Hour)).UnixNano()
		if errors.As(sendErr, &pe) || attempt >= s.cfg.MaxAttempts {
			state = StateFailed
		}
		s.log.Warn("notify: sending a message failed", "message", id, "to", m.To, "attempt", attempt, "state", state, "err", sendErr)
	}
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`UPDATE notify_messages SET state = ?, attempts = ?, last_error = ?, next_ns = ?, sent_ns = ? WHERE id = ?`),
		state, attempt, lastErr, next, sent, id)
	if err != nil {
		return fmt.Errorf("notify: record sending message %s: %w", id, err)
	}
	return nil
}
