package ticketing

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
)

// The waiting room of an event queues buyers at an on-sale moment and
// admits them at a set rate, strictly in the order they arrived. While it
// is on, placing an order for the event needs an admission token, which
// the room gives a buyer whose turn came; one token places one order.
//
// Everything lives in the service's store: a restart keeps every position
// and admission, and processes sharing one PostgreSQL store share the room.
// Positions come from incrementing a counter in the event's settings row;
// admission moves the admitted range forward with a compare-and-set on
// that row, paced by a generic cell rate algorithm (GCRA): over any span of
// T seconds at most rate×(T+1) buyers are admitted, whoever asks.

// Limits and defaults of the waiting room.
const (
	DefaultWaitroomRate     = 50
	MaxWaitroomRate         = 100_000
	DefaultAdmissionTTL     = 10 * time.Minute
	MinAdmissionTTL         = 30 * time.Second
	MaxAdmissionTTL         = 24 * time.Hour
	admissionTokenPrefix    = "wra1"
	admissionTokenMACDomain = "arus waiting room admission v1\x00"
	// waitroomAttempts bounds the compare-and-set retries of one
	// admission step; another process that won meanwhile did the work.
	waitroomAttempts = 8
)

// Queue ticket states.
const (
	QueueWaiting  = "waiting"
	QueueAdmitted = "admitted"
	QueueExpired  = "expired"
	QueueUsed     = "used"
)

// WaitroomInput configures an event's waiting room.
type WaitroomInput struct {
	Enabled bool `json:"enabled"`
	// Rate is how many buyers are admitted per second (1 to 100,000;
	// default 50).
	Rate int `json:"rate"`
	// TokenTTLSeconds is how long an admission token is valid after the
	// buyer's admission (30 s to 24 h; default 600).
	TokenTTLSeconds int `json:"token_ttl_seconds"`
}

// Waitroom is an event's waiting room: its settings and where the queue
// stands.
type Waitroom struct {
	EventID         string `json:"event_id"`
	Enabled         bool   `json:"enabled"`
	Rate            int    `json:"rate"`
	TokenTTLSeconds int    `json:"token_ttl_seconds"`
	// Joined is the number of positions given, Admitted the positions
	// admitted (1 to Admitted), Waiting the rest.
	Joined    int64     `json:"joined"`
	Admitted  int64     `json:"admitted"`
	Waiting   int64     `json:"waiting"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`

	tat int64 // the admission clock (GCRA's theoretical arrival time), µs
}

// QueueTicket is a buyer's place in a waiting room. Ticket, the bearer
// secret that asks for the place's status, is only in the answer to
// joining.
type QueueTicket struct {
	Ticket   string `json:"ticket,omitempty"`
	EventID  string `json:"event_id"`
	Position int64  `json:"position"`
	// Status is waiting, admitted (AdmissionToken is valid until
	// TokenExpires), expired (the token's time ran out unused: join
	// again) or used (the token placed an order).
	Status string `json:"status"`
	// Ahead is the number of buyers before this one still waiting;
	// EstimatedWaitSeconds when this one should be admitted at the
	// room's rate.
	Ahead                int64     `json:"ahead"`
	EstimatedWaitSeconds int64     `json:"estimated_wait_seconds"`
	JoinedAt             time.Time `json:"joined_at"`
	AdmittedAt           time.Time `json:"admitted_at,omitzero"`
	AdmissionToken       string    `json:"admission_token,omitempty"`
	TokenExpires         time.Time `json:"token_expires,omitzero"`
	// RoomOn is false once the room was switched off: orders need no
	// token then.
	RoomOn bool `json:"room_on"`
}

func (in *WaitroomInput) validate() error {
	var c checker
	if in.Rate == 0 {
		in.Rate = DefaultWaitroomRate
	}
	if in.TokenTTLSeconds == 0 {
		in.TokenTTLSeconds = int(DefaultAdmissionTTL / time.Second)
	}
	if in.Rate < 1 || in.Rate > MaxWaitroomRate {
		c.Add("rate", "%d: admissions per second must be 1 to %d", in.Rate, MaxWaitroomRate)
	}
	if ttl := time.Duration(in.TokenTTLSeconds) * time.Second; ttl < MinAdmissionTTL || ttl > MaxAdmissionTTL {
		c.Add("token_ttl_seconds", "%d: must be %d to %d seconds", in.TokenTTLSeconds, int(MinAdmissionTTL/time.Second), int(MaxAdmissionTTL/time.Second))
	}
	return c.err()
}

const waitroomColumns = `event_id, enabled, rate, token_ttl_seconds, last_position, admitted_through, admit_tat, updated_at`

