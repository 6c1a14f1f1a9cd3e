package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/arus-platform/arus/store"
)

// Session is a logged-in browser. It holds no secret that lets anyone log
// in: the session token is returned only by CreateSession and is stored
// only as its SHA-256.
type Session struct {
	// ID names the session in listings and logs; it is not the token and
	// cannot be used to authenticate.
	ID     string
	UserID string
	// CSRFToken is a random per-session token for forms and the
	// X-CSRF-Token header; check it with CheckCSRF.
	CSRFToken string
	IP        string
	UserAgent string
	CreatedAt time.Time
	// LastSeenAt is updated at most once per Config.TouchInterval.
	LastSeenAt time.Time
	// ExpiresAt is the absolute end of the session (login time plus
	// Config.SessionLifetime); it ends earlier when idle for longer than
	// Config.SessionIdle. A cookie's Expires can be set to it.
	ExpiresAt time.Time
}

// CheckCSRF reports whether token is the session's CSRF token, comparing
// in constant time. An empty token never matches.
func (s Session) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRFToken)) == 1
}

// SessionMeta describes the client starting a session.
type SessionMeta struct {
	IP        string
	UserAgent string
	// Replaces is the token of the client's previous session, if any. It
	// is deleted in the same transaction, so a login always leaves the
	// client with a fresh token and the old one dead (no session
	// fixation).
	Replaces string
}

const (
	maxIP        = 64
	maxUserAgent = 512
)

// CreateSession starts a session for the user, typically right after
// Authenticate. It returns the session and its token: 256 random bits,
// base64url, to put in the session cookie. The token is not stored and
// cannot be retrieved again. Every call makes a new token.
func (s *Store) CreateSession(ctx context.Context, userID string, meta SessionMeta) (Session, string, error) {
	if !validID(userID) {
		return Session{}, "", fmt.Errorf("%w: user %q", ErrNotFound, userID)
	}
	token := randomToken()
	now := fromMillis(toMillis(s.now()))
	sess := Session{
		ID:         newID(),
		UserID:     userID,
		CSRFToken:  randomToken(),
		IP:         cleanText(meta.IP, maxIP),
		UserAgent:  cleanText(meta.UserAgent, maxUserAgent),
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(s.cfg.SessionLifetime),
	}
	var replaced []string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if meta.Replaces != "" {
			var err error
			if replaced, err = s.deleteSessions(ctx, tx, `token_hash = ?`, tokenHash(meta.Replaces)); err != nil {
				return fmt.Errorf("auth: delete replaced session: %w", err)
			}
		}
		var disabled bool
		err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT disabled FROM auth_users WHERE id = ?`), userID).Scan(&disabled)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: user %s", ErrNotFound, userID)
		}
		if err != nil {
			return fmt.Errorf("auth: create session: %w", err)
		}
		if disabled {
			return ErrDisabled
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO auth_sessions
			(id, token_hash, user_id, csrf_token, ip, user_agent, created_at, last_seen_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			sess.ID, tokenHash(token), userID, sess.CSRFToken, sess.IP, sess.UserAgent,
			toMillis(sess.CreatedAt), toMillis(sess.LastSeenAt), toMillis(sess.ExpiresAt))
		if err != nil {
			return fmt.Errorf("auth: create session: %w", err)
		}
		return nil
	})
	if err != nil {
		return Session{}, "", err
	}
	s.watch.endSessions(replaced...)
	return sess, token, nil
}

// Session returns the session of a token and its user. It fails with
// ErrInvalidCredentials for an unknown (or ended) token, as VerifyAPIKey
// does for an unknown key, ErrExpired for one past its idle or
// absolute expiry (and deletes it), and ErrDisabled when the user is
// disabled. It records the session as seen, at most once per
// Config.TouchInterval.
func (s *Store) Session(ctx context.Context, token string) (Session, User, error) {
	if len(token) != 43 {
		return Session{}, User{}, fmt.Errorf("%w: no such session", ErrInvalidCredentials)
	}
	hash := tokenHash(token)
	row := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+`, s.id, s.csrf_token, s.ip, s.user_agent, s.created_at, s.last_seen_at, s.expires_at
		FROM auth_sessions s JOIN auth_users u ON u.id = s.user_id WHERE s.token_hash = ?`), hash)
	var sess Session
	var created, seen, expires int64
	u, err := scanUser(row, &sess.ID, &sess.CSRFToken, &sess.IP, &sess.UserAgent, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, User{}, fmt.Errorf("%w: no such session", ErrInvalidCredentials)
	}
	if err != nil {
		return Session{}, User{}, fmt.Errorf("auth: load session: %w", err)
	}
	sess.UserID = u.ID
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = fromMillis(created), fromMillis(seen), fromMillis(expires)

	now := s.now()
	if !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.cfg.SessionIdle)) {
		if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM auth_sessions WHERE token_hash = ?`), hash); err != nil {
			s.log.WarnContext(ctx, "auth: delete expired session", "session_id", sess.ID, "err", err)
		}
		return Session{}, User{}, fmt.Errorf("%w: session", ErrExpired)
	}
	if u.Disabled {
		return Session{}, User{}, ErrDisabled
	}
	if u.Roles, err = s.userRoles(ctx, s.db, u.ID); err != nil {
		return Session{}, User{}, err
	}
	if now.Sub(sess.LastSeenAt) >= s.cfg.TouchInterval {
		seenMs := toMillis(now)
		_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE auth_sessions SET last_seen_at = ? WHERE token_hash = ? AND last_seen_at < ?`),
			seenMs, hash, seenMs)
		if err != nil {
			// The session is valid; a missed touch only shortens it.
			s.log.WarnContext(ctx, "auth: record session as seen", "session_id", sess.ID, "err", err)
		} else {
			sess.LastSeenAt = fromMillis(seenMs)
		}
	}
	return sess, u, nil
}

// DeleteSession ends the session of a token (logout). Deleting an unknown
// or already deleted session is not an error.
// Live responses of the session (see SessionContext) end with it.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	ids, err := s.deleteSessions(ctx, s.db, `token_hash = ?`, tokenHash(token))
	if err != nil {
		return fmt.Errorf("auth: delete session: %w", err)
	}
	s.watch.endSessions(ids...)
	return nil
}

// deleteSessions deletes the sessions matching cond and returns their ids.
func (s *Store) deleteSessions(ctx context.Context, q store.Querier, cond string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`DELETE FROM auth_sessions WHERE `+cond+` RETURNING id`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// DeleteUserSessions ends every session of the user ("log out
// everywhere"). SetPassword and Disable do it themselves.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		return s.deleteUserSessionsTx(ctx, tx, userID)
	})
	if err == nil {
		s.watch.endUser(userID)
	}
	return err
}

func (s *Store) deleteUserSessionsTx(ctx context.Context, tx *sql.Tx, userID string) error {
	if !validID(userID) {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM auth_sessions WHERE user_id = ?`), userID); err != nil {
		return fmt.Errorf("auth: delete sessions of user %s: %w", userID, err)
	}
	return nil
}

