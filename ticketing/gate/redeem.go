package gate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arus-platform/arus/eventsource"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
)

// Reasons a scan is refused, as pretix names them.
const (
	ReasonInvalid         = "invalid"
	ReasonUnpaid          = "unpaid"
	ReasonCanceled        = "canceled"
	ReasonRevoked         = "revoked"
	ReasonAlreadyRedeemed = "already_redeemed"
	ReasonWrongArea       = "wrong_area"
	ReasonOutsideWindow   = "outside_window"
	ReasonBlocked         = "blocked"
	// ReasonUnknown refuses an admit by id ([Service.Admit]) of a pass
	// the event never issued.
	ReasonUnknown = "unknown"
)

// FlagAdmitted flags a scan a supervisor admitted by the pass's id,
// without the pass ([Service.Admit]).
const FlagAdmitted = "admitted"

// MaxNonceLength is the longest nonce, in bytes.
const MaxNonceLength = 100

// Redeem asks to let a pass through a gate.
type Redeem struct {
	EventID string `json:"-"`
	// Secret is the pass's signed QR payload.
	Secret string `json:"secret"`
	GateID string `json:"gate_id"`
	// ListID picks the check-in list; default the gate's, else the first
	// list covering the pass's area.
	ListID string `json:"list_id,omitempty"`
	// Direction is entry or exit.
	Direction string `json:"direction"`
	// At is when the scan happened; default now.
	At time.Time `json:"at,omitzero"`
	// Nonce makes retries safe: a second redeem with the same nonce in
	// the event gets the first one's answer and records nothing.
	Nonce string `json:"nonce,omitempty"`
	// Force records a scan a device already let through (offline): it is
	// never refused, and flagged when it conflicts.
	Force bool `json:"force,omitempty"`
	// Override, set by a supervisor, lets through a scan that would be
	// refused, and is recorded with it as the reason.
	Override string `json:"override,omitempty"`
	DeviceID string `json:"-"`

	// byID is the pass an admit names by its id, in place of Secret.
	byID string
}

// Admit asks to let a pass through a gate by its id, without the pass: a
// supervisor found it by search (a cracked phone, a lost print-out).
type Admit struct {
	EventID   string
	PassID    string
	GateID    string
	ListID    string
	Direction string
	At        time.Time
	Nonce     string
	// Override is the supervisor's reason, required; it is recorded with
	// the scan.
	Override string
	DeviceID string
}

// Result answers a [Redeem].
type Result struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
	PassID string `json:"pass_id,omitempty"`
	AreaID string `json:"area_id,omitempty"`
	Kind   string `json:"kind,omitempty"`
	// Scan is the scan as recorded; absent for a payload that is not a
	// pass of the event.
	Scan *Scan `json:"scan,omitempty"`
}

func (r *Redeem) check(now time.Time) error {
	switch {
	case r.byID != "":
		if strings.TrimSpace(r.Override) == "" {
			return invalid.New(ErrInvalid, "override", "is required: say why the pass goes through without being scanned")
		}
	case r.Secret == "":
		return invalid.New(ErrInvalid, "secret", "is required")
	}
	if err := checkID("gate_id", r.GateID); err != nil {
		return err
	}
	if r.ListID != "" {
		if err := checkID("list_id", r.ListID); err != nil {
			return err
		}
	}
	if r.Direction != DirectionEntry && r.Direction != DirectionExit {
		return invalid.New(ErrInvalid, "direction", "must be entry or exit")
	}
	if len(r.Nonce) > MaxNonceLength {
		return invalid.New(ErrInvalid, "nonce", "must be at most %d bytes", MaxNonceLength)
	}
	if len(r.Override) > 500 {
		return invalid.New(ErrInvalid, "override", "must be at most 500 bytes")
	}
	if r.At.IsZero() {
		r.At = now
	}
	r.At = r.At.UTC()
	return nil
}