func scanWaitroom(sc interface{ Scan(...any) error }) (Waitroom, error) {
	var w Waitroom
	var enabled int
	var updated int64
	if err := sc.Scan(&w.EventID, &enabled, &w.Rate, &w.TokenTTLSeconds, &w.Joined, &w.Admitted, &w.tat, &updated); err != nil {
		return Waitroom{}, err
	}
	w.Enabled, w.UpdatedAt, w.Waiting = enabled != 0, fromMicros(updated), w.Joined-w.Admitted
	return w, nil
}

// waitroom loads an event's room; a room never set up is off.
func (s *Service) waitroom(ctx context.Context, q querier, event string) (Waitroom, error) {
	w, err := scanWaitroom(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+waitroomColumns+` FROM waitroom_settings WHERE event_id = ?`), event))
	if errors.Is(err, sql.ErrNoRows) {
		return Waitroom{EventID: event, Rate: DefaultWaitroomRate, TokenTTLSeconds: int(DefaultAdmissionTTL / time.Second)}, nil
	}
	if err != nil {
		return Waitroom{}, fmt.Errorf("ticketing: load waiting room: %w", err)
	}
	return w, nil
}

// WaitingRoom returns the waiting room of an event the scope sees.
func (s *Service) WaitingRoom(ctx context.Context, sc Scope, event string) (Waitroom, error) {
	if _, err := s.Event(ctx, sc, event); err != nil {
		return Waitroom{}, err
	}
	if err := s.admit(ctx, event); err != nil {
		return Waitroom{}, err
	}
	return s.waitroom(ctx, s.db, event)
}

// SetWaitingRoom switches an event's waiting room on or off and sets its
// rate and token validity. Switching it off lets every buyer order without
// a token; switching it on again keeps the queue where it was.
func (s *Service) SetWaitingRoom(ctx context.Context, sc Scope, event string, in WaitroomInput) (Waitroom, error) {
	if err := in.validate(); err != nil {
		return Waitroom{}, err
	}
	e, err := s.Event(ctx, sc, event)
	if err != nil {
		return Waitroom{}, err
	}
	switch e.Status {
	case StatusEnded, StatusExpired, StatusCanceled:
		return Waitroom{}, invalid.Refuse(ErrConflict, "waitroom_event_over", "event %s is %s", e.ID, e.Status)
	}
	now := micros(s.cfg.Now())
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE waitroom_settings SET enabled = ?, rate = ?, token_ttl_seconds = ?, updated_at = ? WHERE event_id = ?`),
			boolInt(in.Enabled), in.Rate, in.TokenTTLSeconds, now, event)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO waitroom_settings (event_id, enabled, rate, token_ttl_seconds, updated_at) VALUES (?, ?, ?, ?, ?)`),
			event, boolInt(in.Enabled), in.Rate, in.TokenTTLSeconds, now)
		return err
	})
	if store.IsUniqueViolation(err) {
		// Another request created the row first; set it again over it.
		return s.SetWaitingRoom(ctx, sc, event, in)
	}
	if err != nil {
		return Waitroom{}, fmt.Errorf("ticketing: set waiting room: %w", err)
	}
	return s.waitroom(ctx, s.db, event)
}

// JoinWaitingRoom gives the next position in an event's waiting room. The
// answer's Ticket is the only way to ask for the place again; it is not
// stored (only its hash is). Joining needs the room on and the event
// approved or on sale, before its sale ends.
func (s *Service) JoinWaitingRoom(ctx context.Context, event string) (QueueTicket, error) {
	sw, err := s.saleWindow(ctx, event)
	if err != nil {
		return QueueTicket{}, err
	}
	if sw.status != StatusApproved && sw.status != StatusOnSale || !s.cfg.Now().Before(sw.ends) {
		return QueueTicket{}, invalid.Refuse(ErrConflict, "waitroom_not_open", "event %s is not about to go or on sale", event)
	}
	id, sec := newID("wrq"), secret(16)
	hash := sha256.Sum256([]byte(sec))
	if err := s.joins.join(ctx, s, event, id, hex.EncodeToString(hash[:])); err != nil {
		return QueueTicket{}, err
	}
	t, err := s.queueTicket(ctx, event, id)
	if err != nil {
		return QueueTicket{}, err
	}
	t.Ticket = id + "." + sec
	return t, nil
}

