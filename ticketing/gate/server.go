package gate

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/ticketing/messages"
)

// Directions a gate lets people through.
const (
	DirectionEntry = "entry"
	DirectionExit  = "exit"
	DirectionBoth  = "both"
)

// EventServer is an event's access-control server.
type EventServer struct {
	EventID    string          `json:"event_id"`
	MerchantID string          `json:"merchant_id"`
	Starts     time.Time       `json:"starts"`
	Ends       time.Time       `json:"ends"`
	TimeZone   string          `json:"time_zone"`
	Areas      []messages.Area `json:"areas"`
	Dropped    bool            `json:"dropped"`
}

// Gate is a place where devices scan: the areas it lets into, and which
// way.
type Gate struct {
	EventID   string   `json:"event_id"`
	GateID    string   `json:"gate_id"`
	Name      string   `json:"name"`
	Areas     []string `json:"areas"`
	Direction string   `json:"direction"`
	// ListID, when set, is the check-in list the gate's scans count on;
	// otherwise the first list (by id) that covers the pass's area.
	ListID string `json:"list_id,omitempty"`
}

// List is a check-in list: the areas it covers and its re-entry rules.
type List struct {
	EventID         string   `json:"event_id"`
	ListID          string   `json:"list_id"`
	Name            string   `json:"name"`
	Areas           []string `json:"areas"`
	MultipleEntries bool     `json:"multiple_entries"`
	EntryAfterExit  bool     `json:"entry_after_exit"`
}

// PublicKey is one of an event's signing keys as devices see it.
type PublicKey struct {
	KeyID     uint16 `json:"key_id"`
	PublicKey string `json:"public_key"`
	Active    bool   `json:"active"`
}

func checkID(field, id string) error {
	if id == "" || len(id) > MaxIDLength {
		return invalid.New(ErrInvalid, field, "must be 1 to %d bytes", MaxIDLength)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return invalid.New(ErrInvalid, field, "may hold letters, digits, '-', '_' and '.' only")
		}
	}
	return nil
}

func checkName(field, name string) error {
	if strings.TrimSpace(name) == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 100 {
		return invalid.New(ErrInvalid, field, "must be 1 to 100 characters of text")
	}
	return nil
}

// CreateServer prepares an event's access-control server: a gate "main"
// letting into every area both ways, a list "general" covering every area
// without re-entry, a first signing key, and a staff pass for each of the
// command's staff ([Service.ChangeStaff]). It returns the active public
// key. Creating a server that exists returns its key and changes nothing.
func (s *Service) CreateServer(ctx context.Context, m messages.CreateACLServer) (PublicKey, error) {
	if err := checkID("event_id", m.EventID); err != nil {
		return PublicKey{}, err
	}
	var areas []string
	for i, a := range m.Areas {
		if err := checkID(fmt.Sprintf("areas[%d].area_id", i), a.AreaID); err != nil {
			return PublicKey{}, err
		}
		areas = append(areas, a.AreaID)
	}
	if len(areas) == 0 {
		return PublicKey{}, invalid.New(ErrInvalid, "areas", "an event needs at least one area")
	}
	if !m.Ends.IsZero() && m.Ends.Before(m.Starts) {
		return PublicKey{}, invalid.New(ErrInvalid, "ends", "is before starts")
	}
	areasJSON, _ := json.Marshal(m.Areas)
	all, _ := json.Marshal(areas)
	now := s.now()
	prepared := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var dropped int
		err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT dropped FROM gate_servers WHERE event_id = ?`), m.EventID).Scan(&dropped)
		if err == nil {
			if dropped == 1 {
				prepared = true
				_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE gate_servers SET dropped = 0 WHERE event_id = ?`), m.EventID)
			}
			return err
		}
		prepared = true
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO gate_servers (event_id, merchant_id, starts_ns, ends_ns, time_zone, areas, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			m.EventID, m.MerchantID, nanos(m.Starts), nanos(m.Ends), m.TimeZone, string(areasJSON), now.UnixNano()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO gate_gates (event_id, gate_id, name, areas, direction) VALUES (?, 'main', 'Main gate', ?, 'both')`), m.EventID, string(all)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO gate_lists (event_id, list_id, name, areas, multiple_entries, entry_after_exit) VALUES (?, 'general', 'General', ?, 0, 0)`), m.EventID, string(all)); err != nil {
			return err
		}
		return s.addKey(ctx, tx, m.EventID, 1, now)
	})
	if err != nil {
		return PublicKey{}, fmt.Errorf("gate: create server for event %s: %w", m.EventID, err)
	}
	s.forgetKeys(m.EventID)
	// The staff the event has when it goes live, and the changes that came
	// before its server; later changes come on their topic.
	var staff []messages.StaffChanged
	if prepared {
		staff = m.Staff
	}
	if err := s.prepareStaff(ctx, m.EventID, staff); err != nil {
		return PublicKey{}, err
	}
	return s.ActiveKey(ctx, m.EventID)
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// DropServer undoes CreateServer (the go-live saga's compensation): the
// event's passes no longer verify at its gates. Dropping twice is a no-op.
func (s *Service) DropServer(ctx context.Context, eventID string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE gate_servers SET dropped = 1 WHERE event_id = ?`), eventID)
	if err != nil {
		return fmt.Errorf("gate: drop server of event %s: %w", eventID, err)
	}
	s.forgetKeys(eventID)
	return nil
}

// Server returns an event's access-control server.
func (s *Service) Server(ctx context.Context, eventID string) (EventServer, error) {
	var es EventServer
	var starts, ends int64
	var areas string
	var dropped int
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT event_id, merchant_id, starts_ns, ends_ns, time_zone, areas, dropped FROM gate_servers WHERE event_id = ?`), eventID).
		Scan(&es.EventID, &es.MerchantID, &starts, &ends, &es.TimeZone, &areas, &dropped)
	if errors.Is(err, sql.ErrNoRows) {
		return es, invalid.Refuse(ErrNotFound, "no_gate_server", "no access-control server for event %s", eventID)
	}
	if err != nil {
		return es, fmt.Errorf("gate: server of event %s: %w", eventID, err)
	}
	es.Starts, es.Ends, es.Dropped = fromNanos(starts), fromNanos(ends), dropped == 1
	if err := json.Unmarshal([]byte(areas), &es.Areas); err != nil {
		return es, fmt.Errorf("gate: server of event %s: stored areas: %w", eventID, err)
	}
	return es, nil
}