// UserSessions lists the user's live sessions, newest first, for an
// "active sessions" page.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]Session, error) {
	if !validID(userID) {
		return nil, nil
	}
	now := s.now()
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, csrf_token, ip, user_agent, created_at, last_seen_at, expires_at
		FROM auth_sessions WHERE user_id = ? AND expires_at > ? AND last_seen_at > ? ORDER BY created_at DESC, id DESC`),
		userID, toMillis(now), toMillis(now.Add(-s.cfg.SessionIdle)))
	if err != nil {
		return nil, fmt.Errorf("auth: list sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		sess := Session{UserID: userID}
		var created, seen, expires int64
		if err := rows.Scan(&sess.ID, &sess.CSRFToken, &sess.IP, &sess.UserAgent, &created, &seen, &expires); err != nil {
			return nil, fmt.Errorf("auth: list sessions: %w", err)
		}
		sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = fromMillis(created), fromMillis(seen), fromMillis(expires)
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth: list sessions: %w", err)
	}
	return out, nil
}

// DeleteUserSession ends one session of the user by its ID, as from an
// "active sessions" page. It returns ErrNotFound when the user has no such
// session.
func (s *Store) DeleteUserSession(ctx context.Context, userID, sessionID string) error {
	if !validID(userID) || !validID(sessionID) {
		return fmt.Errorf("%w: session %q", ErrNotFound, sessionID)
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM auth_sessions WHERE id = ? AND user_id = ?`), sessionID, userID)
	if err != nil {
		return fmt.Errorf("auth: delete session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: session %s", ErrNotFound, sessionID)
	}
	s.watch.endSessions(sessionID)
	return nil
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