// WaitingRoomStatus answers where a queue ticket stands, admitting the
// buyers whose turn came first. The ticket must be of the event.
func (s *Service) WaitingRoomStatus(ctx context.Context, event, ticket string) (QueueTicket, error) {
	id, sec, ok := strings.Cut(ticket, ".")
	if !ok || !idPattern(id) {
		return QueueTicket{}, invalid.New(ErrInvalid, "ticket", "is not a queue ticket")
	}
	var stored string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT secret_hash FROM waitroom_tickets WHERE id = ? AND event_id = ?`), id, event).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return QueueTicket{}, invalid.New(ErrInvalid, "ticket", "is not a queue ticket of event %s", event)
	}
	if err != nil {
		return QueueTicket{}, fmt.Errorf("ticketing: load queue ticket: %w", err)
	}
	hash := sha256.Sum256([]byte(sec))
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(hash[:])), []byte(stored)) != 1 {
		return QueueTicket{}, invalid.New(ErrInvalid, "ticket", "is not a queue ticket of event %s", event)
	}
	return s.queueTicket(ctx, event, id)
}

func idPattern(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// queueTicket admits who is due, then describes the ticket.
func (s *Service) queueTicket(ctx context.Context, event, id string) (QueueTicket, error) {
	if err := s.admit(ctx, event); err != nil {
		return QueueTicket{}, err
	}
	w, err := s.waitroom(ctx, s.db, event)
	if err != nil {
		return QueueTicket{}, err
	}
	t := QueueTicket{EventID: event, RoomOn: w.Enabled}
	var joined, admitted, used int64
	err = s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT position, joined_at, admitted_at, used_at FROM waitroom_tickets WHERE id = ?`), id).
		Scan(&t.Position, &joined, &admitted, &used)
	if err != nil {
		return QueueTicket{}, fmt.Errorf("ticketing: load queue ticket: %w", err)
	}
	t.JoinedAt, t.AdmittedAt = fromMicros(joined), fromMicros(admitted)
	now := s.cfg.Now()
	switch {
	case used != 0:
		t.Status = QueueUsed
	case admitted != 0:
		t.TokenExpires = t.AdmittedAt.Add(time.Duration(w.TokenTTLSeconds) * time.Second)
		t.Status = QueueAdmitted
		if !now.Before(t.TokenExpires) {
			t.Status = QueueExpired
		} else {
			t.AdmissionToken = s.admissionToken(event, id, t.TokenExpires)
		}
	default:
		t.Status = QueueWaiting
		t.Ahead = t.Position - w.Admitted - 1
		sw, err := s.saleWindow(ctx, event)
		if err != nil {
			return QueueTicket{}, err
		}
		t.EstimatedWaitSeconds = estimateWait(w, sw.starts, now, t.Position)
	}
	return t, nil
}

// eventSale is what the waiting room needs of an event: its state and
// sale window.
type eventSale struct {
	status       string
	starts, ends time.Time
}

// saleWindow reads an event's state and sale window, one small query
// where Event reads the areas too.
func (s *Service) saleWindow(ctx context.Context, event string) (eventSale, error) {
	var es eventSale
	var starts, ends int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT status, sale_starts_at, sale_ends_at FROM events WHERE id = ?`), event).Scan(&es.status, &starts, &ends)
	if errors.Is(err, sql.ErrNoRows) {
		return eventSale{}, invalid.Refuse(ErrNotFound, "event_unknown", "event %s", event)
	}
	if err != nil {
		return eventSale{}, fmt.Errorf("ticketing: event %s: %w", event, err)
	}
	es.starts, es.ends = fromMicros(starts), fromMicros(ends)
	return es, nil
}

// interval is the time between two admissions at the room's rate, in µs.
func (w Waitroom) interval() int64 { return int64(time.Second/time.Microsecond) / int64(w.Rate) }

// estimateWait is when position is admitted at the room's rate: the k-th
// next admission comes when the admission clock, k intervals on, is within
// a second of now.
func estimateWait(w Waitroom, saleStarts, now time.Time, position int64) int64 {
	k := position - w.Admitted
	start := max(w.tat, micros(saleStarts), micros(now))
	at := start + k*w.interval() - int64(time.Second/time.Microsecond)
	wait := at - micros(now)
	if wait <= 0 {
		return 0
	}
	return (wait + 999_999) / 1_000_000
}

// admit admits the buyers of an event's room whose turn came: while the
// room is on and the event on sale, up to rate per second in position
// order. Each step is a compare-and-set on the room's row, so two
// processes never admit the same positions nor more than the rate; a
// process that loses the race finds the work done.
func (s *Service) admit(ctx context.Context, event string) error {
	for range waitroomAttempts {
		w, err := s.waitroom(ctx, s.db, event)
		if err != nil || !w.Enabled || w.Admitted >= w.Joined {
			return err
		}
		sw, err := s.saleWindow(ctx, event)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		if sw.status != StatusOnSale || now.Before(sw.starts) || !now.Before(sw.ends) {
			return nil
		}
		nowUs, iv := micros(now), w.interval()
		base := max(w.tat, nowUs)
		n := min((nowUs+int64(time.Second/time.Microsecond)-base)/iv, w.Joined-w.Admitted)
		if n <= 0 {
			return nil
		}
		won := false
		err = s.db.InTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE waitroom_settings SET admitted_through = ?, admit_tat = ?
				WHERE event_id = ? AND admitted_through = ? AND admit_tat = ? AND enabled = 1`),
				w.Admitted+n, base+n*iv, event, w.Admitted, w.tat)
			if err != nil {
				return err
			}
			if c, err := res.RowsAffected(); err != nil || c == 0 {
				return err
			}
			won = true
			_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE waitroom_tickets SET admitted_at = ? WHERE event_id = ? AND position > ? AND position <= ?`),
				nowUs, event, w.Admitted, w.Admitted+n)
			return err
		})
		if err != nil {
			return fmt.Errorf("ticketing: admit from waiting room: %w", err)
		}
		if won {
			s.metrics.admitted.Add(float64(n))
			return nil
		}
	}
	return nil
}

// admitAll admits who is due in every room that is on, for the sweeper:
// admission times then follow the rate even while nobody asks.
func (s *Service) admitAll(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT event_id FROM waitroom_settings WHERE enabled = 1 AND admitted_through < last_position`)
	if err != nil {
		return fmt.Errorf("ticketing: list waiting rooms: %w", err)
	}
	var events []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			rows.Close()
			return err
		}
		events = append(events, e)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	var errs []error
	for _, e := range events {
		errs = append(errs, s.admit(ctx, e))
	}
	return errors.Join(errs...)
}

