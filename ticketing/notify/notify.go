// Package notify is the e-ticketing notification service: it turns what
// happens to orders, payments and customer accounts into messages to the
// buyer, in Indonesian or English (Buyer.Lang): the order confirmation
// with payment instructions, the e-tickets with their QR codes as inline
// PNG images, expiry and cancellation notices, the refund of a late
// payment, refunds, and the confirmation link of a new customer account.
//
// Every message is kept in the service's mailbox (its own store). With
// SMTP configured, a message waits there until it is sent, and is tried
// again with back-off when the server fails; without, it is delivered to
// the mailbox, which the API lists and shows.
//
// It consumes ticketing.orders, payment.events and auth.customers (and,
// with Config.AwaitAccess, acl.access) in the group "notify" through an
// inbox, so a record delivered again composes no second message.
package notify

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

//go:embed migrations
var migrations embed.FS

// Group is the consumer group notify reads its topics in.
const Group = "notify"

// Message states.
const (
	// StateMailbox: delivered to the mailbox (no SMTP configured).
	StateMailbox = "mailbox"
	// StatePending: waiting to be sent by SMTP.
	StatePending = "pending"
	// StateSent: the SMTP server accepted it.
	StateSent = "sent"
	// StateFailed: the address is not valid, the server refused it for
	// good, or every attempt failed; LastError says why.
	StateFailed = "failed"
)

// ErrNotFound: no such message.
var ErrNotFound = errors.New("notify: not found")

// Config configures a [Service].
type Config struct {
	// DB is the service's own store; required.
	DB *store.DB
	// Broker carries the topics; required.
	Broker stream.Broker
	// SMTP sends the messages; nil keeps them in the mailbox.
	SMTP *SMTPConfig
	// MaxAttempts is how often a message is tried by SMTP before it
	// fails. Default 8.
	MaxAttempts int
	// RetryBackoff is the wait after a message's first failed attempt; it
	// doubles with each further one, up to an hour. Default 30s.
	RetryBackoff time.Duration
	// SendInterval is how often pending messages are looked for. Default 1s.
	SendInterval time.Duration
	// Partitions is the partition count of the suite's topics when the
	// service creates them. Default 4.
	Partitions int32
	// Logger receives the service's logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the inbox's metrics.
	Registerer prometheus.Registerer
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// AwaitAccess makes the e-tickets wait for the gate: an order's
	// e-ticket is composed once both its TicketsIssued (ticketing.orders)
	// and the gate's AccessGranted (acl.access) arrived, and its QR codes
	// carry the gate's signed passes, which the gates verify. Without it
	// (no gate runs) the e-ticket is mailed on TicketsIssued with each
	// ticket's Code.
	AwaitAccess bool
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("notify: no store"))
	}
	if c.Broker == nil {
		errs = append(errs, errors.New("notify: no broker"))
	}
	if c.SMTP != nil {
		if err := c.SMTP.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MaxAttempts < 0 || c.RetryBackoff < 0 || c.SendInterval < 0 || c.Partitions < 0 {
		errs = append(errs, errors.New("notify: attempts, durations and partitions must not be negative"))
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 8
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 30 * time.Second
	}
	if c.SendInterval == 0 {
		c.SendInterval = time.Second
	}
	if c.Partitions == 0 {
		c.Partitions = 4
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return errors.Join(errs...)
}

// Service is the notification service. It is safe for concurrent use.
type Service struct {
	cfg   Config
	db    *store.DB
	inbox *outbox.Inbox
	log   *slog.Logger
	wake  chan struct{}
}

// Open migrates the service's store, opens its inbox and creates the
// suite's topics that are missing. Run starts it.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	if err := cfg.DB.Migrate(ctx, sub); err != nil {
		return nil, err
	}
	in, err := outbox.OpenInbox(ctx, cfg.DB, outbox.InboxConfig{Name: Group, Logger: cfg.Logger, Registerer: cfg.Registerer})
	if err != nil {
		return nil, err
	}
	for _, t := range messages.Topics {
		err := cfg.Broker.CreateTopic(ctx, stream.Topic{Name: t, Partitions: cfg.Partitions})
		if err != nil && !errors.Is(err, stream.ErrTopicExists) {
			return nil, fmt.Errorf("notify: create topic %s: %w", t, err)
		}
	}
	return &Service{cfg: cfg, db: cfg.DB, inbox: in, log: cfg.Logger, wake: make(chan struct{}, 1)}, nil
}