func (s *Service) liveServer(ctx context.Context, eventID string) (EventServer, error) {
	es, err := s.Server(ctx, eventID)
	if err == nil && es.Dropped {
		err = invalid.Refuse(ErrNotFound, "gate_server_dropped", "the access-control server of event %s was dropped", eventID)
	}
	return es, err
}

func (es EventServer) hasArea(id string) bool {
	return slices.ContainsFunc(es.Areas, func(a messages.Area) bool { return a.AreaID == id })
}

// PutGate creates or replaces a gate of an event.
func (s *Service) PutGate(ctx context.Context, g Gate) error {
	es, err := s.liveServer(ctx, g.EventID)
	if err != nil {
		return err
	}
	if err := checkID("gate_id", g.GateID); err != nil {
		return err
	}
	if err := checkName("name", g.Name); err != nil {
		return err
	}
	if err := checkAreas(es, g.Areas); err != nil {
		return err
	}
	if g.Direction != DirectionEntry && g.Direction != DirectionExit && g.Direction != DirectionBoth {
		return invalid.New(ErrInvalid, "direction", "must be entry, exit or both")
	}
	if g.ListID != "" {
		if _, err := s.List(ctx, g.EventID, g.ListID); err != nil {
			return invalid.New(ErrInvalid, "list_id", "no such list")
		}
	}
	areas, _ := json.Marshal(g.Areas)
	defer s.forgetKeys(g.EventID)
	return s.upsert(ctx, `DELETE FROM gate_gates WHERE event_id = ? AND gate_id = ?`, []any{g.EventID, g.GateID},
		`INSERT INTO gate_gates (event_id, gate_id, name, areas, direction, list_id) VALUES (?, ?, ?, ?, ?, ?)`,
		[]any{g.EventID, g.GateID, g.Name, string(areas), g.Direction, g.ListID})
}

// PutList creates or replaces a check-in list of an event.
func (s *Service) PutList(ctx context.Context, l List) error {
	es, err := s.liveServer(ctx, l.EventID)
	if err != nil {
		return err
	}
	if err := checkID("list_id", l.ListID); err != nil {
		return err
	}
	if err := checkName("name", l.Name); err != nil {
		return err
	}
	if err := checkAreas(es, l.Areas); err != nil {
		return err
	}
	areas, _ := json.Marshal(l.Areas)
	defer s.forgetKeys(l.EventID)
	return s.upsert(ctx, `DELETE FROM gate_lists WHERE event_id = ? AND list_id = ?`, []any{l.EventID, l.ListID},
		`INSERT INTO gate_lists (event_id, list_id, name, areas, multiple_entries, entry_after_exit) VALUES (?, ?, ?, ?, ?, ?)`,
		[]any{l.EventID, l.ListID, l.Name, string(areas), boolInt(l.MultipleEntries), boolInt(l.EntryAfterExit)})
}

