package payment

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing/messages"
)

// Headers of a provider callback: the Unix time it was signed at, and the
// hex HMAC-SHA256, under the shared secret, of that time, a '.', and the
// body.
const (
	HeaderTimestamp = "X-Provider-Timestamp"
	HeaderSignature = "X-Provider-Signature"
)

// Provider event statuses.
const (
	ProviderPaid   = "paid"
	ProviderFailed = "failed"
)

// ProviderEvent is the body of a provider callback: money arrived for an
// intent (paid), or the buyer's attempt failed. EventID is the provider's
// own id: the same id again is the same event.
type ProviderEvent struct {
	EventID        string    `json:"event_id"`
	PaymentID      string    `json:"payment_id"`
	VirtualAccount string    `json:"virtual_account,omitempty"`
	Amount         int64     `json:"amount"`
	Status         string    `json:"status"`
	Reason         string    `json:"reason,omitempty"`
	At             time.Time `json:"at"`
}

// Sign returns the signature of body sent at Unix time ts under secret:
// hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// verify checks a callback's timestamp and signature. The comparison takes
// the same time whatever the signature holds.
func (s *Service) verify(timestamp, signature string, body []byte) error {
	ts, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not a Unix time", ErrSignature, HeaderTimestamp)
	}
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: %s is not a hex HMAC-SHA256", ErrSignature, HeaderSignature)
	}
	want, _ := hex.DecodeString(Sign(s.cfg.Secret, ts, body))
	if !hmac.Equal(got, want) {
		return fmt.Errorf("%w: the signature does not match the body and timestamp", ErrSignature)
	}
	if skew := s.now().Sub(time.Unix(ts, 0)).Abs(); skew > s.cfg.CallbackTolerance {
		return fmt.Errorf("%w: signed %s from now, more than the %s allowed", ErrSignature, skew.Round(time.Second), s.cfg.CallbackTolerance)
	}
	return nil
}

// CallbackResult says what a provider callback did.
type CallbackResult struct {
	EventID   string `json:"event_id"`
	PaymentID string `json:"payment_id"`
	// Outcome is succeeded, failed, or ignored (with Reason), or the
	// outcome the event had when it was first handled.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Duplicate is true when the event was handled before: it had no
	// second effect.
	Duplicate bool `json:"duplicate"`
}