// Ping checks that the service's store answers.
func (s *Service) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Run consumes the topics, and sends pending messages when SMTP is
// configured, until ctx ends; then it returns nil, or the error that
// stopped a part.
func (s *Service) Run(ctx context.Context) error {
	chain, err := consume.Chain(consume.ChainConfig{Group: Group, Producer: s.cfg.Broker, Inbox: s.inbox, Logger: s.log})
	if err != nil {
		return err
	}
	topics := []string{messages.TopicOrders, messages.TopicPayments, messages.TopicCustomers}
	if s.cfg.AwaitAccess {
		topics = append(topics, messages.TopicAccess)
	}
	rt, err := consume.New(s.cfg.Broker, consume.Config{Group: Group,
		Topics:       topics,
		RetryBackoff: 200 * time.Millisecond, Logger: s.log})
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.inbox.Run(gctx) })
	g.Go(func() error { return keepConsuming(gctx, rt, chain(s.handle), s.log) })
	if s.cfg.SMTP != nil {
		g.Go(func() error { s.sendLoop(gctx); return nil })
	}
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// handle composes the message a record causes, if any, and keeps it in
// the mailbox, in the inbox's transaction.
func (s *Service) handle(ctx context.Context, r *stream.Record) error {
	tx, ok := outbox.TxFromContext(ctx)
	if !ok {
		return consume.Permanent(errors.New("notify: handler called outside an inbox transaction"))
	}
	source := r.Topic + "/" + r.ID()
	m, ok, paired, err := s.pairETicket(ctx, tx, r)
	if !paired {
		m, ok, err = compose(r.Topic, r.Value)
	} else {
		source = "e_ticket/" + m.OrderID
	}
	if err != nil {
		return consume.Permanent(fmt.Errorf("notify: record %s on %s: %w", r.ID(), r.Topic, err))
	}
	if !ok {
		return nil
	}
	return s.keep(ctx, tx, source, m)
}