func checkAreas(es EventServer, areas []string) error {
	if len(areas) == 0 {
		return invalid.New(ErrInvalid, "areas", "name at least one area")
	}
	for i, a := range areas {
		if !es.hasArea(a) {
			return invalid.New(ErrInvalid, fmt.Sprintf("areas[%d]", i), "the event has no area %q", a)
		}
	}
	return nil
}

func (s *Service) upsert(ctx context.Context, del string, delArgs []any, ins string, insArgs []any) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(del), delArgs...); err != nil {
			return fmt.Errorf("gate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(ins), insArgs...); err != nil {
			return fmt.Errorf("gate: %w", err)
		}
		return nil
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Gates lists an event's gates by id.
func (s *Service) Gates(ctx context.Context, eventID string) ([]Gate, error) {
	return s.gates(ctx, `WHERE event_id = ? ORDER BY gate_id`, eventID)
}

// GateOf returns one gate.
func (s *Service) GateOf(ctx context.Context, eventID, gateID string) (Gate, error) {
	gs, err := s.gates(ctx, `WHERE event_id = ? AND gate_id = ?`, eventID, gateID)
	if err != nil {
		return Gate{}, err
	}
	if len(gs) == 0 {
		return Gate{}, invalid.Refuse(ErrNotFound, "gate_unknown", "event %s has no gate %s", eventID, gateID)
	}
	return gs[0], nil
}

func (s *Service) gates(ctx context.Context, where string, args ...any) ([]Gate, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT event_id, gate_id, name, areas, direction, list_id FROM gate_gates `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("gate: gates: %w", err)
	}
	defer rows.Close()
	var out []Gate
	for rows.Next() {
		var g Gate
		var areas string
		if err := rows.Scan(&g.EventID, &g.GateID, &g.Name, &areas, &g.Direction, &g.ListID); err != nil {
			return nil, fmt.Errorf("gate: gates: %w", err)
		}
		if err := json.Unmarshal([]byte(areas), &g.Areas); err != nil {
			return nil, fmt.Errorf("gate: gate %s: stored areas: %w", g.GateID, err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// Lists lists an event's check-in lists by id.
func (s *Service) Lists(ctx context.Context, eventID string) ([]List, error) {
	return s.lists(ctx, `WHERE event_id = ? ORDER BY list_id`, eventID)
}

// List returns one check-in list.
func (s *Service) List(ctx context.Context, eventID, listID string) (List, error) {
	ls, err := s.lists(ctx, `WHERE event_id = ? AND list_id = ?`, eventID, listID)
	if err != nil {
		return List{}, err
	}
	if len(ls) == 0 {
		return List{}, invalid.Refuse(ErrNotFound, "list_unknown", "event %s has no list %s", eventID, listID)
	}
	return ls[0], nil
}

func (s *Service) lists(ctx context.Context, where string, args ...any) ([]List, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT event_id, list_id, name, areas, multiple_entries, entry_after_exit FROM gate_lists `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("gate: lists: %w", err)
	}
	defer rows.Close()
	var out []List
	for rows.Next() {
		var l List
		var areas string
		var multi, after int
		if err := rows.Scan(&l.EventID, &l.ListID, &l.Name, &areas, &multi, &after); err != nil {
			return nil, fmt.Errorf("gate: lists: %w", err)
		}
		l.MultipleEntries, l.EntryAfterExit = multi == 1, after == 1
		if err := json.Unmarshal([]byte(areas), &l.Areas); err != nil {
			return nil, fmt.Errorf("gate: list %s: stored areas: %w", l.ListID, err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// keyring is an event's keys in memory: the active private key and every
// public key not retired, as loaded at a time.
type keyring struct {
	active uint16
	priv   ed25519.PrivateKey
	pub    map[uint16]ed25519.PublicKey
	// held are the private keys of pub, to check a pass by signing it
	// again (see verifyHeld).
	held   map[uint16]ed25519.PrivateKey
	loaded time.Time
}

// keyringTTL bounds how long a process trusts its cached keys, so a
// rotation, retirement or drop made by another process takes effect
// within it (a pass signed by a key this process has not seen yet reloads
// the keys at once).
const keyringTTL = 10 * time.Second

func (s *Service) addKey(ctx context.Context, tx *sql.Tx, eventID string, id uint16, now time.Time) error {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE gate_keys SET active = 0 WHERE event_id = ?`), eventID); err != nil {
		return err
	}
	stored, sealed, err := s.storeSeed(eventID, id, seed)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO gate_keys (event_id, key_id, public_key, seed, sealed, active, created_ns) VALUES (?, ?, ?, ?, ?, 1, ?)`),
		eventID, int(id), base64.RawURLEncoding.EncodeToString(pub), stored, sealed, now.UnixNano())
	return err
}

// seedContext binds a sealed seed to its event and key id, so a sealed
// seed moved to another key does not open.
func seedContext(eventID string, id uint16) string {
	return fmt.Sprintf("gate signing key %s/%d", eventID, id)
}

// storeSeed is the seed as stored: sealed with the configured Sealer
// (sealed 1), or hex in the clear without one.
func (s *Service) storeSeed(eventID string, id uint16, seed []byte) (string, int, error) {
	if s.seal == nil {
		return hex.EncodeToString(seed), 0, nil
	}
	v, err := s.seal.Seal(hex.EncodeToString(seed), seedContext(eventID, id))
	if err != nil {
		return "", 0, fmt.Errorf("seal the signing key: %w", err)
	}
	return v, 1, nil
}

// openSeed reads a stored seed.
func (s *Service) openSeed(eventID string, id uint16, stored string, sealed bool) (ed25519.PrivateKey, error) {
	if sealed {
		if s.seal == nil {
			return nil, fmt.Errorf("gate: key %d of event %s is sealed, and no secret key was given to open it", id, eventID)
		}
		v, err := s.seal.Open(stored, seedContext(eventID, id))
		if err != nil {
			return nil, fmt.Errorf("gate: key %d of event %s does not open with the secret key: %w", id, eventID, err)
		}
		stored = v
	}
	seed, err := hex.DecodeString(stored)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("gate: key %d of event %s is corrupt", id, eventID)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// sealSeeds seals, with the configured Sealer, every seed stored in the
// clear (before one was configured).
func (s *Service) sealSeeds(ctx context.Context) error {
	if s.seal == nil {
		return nil
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT event_id, key_id, seed FROM gate_keys WHERE sealed = 0`)
		if err != nil {
			return fmt.Errorf("gate: seal keys: %w", err)
		}
		type plain struct {
			event string
			id    int
			seed  string
		}
		var todo []plain
		for rows.Next() {
			var p plain
			if err := rows.Scan(&p.event, &p.id, &p.seed); err != nil {
				rows.Close()
				return fmt.Errorf("gate: seal keys: %w", err)
			}
			todo = append(todo, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("gate: seal keys: %w", err)
		}
		for _, p := range todo {
			priv, err := s.openSeed(p.event, uint16(p.id), p.seed, false)
			if err != nil {
				return err
			}
			stored, _, err := s.storeSeed(p.event, uint16(p.id), priv.Seed())
			if err != nil {
				return fmt.Errorf("gate: %w", err)
			}
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE gate_keys SET seed = ?, sealed = 1 WHERE event_id = ? AND key_id = ?`), stored, p.event, p.id); err != nil {
				return fmt.Errorf("gate: seal keys: %w", err)
			}
		}
		if len(todo) > 0 {
			s.log.Info("gate: sealed the signing keys stored in the clear", "keys", len(todo))
		}
		return nil
	})
}

