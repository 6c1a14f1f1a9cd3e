package auth

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// sessionWatch tells long-lived responses (the console's live-update
// streams) that their session ended in this process: signed out, ended by
// a password change, or its user disabled.
type sessionWatch struct {
	mu      sync.Mutex
	next    int
	waiters map[int]sessionWaiter
}

type sessionWaiter struct {
	sessionID, userID string
	end               context.CancelFunc
}

func (w *sessionWatch) add(sessionID, userID string, end context.CancelFunc) (remove func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiters == nil {
		w.waiters = map[int]sessionWaiter{}
	}
	id := w.next
	w.next++
	w.waiters[id] = sessionWaiter{sessionID: sessionID, userID: userID, end: end}
	return func() {
		w.mu.Lock()
		delete(w.waiters, id)
		w.mu.Unlock()
	}
}

func (w *sessionWatch) endWhere(match func(sessionWaiter) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, sw := range w.waiters {
		if match(sw) {
			sw.end()
			delete(w.waiters, id)
		}
	}
}

func (w *sessionWatch) endSessions(ids ...string) {
	if len(ids) == 0 {
		return
	}
	w.endWhere(func(sw sessionWaiter) bool {
		for _, id := range ids {
			if sw.sessionID == id {
				return true
			}
		}
		return false
	})
}

func (w *sessionWatch) endUser(userID string) {
	w.endWhere(func(sw sessionWaiter) bool { return sw.userID == userID })
}

// SessionContext returns a context that ends when ctx does or when the
// session does, for a response that outlives its request's check (a
// server-sent event stream). The session ends for it:
//
//   - at once when it is ended in this process: sign-out, a password
//     change or reset, the user disabled;
//   - at its absolute expiry, and once it has been idle for
//     Config.SessionIdle (the stream itself is not use: only requests are);
//   - within Config.TouchInterval when another process sharing the
//     database ends it, or deletes or disables the user.
//
// Call the CancelFunc when the response is done.
func (s *Store) SessionContext(ctx context.Context, sess Session) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	remove := s.watch.add(sess.ID, sess.UserID, cancel)
	go func() {
		defer remove()
		recheck := time.NewTicker(max(s.cfg.TouchInterval, time.Second))
		defer recheck.Stop()
		for {
			end := sess.ExpiresAt
			if idle := sess.LastSeenAt.Add(s.cfg.SessionIdle); idle.Before(end) {
				end = idle
			}
			timer := time.NewTimer(end.Sub(s.now()))
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-recheck.C:
			case <-timer.C:
			}
			timer.Stop()
			live, err := s.sessionLive(ctx, &sess)
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "auth: re-check a session", "session_id", sess.ID, "err", err)
			}
			if !live && err == nil {
				cancel()
				return
			}
		}
	}()
	return ctx, cancel
}

// sessionLive re-reads the session by id, without touching it, and
// reports whether it is still valid; sess.LastSeenAt is brought up to date.
func (s *Store) sessionLive(ctx context.Context, sess *Session) (bool, error) {
	var seen, expires int64
	var disabled bool
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT s.last_seen_at, s.expires_at, u.disabled
		FROM auth_sessions s JOIN auth_users u ON u.id = s.user_id WHERE s.id = ?`), sess.ID).Scan(&seen, &expires, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	sess.LastSeenAt, sess.ExpiresAt = fromMillis(seen), fromMillis(expires)
	now := s.now()
	return !disabled && now.Before(sess.ExpiresAt) && now.Before(sess.LastSeenAt.Add(s.cfg.SessionIdle)), nil
}