// Redeem decides a scan and records it on the pass's stream: exactly one
// decision per pass at a time (appends conflict and retry). The decision
// reads the pass's stream, never the access list; the projection, and
// every read of counts, bundles and changes, brings the list up to date.
// Bad input (no gate, a direction the gate does not serve) is an error
// naming the field; a pass that may not pass is a Result with OK false and
// a reason.
func (s *Service) Redeem(ctx context.Context, req Redeem) (Result, error) {
	req.byID = ""
	return s.redeem(ctx, req)
}

// Admit lets a pass through a gate by its id, for a supervisor who found
// it by search when its QR code cannot be read. It is decided as a scan of
// the pass is, by the same rule and under the same guarantees as
// [Service.Redeem] (one decision per pass at a time on its stream, nonce
// idempotency, the gate's areas and direction), and refused as such a scan
// would be: an admit never overrides a refusal, since nothing but the
// supervisor's word stands for the pass. A pass the event never issued
// is refused as [ReasonUnknown]. What it lets through is recorded with
// Override as the reason and flagged [FlagAdmitted], among the overrides
// for review. A missing reason is an error naming the field override.
func (s *Service) Admit(ctx context.Context, a Admit) (Result, error) {
	if err := checkID("pass_id", a.PassID); err != nil {
		return Result{}, err
	}
	return s.redeem(ctx, Redeem{EventID: a.EventID, GateID: a.GateID, ListID: a.ListID, Direction: a.Direction, At: a.At,
		Nonce: a.Nonce, Override: a.Override, DeviceID: a.DeviceID, byID: a.PassID})
}

func (s *Service) redeem(ctx context.Context, req Redeem) (Result, error) {
	if err := req.check(s.now()); err != nil {
		return Result{}, err
	}
	if req.Nonce != "" {
		if res, ok, err := s.answered(ctx, req.EventID, req.Nonce); err != nil || ok {
			return res, err
		}
	}
	su, err := s.setupOf(ctx, req.EventID)
	if err != nil {
		return Result{}, err
	}
	g, ok := su.gates[req.GateID]
	if !ok {
		// Perhaps another process added the gate: read the setup again.
		s.forgetKeys(req.EventID)
		if su, err = s.setupOf(ctx, req.EventID); err != nil {
			return Result{}, err
		}
		if g, ok = su.gates[req.GateID]; !ok {
			return Result{}, invalid.New(ErrInvalid, "gate_id", "event %s has no gate %q", req.EventID, req.GateID)
		}
	}
	es, lists := su.server, su.lists
	if g.Direction != DirectionBoth && g.Direction != req.Direction {
		return Result{}, invalid.New(ErrInvalid, "direction", "gate %s lets through %s only", g.GateID, g.Direction)
	}
	pass := s.passOf
	if req.byID != "" {
		pass = s.passByID
	}
	p, res, err := pass(ctx, req)
	if err != nil || p.PassID == "" {
		return res, err
	}
	build := func(st passState) (Scan, Result) {
		sc := decide(st, es, g, lists, p, req)
		res := Result{OK: sc.OK, Reason: sc.Reason, PassID: p.PassID, AreaID: p.AreaID, Kind: kindName(p.Kind), Scan: &sc}
		if sc.Flag != "" {
			res.Reason = sc.Flag
		}
		return sc, res
	}
	// The usual way: with the scans of other requests, in one commit.
	st, version, err := s.loadPass(ctx, req.EventID, p.PassID)
	if err != nil {
		return Result{}, err
	}
	if res, ok := s.commits.submit(ctx, &job{eventID: req.EventID, passID: p.PassID, st: st, version: version, build: build, nonce: req.Nonce, at: req.At}); ok {
		s.es.Notify()
		return res, nil
	}
	// The group's commit failed (another process scanned one of its
	// passes, a nonce raced): decide alone, reading the pass again.
	for attempt := 0; ; attempt++ {
		st, version, err := s.loadPass(ctx, req.EventID, p.PassID)
		if err != nil {
			return Result{}, err
		}
		var sc Scan
		sc, res = build(st)
		err = s.db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := s.es.AppendTx(ctx, tx, streamID(req.EventID, p.PassID), version, event(evScanned, sc, req.At)); err != nil {
				return err
			}
			return s.remember(ctx, tx, req.EventID, req.Nonce, res)
		})
		if errors.Is(err, eventsource.ErrConflict) && attempt < 20 {
			continue
		}
		if err != nil && req.Nonce != "" && store.IsUniqueViolation(err) {
			// The same nonce won a race with this request.
			if first, ok, aerr := s.answered(ctx, req.EventID, req.Nonce); aerr == nil && ok {
				return first, nil
			}
		}
		if err != nil {
			return Result{}, fmt.Errorf("gate: redeem: %w", err)
		}
		break
	}
	s.es.Notify()
	return res, nil
}