// RotateKey makes a new signing key the event's active one. Passes signed
// by the older keys still verify until those are retired.
func (s *Service) RotateKey(ctx context.Context, eventID string) (PublicKey, error) {
	if _, err := s.liveServer(ctx, eventID); err != nil {
		return PublicKey{}, err
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var last int
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT COALESCE(MAX(key_id), 0) FROM gate_keys WHERE event_id = ?`), eventID).Scan(&last); err != nil {
			return err
		}
		if last >= 1<<16-1 {
			return errors.New("no key ids left")
		}
		return s.addKey(ctx, tx, eventID, uint16(last+1), s.now())
	})
	if err != nil {
		return PublicKey{}, fmt.Errorf("gate: rotate key of event %s: %w", eventID, err)
	}
	s.forgetKeys(eventID)
	return s.ActiveKey(ctx, eventID)
}

// RetireKey stops an inactive key from verifying: passes it signed become
// invalid. The active key cannot be retired; rotate first.
func (s *Service) RetireKey(ctx context.Context, eventID string, keyID uint16) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE gate_keys SET retired = 1 WHERE event_id = ? AND key_id = ? AND active = 0`), eventID, int(keyID))
	if err != nil {
		return fmt.Errorf("gate: retire key %d of event %s: %w", keyID, eventID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return invalid.New(ErrInvalid, "key_id", "no inactive key %d in event %s", keyID, eventID)
	}
	s.forgetKeys(eventID)
	return nil
}