// pairETicket keeps, with AwaitAccess, the half of an order's e-ticket
// that r carries (its tickets, or the gate's passes), and composes the
// e-ticket once both are in. paired is false for records it does not
// take; ok is false while a half is missing or once the e-ticket was
// composed.
func (s *Service) pairETicket(ctx context.Context, tx *sql.Tx, r *stream.Record) (m mail, ok, paired bool, err error) {
	if !s.cfg.AwaitAccess {
		return mail{}, false, false, nil
	}
	typ, err := messages.TypeOf(r.Value)
	if err != nil {
		return mail{}, false, false, nil // compose says why
	}
	var col, orderID string
	switch {
	case r.Topic == messages.TopicOrders && typ == messages.TypeTicketsIssued:
		var v messages.TicketsIssued
		if err := json.Unmarshal(r.Value, &v); err != nil {
			return mail{}, false, true, err
		}
		col, orderID = "issued", v.OrderID
	case r.Topic == messages.TopicAccess && typ == messages.TypeAccessGranted:
		var v messages.Access
		if err := json.Unmarshal(r.Value, &v); err != nil {
			return mail{}, false, true, err
		}
		col, orderID = "access", v.OrderID
	default:
		return mail{}, false, false, nil
	}
	if orderID == "" {
		return mail{}, false, true, errors.New("no order_id")
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO notify_etickets (order_id, `+col+`) VALUES (?, ?)
		ON CONFLICT (order_id) DO UPDATE SET `+col+` = excluded.`+col), orderID, string(r.Value)); err != nil {
		return mail{}, false, true, fmt.Errorf("notify: keep the e-ticket of order %s: %w", orderID, err)
	}
	var issuedJSON, accessJSON string
	var mailed int
	if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT issued, access, mailed FROM notify_etickets WHERE order_id = ?`), orderID).
		Scan(&issuedJSON, &accessJSON, &mailed); err != nil {
		return mail{}, false, true, fmt.Errorf("notify: read the e-ticket of order %s: %w", orderID, err)
	}
	if issuedJSON == "" || accessJSON == "" || mailed == 1 {
		return mail{}, false, true, nil
	}
	var issued messages.TicketsIssued
	var access messages.Access
	if err := json.Unmarshal([]byte(issuedJSON), &issued); err != nil {
		return mail{}, false, true, err
	}
	if err := json.Unmarshal([]byte(accessJSON), &access); err != nil {
		return mail{}, false, true, err
	}
	passes := map[string]string{}
	for _, p := range access.Passes {
		passes[p.TicketID] = p.QR
	}
	m, err = eTicket(issued, passes)
	if err != nil {
		return mail{}, false, true, err
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE notify_etickets SET mailed = 1 WHERE order_id = ?`), orderID); err != nil {
		return mail{}, false, true, fmt.Errorf("notify: e-ticket of order %s: %w", orderID, err)
	}
	return m, true, true, nil
}

// keep stores a composed message in the mailbox, once per source.
func (s *Service) keep(ctx context.Context, tx *sql.Tx, source string, m mail) error {
	html, err := m.html()
	if err != nil {
		return consume.Permanent(err)
	}
	parts, err := json.Marshal(m.Parts)
	if err != nil {
		return err
	}
	state, lastErr := StateMailbox, ""
	if s.cfg.SMTP != nil {
		state = StatePending
	}
	if !validAddress(m.To) {
		state, lastErr = StateFailed, fmt.Sprintf("the recipient %q is not an e-mail address", m.To)
	}
	now := s.cfg.Now().UTC()
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO notify_messages (id, source, kind, order_id, recipient, lang,
		subject, text_body, html_body, parts, state, last_error, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source) DO NOTHING`),
		"msg_"+uuid.Must(uuid.NewV7()).String(), source, m.Kind, m.OrderID, m.To, m.Lang, m.Subject, m.text(), html,
		string(parts), state, lastErr, now.UnixNano())
	if err != nil {
		return fmt.Errorf("notify: keep %s for %s: %w", m.Kind, m.To, err)
	}
	if state == StatePending {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// validAddress reports whether s is a bare e-mail address, safe to put in
// a header.
func validAddress(s string) bool {
	if s == "" || len(s) > 254 || strings.ContainsAny(s, "\r\n<>") {
		return false
	}
	a, err := netmail.ParseAddress(s)
	return err == nil && a.Address == s
}

// Message is one composed message.
type Message struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	OrderID   string    `json:"order_id,omitempty"`
	To        string    `json:"to"`
	Lang      string    `json:"lang"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text,omitempty"`
	HTML      string    `json:"html,omitempty"`
	Parts     []Part    `json:"parts,omitempty"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	SentAt    time.Time `json:"sent_at,omitzero"`
}

// Query filters [Service.Messages].
type Query struct {
	// To keeps messages to this address (any case).
	To string
	// Kind keeps messages of this kind.
	Kind string
	// OrderID keeps messages about this order.
	OrderID string
	// State keeps messages in this state.
	State string
	// Limit is the most messages returned, newest first. Default 50.
	Limit int
}

const columns = `id, kind, order_id, recipient, lang, subject, text_body, html_body, parts, state, attempts, last_error, created_ns, sent_ns`

func scanMessage(sc interface{ Scan(...any) error }, full bool) (Message, error) {
	var m Message
	var parts string
	var created, sent int64
	if err := sc.Scan(&m.ID, &m.Kind, &m.OrderID, &m.To, &m.Lang, &m.Subject, &m.Text, &m.HTML, &parts, &m.State,
		&m.Attempts, &m.LastError, &created, &sent); err != nil {
		return Message{}, err
	}
	if err := json.Unmarshal([]byte(parts), &m.Parts); err != nil {
		return Message{}, fmt.Errorf("notify: message %s: parts: %w", m.ID, err)
	}
	m.CreatedAt = time.Unix(0, created).UTC()
	if sent != 0 {
		m.SentAt = time.Unix(0, sent).UTC()
	}
	for i := range m.Parts {
		if !full {
			m.Parts[i].Data = nil
		} else if err := m.Parts[i].draw(); err != nil {
			return Message{}, fmt.Errorf("notify: message %s: %w", m.ID, err)
		}
	}
	if !full {
		m.Text, m.HTML = "", ""
	}
	return m, nil
}

// Messages lists the mailbox, newest first, without bodies and image data
// (Message has them).
func (s *Service) Messages(ctx context.Context, q Query) ([]Message, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	query := `SELECT ` + columns + ` FROM notify_messages WHERE 1 = 1`
	var args []any
	for _, f := range []struct{ col, v string }{{"LOWER(recipient)", strings.ToLower(q.To)}, {"kind", q.Kind}, {"order_id", q.OrderID}, {"state", q.State}} {
		if f.v != "" {
			query += ` AND ` + f.col + ` = ?`
			args = append(args, f.v)
		}
	}
	query += ` ORDER BY created_ns DESC, id DESC LIMIT ?`
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("notify: list messages: %w", err)
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		m, err := scanMessage(rows, false)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Message returns one message with its bodies and images.
func (s *Service) Message(ctx context.Context, id string) (Message, error) {
	m, err := scanMessage(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+columns+` FROM notify_messages WHERE id = ?`), id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, invalid.Refuse(ErrNotFound, "message_unknown", "no message %q", id)
	}
	if err != nil {
		return Message{}, fmt.Errorf("notify: read message %s: %w", id, err)
	}
	return m, nil
}

// keepConsuming runs rt until ctx ends. When consuming fails (the broker
// went away), it logs why and starts again after a back-off that grows
// from 1 s to 30 s, so the service comes back with its broker instead of
// stopping the process.
func keepConsuming(ctx context.Context, rt *consume.Runtime, h consume.Handler, log *slog.Logger) error {
	backoff := time.Second
	for {
		err := rt.Run(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("notify: consuming failed; starting again", "group", Group, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