// passOf verifies a redeem's secret. A payload that is not a pass of the
// event gives no pass and the answer, remembered for the nonce.
func (s *Service) passOf(ctx context.Context, req Redeem) (Pass, Result, error) {
	kr, err := s.keyringOf(ctx, req.EventID)
	if err != nil {
		return Pass{}, Result{}, err
	}
	p, err := verifyHeld(req.Secret, req.EventID, kr.pub, kr.held)
	if errors.Is(err, ErrUnknownKey) {
		// Perhaps another process rotated the key: load the keys again.
		s.forgetKeys(req.EventID)
		if kr, err = s.keyringOf(ctx, req.EventID); err != nil {
			return Pass{}, Result{}, err
		}
		p, err = verifyHeld(req.Secret, req.EventID, kr.pub, kr.held)
	}
	if err != nil {
		res := Result{Reason: ReasonInvalid}
		if req.Force {
			// A device let through what is not a pass: nothing to record
			// it on but the answer.
			res = Result{OK: true, Reason: ReasonInvalid}
		}
		return Pass{}, res, s.remember(ctx, nil, req.EventID, req.Nonce, res)
	}
	return p, Result{}, nil
}

// passByID reads the pass an admit names from its stream. A pass the
// event never issued gives no pass and the answer, remembered for the
// nonce.
func (s *Service) passByID(ctx context.Context, req Redeem) (Pass, Result, error) {
	st, _, err := s.loadPass(ctx, req.EventID, req.byID)
	if err != nil {
		return Pass{}, Result{}, err
	}
	if !st.Issued {
		res := Result{Reason: ReasonUnknown, PassID: req.byID}
		return Pass{}, res, s.remember(ctx, nil, req.EventID, req.Nonce, res)
	}
	kind := KindTicket
	if st.Kind == "staff" {
		kind = KindStaff
	}
	return Pass{Kind: kind, EventID: req.EventID, PassID: req.byID, AreaID: st.AreaID, NotBefore: st.NotBefore, NotAfter: st.NotAfter}, Result{}, nil
}

func kindName(k PassKind) string {
	if k == KindStaff {
		return "staff"
	}
	return "ticket"
}