// Callback handles a provider callback: it checks the signature and its
// freshness, then records the event and its effect in one transaction.
// The same event id again is accepted and has no second effect. A bad
// signature is ErrSignature; a body that is not a valid event ErrInvalid;
// an unknown intent ErrNotFound (and the event is not recorded, so the
// provider may send it again).
func (s *Service) Callback(ctx context.Context, timestamp, signature string, body []byte) (CallbackResult, error) {
	if err := s.verify(timestamp, signature, body); err != nil {
		return CallbackResult{}, err
	}
	var ev ProviderEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return CallbackResult{}, invalid.New(ErrInvalid, "(body)", "not a provider event: %v", err)
	}
	switch {
	case strings.TrimSpace(ev.EventID) == "" || len(ev.EventID) > 200:
		return CallbackResult{}, invalid.New(ErrInvalid, "event_id", "is required, at most 200 characters")
	case ev.PaymentID == "" && ev.VirtualAccount == "":
		return CallbackResult{}, invalid.New(ErrInvalid, "payment_id", "a payment id or a virtual account is required")
	case ev.Status != ProviderPaid && ev.Status != ProviderFailed:
		return CallbackResult{}, invalid.New(ErrInvalid, "status", "%q: use %s or %s", ev.Status, ProviderPaid, ProviderFailed)
	}
	res := CallbackResult{EventID: ev.EventID}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		// The intent's row lock comes first: a callback sent twice at
		// once waits here for the first, then finds its event below.
		in, err := s.intentOfEvent(ctx, tx, ev)
		if err != nil {
			return err
		}
		res.PaymentID = in.ID
		var prev string
		err = tx.QueryRowContext(ctx, s.db.Rebind(`SELECT status FROM payment_provider_events WHERE event_id = ?`), ev.EventID).Scan(&prev)
		if err == nil {
			res.Duplicate, res.Outcome = true, prev
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("payment: read provider event: %w", err)
		}
		res.Outcome, res.Reason, err = s.apply(ctx, tx, &in, ev)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO payment_provider_events (event_id, payment_id, status, received_ns) VALUES (?, ?, ?, ?)`),
			ev.EventID, in.ID, res.Outcome, s.now().UnixNano())
		if err != nil {
			return fmt.Errorf("payment: record provider event %s: %w", ev.EventID, err)
		}
		return nil
	})
	if err != nil {
		return CallbackResult{}, err
	}
	return res, nil
}

func (s *Service) intentOfEvent(ctx context.Context, tx *sql.Tx, ev ProviderEvent) (Intent, error) {
	cond, arg := "id = ?", ev.PaymentID
	if ev.PaymentID == "" {
		cond, arg = "virtual_account = ?", ev.VirtualAccount
	}
	in, err := s.intentWhere(ctx, tx, cond, arg, true)
	if errors.Is(err, ErrNotFound) {
		return Intent{}, invalid.Refuse(ErrNotFound, "intent_unknown", "no payment intent %s", arg)
	}
	if err != nil {
		return Intent{}, err
	}
	if ev.VirtualAccount != "" && ev.VirtualAccount != in.VirtualAccount {
		return Intent{}, invalid.New(ErrInvalid, "virtual_account", "%s is not the virtual account of payment %s", ev.VirtualAccount, in.ID)
	}
	if in.Method != messages.MethodOnline {
		return Intent{}, invalid.New(ErrInvalid, "payment_id", "payment %s is paid %s, not online", in.ID, in.Method)
	}
	return in, nil
}

// apply is a new provider event's effect on its intent.
func (s *Service) apply(ctx context.Context, tx *sql.Tx, in *Intent, ev ProviderEvent) (outcome, reason string, err error) {
	if ev.Status == ProviderFailed {
		if in.State != StateRequested {
			return "ignored", fmt.Sprintf("the payment is %s", in.State), nil
		}
		in.State, in.Reason, in.UpdatedAt = StateFailed, ev.Reason, s.now()
		if in.Reason == "" {
			in.Reason = "the provider reported the payment failed"
		}
		if err := s.setIntent(ctx, tx, *in); err != nil {
			return "", "", err
		}
		err := s.publish(ctx, tx, in.OrderID, messages.PaymentResult{Type: messages.TypePaymentFailed, PaymentID: in.ID,
			OrderID: in.OrderID, Amount: in.Amount, Method: in.Method, ProviderEventID: ev.EventID, Reason: in.Reason, At: in.UpdatedAt})
		return StateFailed, "", err
	}
	if ev.Amount != in.Amount {
		return "", "", invalid.New(ErrInvalid, "amount", "%d is not the %d due for payment %s", ev.Amount, in.Amount, in.ID)
	}
	switch in.State {
	case StateRequested, StateFailed, StateExpired, StateCanceled:
		if err := s.succeed(ctx, tx, in, "provider", "", ev.EventID); err != nil {
			return "", "", err
		}
		return StateSucceeded, "", nil
	}
	s.log.Warn("payment: the provider reported money for a payment already paid", "payment", in.ID, "event", ev.EventID, "state", in.State)
	return "ignored", fmt.Sprintf("the payment is already %s", in.State), nil
}

// SimulatedPayment is what the simulated provider is asked to do: take a
// buyer's money for an intent (or fail to).
type SimulatedPayment struct {
	// One of PaymentID, VirtualAccount and QR names the intent.
	PaymentID      string `json:"payment_id,omitempty"`
	VirtualAccount string `json:"virtual_account,omitempty"`
	QR             string `json:"qr,omitempty"`
	// Amount paid; 0 pays the amount due.
	Amount int64 `json:"amount,omitempty"`
	// Outcome is paid (the default) or failed.
	Outcome string `json:"outcome,omitempty"`
	// Reason of a failure.
	Reason string `json:"reason,omitempty"`
}

// Simulation is what the simulated provider sent and what the callback
// answered.
type Simulation struct {
	Event ProviderEvent `json:"event"`
	// CallbackStatus is the HTTP status the callback answered.
	CallbackStatus int `json:"callback_status"`
	// CallbackBody is the callback's answer.
	CallbackBody json.RawMessage `json:"callback_body,omitempty"`
}

// SimulatePay plays the online provider: it builds the event of a payment,
// signs it and posts it to the callback URL, as the provider would, and
// returns what the callback answered. key, the request's idempotency key,
// fixes the event id, so a request sent again sends the same event, which
// the callback handles once. The payment must be in the scope: the
// simulation pays only what the caller may see.
func (s *Service) SimulatePay(ctx context.Context, sc Scope, p SimulatedPayment, key string) (Simulation, error) {
	if s.cfg.CallbackURL == nil {
		return Simulation{}, errors.New("payment: no callback URL for the simulated provider")
	}
	named := 0
	for _, v := range []string{p.PaymentID, p.VirtualAccount, p.QR} {
		if v != "" {
			named++
		}
	}
	if named != 1 {
		return Simulation{}, invalid.New(ErrInvalid, "payment_id", "name the payment by exactly one of payment_id, virtual_account and qr")
	}
	if p.Outcome == "" {
		p.Outcome = ProviderPaid
	}
	if p.Outcome != ProviderPaid && p.Outcome != ProviderFailed {
		return Simulation{}, invalid.New(ErrInvalid, "outcome", "%q: use %s or %s", p.Outcome, ProviderPaid, ProviderFailed)
	}
	if p.Amount < 0 {
		return Simulation{}, invalid.New(ErrInvalid, "amount", "%d is negative", p.Amount)
	}
	var in Intent
	var err error
	switch {
	case p.QR != "":
		parts := strings.Split(p.QR, "|")
		if len(parts) != 5 || parts[0] != "ARUSPAY" {
			return Simulation{}, invalid.New(ErrInvalid, "qr", "not a QR string of this provider")
		}
		in, err = s.Intent(ctx, sc, parts[2])
	case p.VirtualAccount != "":
		in, err = s.intentIn(ctx, s.db, sc, "virtual_account = ?", p.VirtualAccount, false, invalid.Refuse(ErrNotFound, "virtual_account_unknown", "no payment intent with virtual account %s", p.VirtualAccount))
	default:
		in, err = s.Intent(ctx, sc, p.PaymentID)
	}
	if err != nil {
		return Simulation{}, err
	}
	if in.Method != messages.MethodOnline {
		return Simulation{}, invalid.Refuse(ErrState, "intent_not_online", "payment %s is paid %s, not online", in.ID, in.Method)
	}
	ev := ProviderEvent{EventID: "evt_" + uuid.NewString(), PaymentID: in.ID, VirtualAccount: in.VirtualAccount,
		Amount: p.Amount, Status: p.Outcome, Reason: p.Reason, At: s.now()}
	if key = strings.TrimSpace(key); key != "" {
		sum := sha256.Sum256([]byte(in.ID + "|" + key))
		ev.EventID = fmt.Sprintf("evt_%x", sum[:12])
	}
	if ev.Amount == 0 {
		ev.Amount = in.Amount
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return Simulation{}, err
	}
	status, answer, err := s.post(ctx, body)
	if err != nil {
		return Simulation{}, err
	}
	return Simulation{Event: ev, CallbackStatus: status, CallbackBody: answer}, nil
}

// post sends a signed callback and returns the status and body of the
// answer.
func (s *Service) post(ctx context.Context, body []byte) (int, json.RawMessage, error) {
	ts := s.now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.CallbackURL(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("payment: simulated provider: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(s.cfg.Secret, ts, body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("payment: simulated provider: post callback: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, fmt.Errorf("payment: simulated provider: read callback answer: %w", err)
	}
	if !json.Valid(answer) {
		answer = nil
	}
	return resp.StatusCode, answer, nil
}