// PublicKeys lists the event's keys that verify, the active one marked.
func (s *Service) PublicKeys(ctx context.Context, eventID string) ([]PublicKey, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT key_id, public_key, active FROM gate_keys WHERE event_id = ? AND retired = 0 ORDER BY key_id`), eventID)
	if err != nil {
		return nil, fmt.Errorf("gate: keys of event %s: %w", eventID, err)
	}
	defer rows.Close()
	var out []PublicKey
	for rows.Next() {
		var k PublicKey
		var id, active int
		if err := rows.Scan(&id, &k.PublicKey, &active); err != nil {
			return nil, fmt.Errorf("gate: keys of event %s: %w", eventID, err)
		}
		k.KeyID, k.Active = uint16(id), active == 1
		out = append(out, k)
	}
	return out, rows.Err()
}

// ActiveKey returns the key the event signs new passes with.
func (s *Service) ActiveKey(ctx context.Context, eventID string) (PublicKey, error) {
	keys, err := s.PublicKeys(ctx, eventID)
	if err != nil {
		return PublicKey{}, err
	}
	for _, k := range keys {
		if k.Active {
			return k, nil
		}
	}
	return PublicKey{}, invalid.Refuse(ErrNotFound, "no_signing_key", "event %s has no signing key", eventID)
}

// forgetKeys drops the event's cached keys and setup (server, gates,
// lists), so the next use reads them again.
func (s *Service) forgetKeys(eventID string) {
	s.keysMu.Lock()
	delete(s.keys, eventID)
	delete(s.setups, eventID)
	s.keysMu.Unlock()
}

// setup is what deciding a scan reads besides the pass: the event's
// server, gates and lists, cached like its keys (keyringTTL, or until a
// change in this process).
type setup struct {
	server EventServer
	gates  map[string]Gate
	lists  []List
	loaded time.Time
}

func (s *Service) setupOf(ctx context.Context, eventID string) (*setup, error) {
	s.keysMu.Lock()
	su := s.setups[eventID]
	s.keysMu.Unlock()
	if su != nil && time.Since(su.loaded) < keyringTTL {
		return su, nil
	}
	su = &setup{gates: map[string]Gate{}, loaded: time.Now()}
	var err error
	if su.server, err = s.liveServer(ctx, eventID); err != nil {
		return nil, err
	}
	gates, err := s.Gates(ctx, eventID)
	if err != nil {
		return nil, err
	}
	for _, g := range gates {
		su.gates[g.GateID] = g
	}
	if su.lists, err = s.Lists(ctx, eventID); err != nil {
		return nil, err
	}
	s.keysMu.Lock()
	s.setups[eventID] = su
	s.keysMu.Unlock()
	return su, nil
}

// keyringOf returns the event's keys, cached for keyringTTL or until a
// rotation, retirement or drop in this process.
func (s *Service) keyringOf(ctx context.Context, eventID string) (*keyring, error) {
	s.keysMu.Lock()
	kr := s.keys[eventID]
	s.keysMu.Unlock()
	if kr != nil && time.Since(kr.loaded) < keyringTTL {
		return kr, nil
	}
	if _, err := s.liveServer(ctx, eventID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT key_id, seed, sealed, active FROM gate_keys WHERE event_id = ? AND retired = 0`), eventID)
	if err != nil {
		return nil, fmt.Errorf("gate: keys of event %s: %w", eventID, err)
	}
	defer rows.Close()
	kr = &keyring{pub: map[uint16]ed25519.PublicKey{}, held: map[uint16]ed25519.PrivateKey{}, loaded: time.Now()}
	for rows.Next() {
		var id, sealed, active int
		var stored string
		if err := rows.Scan(&id, &stored, &sealed, &active); err != nil {
			return nil, fmt.Errorf("gate: keys of event %s: %w", eventID, err)
		}
		priv, err := s.openSeed(eventID, uint16(id), stored, sealed == 1)
		if err != nil {
			return nil, err
		}
		kr.pub[uint16(id)] = priv.Public().(ed25519.PublicKey)
		kr.held[uint16(id)] = priv
		if active == 1 {
			kr.active, kr.priv = uint16(id), priv
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if kr.priv == nil {
		return nil, invalid.Refuse(ErrNotFound, "no_signing_key", "event %s has no signing key", eventID)
	}
	s.keysMu.Lock()
	s.keys[eventID] = kr
	s.keysMu.Unlock()
	return kr, nil
}

// SignPass signs a pass of the event with its active key.
func (s *Service) SignPass(ctx context.Context, p Pass) (string, error) {
	kr, err := s.keyringOf(ctx, p.EventID)
	if err != nil {
		return "", err
	}
	p.KeyID = kr.active
	return Sign(p, kr.priv)
}