// decide is the scan rule: what a pass in state st gets at gate g.
func decide(st passState, es EventServer, g Gate, lists []List, p Pass, req Redeem) Scan {
	sc := Scan{ScanID: newID(), EventID: req.EventID, PassID: p.PassID, AreaID: p.AreaID, GateID: g.GateID, DeviceID: req.DeviceID,
		Direction: req.Direction, At: req.At, Forced: req.Force}
	list, haveList := pickList(g, lists, p.AreaID, req.ListID)
	if haveList {
		sc.ListID = list.ListID
	}
	reason := ""
	switch {
	case !st.Issued:
		reason = ReasonUnpaid
	case st.Status == StatusRevoked:
		reason = ReasonRevoked
	case st.Status == StatusCanceled:
		reason = ReasonCanceled
	case st.Status == StatusBlocked:
		reason = ReasonBlocked
	case !haveList || p.AreaID != AllAreas && (!slices.Contains(g.Areas, p.AreaID) || !es.hasArea(p.AreaID)):
		reason = ReasonWrongArea
	case !p.Within(req.At) && st.Kind != "staff", st.Kind == "staff" && !staffWindow(st).Within(req.At):
		reason = ReasonOutsideWindow
	case req.Direction == DirectionEntry && st.Inside && !list.MultipleEntries:
		reason = ReasonAlreadyRedeemed
	case req.Direction == DirectionEntry && !st.Inside && st.Entries > 0 && !list.EntryAfterExit && !list.MultipleEntries && st.Kind != "staff":
		// Staff come and go in their window: entry after exit is theirs
		// on every list.
		reason = ReasonAlreadyRedeemed
	}
	moves := (req.Direction == DirectionEntry) != st.Inside
	switch {
	case reason == "" && req.byID != "":
		sc.OK, sc.Counted, sc.Flag, sc.Override = true, moves, FlagAdmitted, req.Override
	case reason == "":
		sc.OK, sc.Counted = true, moves
	case req.byID != "":
		// An admit stands for the pass, never for a refusal.
		sc.Reason = reason
	case req.Force:
		sc.OK, sc.Counted, sc.Flag = true, moves, reason
	case req.Override != "":
		sc.OK, sc.Counted, sc.Flag, sc.Override = true, moves, reason, req.Override
	default:
		sc.Reason = reason
	}
	if (sc.Flag == ReasonAlreadyRedeemed || sc.Reason == ReasonAlreadyRedeemed) && st.Last != nil {
		sc.Previous = st.Last
	}
	return sc
}

// pickList returns the list a scan counts on: the one asked for, the
// gate's, or the first covering the area (any, for a staff pass of
// AllAreas).
func pickList(g Gate, lists []List, area, asked string) (List, bool) {
	want := asked
	if want == "" {
		want = g.ListID
	}
	for _, l := range lists {
		if (want == "" || l.ListID == want) && (area == AllAreas || slices.Contains(l.Areas, area)) {
			return l, true
		}
	}
	return List{}, false
}

func (s *Service) answered(ctx context.Context, eventID, nonce string) (Result, bool, error) {
	var answer string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT answer FROM gate_nonces WHERE event_id = ? AND nonce = ?`), eventID, nonce).Scan(&answer)
	if errors.Is(err, sql.ErrNoRows) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("gate: nonce: %w", err)
	}
	var res Result
	if err := json.Unmarshal([]byte(answer), &res); err != nil {
		return Result{}, false, fmt.Errorf("gate: nonce %q: stored answer: %w", nonce, err)
	}
	return res, true, nil
}

// remember stores the answer to a nonce, in tx when given.
func (s *Service) remember(ctx context.Context, tx *sql.Tx, eventID, nonce string, res Result) error {
	if nonce == "" {
		return nil
	}
	b, _ := json.Marshal(res)
	q := s.db.Rebind(`INSERT INTO gate_nonces (event_id, nonce, answer, created_ns) VALUES (?, ?, ?, ?)`)
	now := s.now().UnixNano()
	var err error
	if tx != nil {
		_, err = tx.ExecContext(ctx, q, eventID, nonce, string(b), now)
	} else {
		_, err = s.db.ExecContext(ctx, q, eventID, nonce, string(b), now)
		if store.IsUniqueViolation(err) {
			err = nil
		}
	}
	return err
}

// PruneNonces deletes the answers to nonces older than the configured
// retention (Config.NonceRetention) and returns how many it deleted. A
// retry after that is decided again, as a new scan.
func (s *Service) PruneNonces(ctx context.Context) (int64, error) {
	cutoff := s.now().Add(-s.nonceTTL).UnixNano()
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM gate_nonces WHERE created_ns < ?`), cutoff)
	if err != nil {
		return 0, fmt.Errorf("gate: prune nonces: %w", err)
	}
	return res.RowsAffected()
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