// admissionToken signs (event, queue ticket, expiry): HMAC-SHA256 under
// the service's waiting-room key.
func (s *Service) admissionToken(event, ticket string, expires time.Time) string {
	payload := event + "\x00" + ticket + "\x00" + strconv.FormatInt(expires.Unix(), 10)
	enc := base64.RawURLEncoding
	return admissionTokenPrefix + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(s.admissionMAC(payload))
}

func (s *Service) admissionMAC(payload string) []byte {
	m := hmac.New(sha256.New, s.cfg.WaitroomKey)
	m.Write([]byte(admissionTokenMACDomain + payload))
	return m.Sum(nil)
}

// admissionTicket checks an order's admission token for event, when the
// event's room is on, and returns the queue ticket it names ("" when the
// room is off). Errors name the field admission_token.
func (s *Service) admissionTicket(ctx context.Context, event, token string) (string, error) {
	w, err := s.waitroom(ctx, s.db.Reader(), event)
	if err != nil || !w.Enabled {
		return "", err
	}
	refuse := func(reason, format string, args ...any) (string, error) {
		s.metrics.refused.WithLabelValues(reason).Inc()
		return "", invalid.New(ErrInvalid, "admission_token", format, args...)
	}
	if token == "" {
		return refuse("missing", "is required: the waiting room of event %s is on; join it and order with the token it gives when your turn comes", event)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != admissionTokenPrefix {
		return refuse("invalid", "is not an admission token")
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(parts[1])
	mac, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.admissionMAC(string(payload))) {
		return refuse("invalid", "is not an admission token this server signed")
	}
	f := strings.Split(string(payload), "\x00")
	if len(f) != 3 {
		return refuse("invalid", "is not an admission token")
	}
	exp, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return refuse("invalid", "is not an admission token")
	}
	if f[0] != event {
		return refuse("other_event", "was given for event %s, not %s", f[0], event)
	}
	if expires := time.Unix(exp, 0); !s.cfg.Now().Before(expires) {
		return refuse("expired", "expired at %s; join the waiting room again", expires.UTC().Format(time.RFC3339))
	}
	var used int64
	var order string
	err = s.db.Reader().QueryRowContext(ctx, s.db.Rebind(`SELECT used_at, used_order FROM waitroom_tickets WHERE id = ? AND event_id = ?`), f[1], event).Scan(&used, &order)
	if errors.Is(err, sql.ErrNoRows) {
		return refuse("invalid", "names no queue ticket of event %s", event)
	}
	if err != nil {
		return "", fmt.Errorf("ticketing: load queue ticket: %w", err)
	}
	if used != 0 {
		return refuse("used", "was used by order %s; one token admits one order", order)
	}
	return f[1], nil
}

// useAdmission spends a queue ticket's admission on an order, in the
// order's transaction: a token used meanwhile by another order refuses
// this one.
func (s *Service) useAdmission(ctx context.Context, tx *sql.Tx, event, ticket, order string) error {
	res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE waitroom_tickets SET used_at = ?, used_order = ? WHERE id = ? AND event_id = ? AND used_at = 0`),
		micros(s.cfg.Now()), order, ticket, event)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		s.metrics.refused.WithLabelValues("used").Inc()
		return invalid.New(ErrInvalid, "admission_token", "was used by another order; one token admits one order")
	}
	s.metrics.checkouts.Inc()
	return nil
}
