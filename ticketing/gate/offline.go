package gate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/arus-platform/arus/invalid"
)

// Bundle is what a device downloads to scan without the network: the
// keys that verify passes, the passes it must refuse, and, when asked, the
// whole list. Position is where the device follows [Service.Changes] from.
type Bundle struct {
	EventID  string       `json:"event_id"`
	Position int64        `json:"position"`
	Keys     []PublicKey  `json:"keys"`
	Gates    []Gate       `json:"gates"`
	Lists    []List       `json:"lists"`
	Revoked  []string     `json:"revoked"`
	Blocked  []string     `json:"blocked"`
	Passes   []BundlePass `json:"passes,omitempty"`
}

// BundlePass is one pass of the access list in a bundle.
type BundlePass struct {
	PassID string `json:"pass_id"`
	Kind   string `json:"kind"`
	AreaID string `json:"area_id"`
	Status string `json:"status"`
	Inside bool   `json:"inside"`
}

// Change is a change of a pass's status, at a position of the log.
type Change struct {
	Position int64  `json:"position"`
	PassID   string `json:"pass_id"`
	AreaID   string `json:"area_id"`
	Status   string `json:"status"`
}

// Bundle builds an event's offline bundle from the access list, brought
// up to date first. The lists and the position are read in one
// transaction, so following the changes from Position misses nothing.
func (s *Service) Bundle(ctx context.Context, eventID string, withPasses bool) (Bundle, error) {
	if _, err := s.liveServer(ctx, eventID); err != nil {
		return Bundle{}, err
	}
	if _, err := s.Project(ctx); err != nil {
		return Bundle{}, err
	}
	b := Bundle{EventID: eventID, Revoked: []string{}, Blocked: []string{}}
	var err error
	if b.Keys, err = s.PublicKeys(ctx, eventID); err != nil {
		return b, err
	}
	if b.Gates, err = s.Gates(ctx, eventID); err != nil {
		return b, err
	}
	if b.Lists, err = s.Lists(ctx, eventID); err != nil {
		return b, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		pos, err := s.es.CheckpointTx(ctx, tx, s.proj.Name)
		if err != nil {
			return err
		}
		b.Position = pos
		rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT pass_id, kind, area_id, status, inside FROM gate_passes WHERE event_id = ? ORDER BY pass_id`), eventID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p BundlePass
			var inside int
			if err := rows.Scan(&p.PassID, &p.Kind, &p.AreaID, &p.Status, &inside); err != nil {
				return err
			}
			p.Inside = inside == 1
			switch p.Status {
			case StatusRevoked, StatusCanceled:
				b.Revoked = append(b.Revoked, p.PassID)
			case StatusBlocked:
				b.Blocked = append(b.Blocked, p.PassID)
			}
			if withPasses && p.Kind != "" {
				b.Passes = append(b.Passes, p)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return b, fmt.Errorf("gate: bundle of event %s: %w", eventID, err)
	}
	return b, nil
}

// MaxChanges is the most changes one call of [Service.Changes] returns.
const MaxChanges = 10000

// Changes returns the event's pass status changes after position, oldest
// first, at most limit (1 to MaxChanges), and the position to ask from
// next.
func (s *Service) Changes(ctx context.Context, eventID string, after int64, limit int) ([]Change, int64, error) {
	if after < 0 {
		return nil, 0, invalid.New(ErrInvalid, "after", "must not be negative")
	}
	if limit < 1 || limit > MaxChanges {
		return nil, 0, invalid.New(ErrInvalid, "limit", "must be 1 to %d", MaxChanges)
	}
	if _, err := s.liveServer(ctx, eventID); err != nil {
		return nil, 0, err
	}
	if _, err := s.Project(ctx); err != nil {
		return nil, 0, err
	}
	next := after
	out := []Change{}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		pos, err := s.es.CheckpointTx(ctx, tx, s.proj.Name)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT position, pass_id, area_id, status FROM gate_changes WHERE event_id = ? AND position > ? ORDER BY position LIMIT ?`), eventID, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c Change
			if err := rows.Scan(&c.Position, &c.PassID, &c.AreaID, &c.Status); err != nil {
				return err
			}
			out = append(out, c)
		}
		if len(out) == limit {
			next = out[len(out)-1].Position
		} else if pos > after {
			next = pos
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("gate: changes of event %s: %w", eventID, err)
	}
	return out, next, nil
}

// MaxUpload is the most scans one upload carries.
const MaxUpload = 5000

// Upload records scans a device made offline, in the order they happened:
// each is a forced redeem (never refused; flagged when it conflicts with
// what the server knows, such as another device's entry of the same pass
// or a refund). Every scan needs a nonce, so an upload repeated after a
// lost answer records nothing twice.
func (s *Service) Upload(ctx context.Context, eventID, deviceID string, scans []Redeem) ([]Result, error) {
	if len(scans) > MaxUpload {
		return nil, invalid.New(ErrInvalid, "scans", "at most %d per upload", MaxUpload)
	}
	for i := range scans {
		if scans[i].Nonce == "" {
			return nil, invalid.New(ErrInvalid, fmt.Sprintf("scans[%d].nonce", i), "is required for an upload")
		}
		if scans[i].At.IsZero() {
			return nil, invalid.New(ErrInvalid, fmt.Sprintf("scans[%d].at", i), "is required for an upload")
		}
		var fe *invalid.Fields
		if err := scans[i].check(s.now()); errors.As(err, &fe) {
			return nil, inScan(i, fe)
		}
	}
	order := make([]int, len(scans))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return scans[a].At.Compare(scans[b].At) })
	out := make([]Result, len(scans))
	for _, i := range order {
		r := scans[i]
		r.EventID, r.DeviceID, r.Force = eventID, deviceID, true
		res, err := s.Redeem(ctx, r)
		var fe *invalid.Fields
		if errors.As(err, &fe) {
			return nil, inScan(i, fe)
		}
		if err != nil {
			return nil, fmt.Errorf("gate: upload: scan %d: %w", i, err)
		}
		out[i] = res
	}
	return out, nil
}

// inScan names the bad fields of scan i of an upload as fields of
// scans[i].
func inScan(i int, fe *invalid.Fields) error {
	out := &invalid.Fields{Kind: ErrInvalid}
	for _, f := range fe.List {
		out.Add(fmt.Sprintf("scans[%d].%s", i, f.Name), "%s", f.Message)
	}
	return out
}

// Found is a pass a search found: a ticket's order number and buyer's
// name, or a staff pass's staff member's name, come with it (empty for a
// pass issued before the gate kept them). Unlike the bundle every device
// downloads, only a caller allowed to search sees them. The e-mail address
// a search matches is never returned.
type Found struct {
	BundlePass
	OrderNumber string `json:"order_number,omitempty"`
	BuyerName   string `json:"buyer_name,omitempty"`
	StaffName   string `json:"staff_name,omitempty"`
}

// MaxSearchLength is the longest q of [Service.Search], in bytes: the
// longest e-mail address.
const MaxSearchLength = 254

// Search lists the passes of an event that q finds, at most limit (1 to
// 100), by id: a pass whose id starts with q, a ticket whose order number
// starts with q, a pass whose buyer's or staff member's name has a word
// starting with q (both ignoring case; a q of several words matches them
// in a row), or whose buyer's or staff member's e-mail address is q, whole
// and ignoring case. It brings the access list up to date first, as the
// bundle does.
func (s *Service) Search(ctx context.Context, eventID, q string, limit int) ([]Found, error) {
	if limit < 1 || limit > 100 {
		return nil, invalid.New(ErrInvalid, "limit", "must be 1 to 100")
	}
	if len(q) > MaxSearchLength {
		return nil, invalid.New(ErrInvalid, "q", "must be at most %d bytes", MaxSearchLength)
	}
	if _, err := s.liveServer(ctx, eventID); err != nil {
		return nil, err
	}
	if _, err := s.Project(ctx); err != nil {
		return nil, err
	}
	// The event's passes are walked in id order, by the primary key, until
	// limit match: a search reads no other event's passes. A pass without
	// an e-mail address is never found by it, whatever q.
	words := "%" + likeEscaper.Replace(searchWords(q)) + "%"
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT pass_id, kind, area_id, status, inside, order_number, buyer_name, staff_name FROM gate_passes
		WHERE event_id = ? AND kind <> '' AND (substr(pass_id, 1, ?) = ? OR search_words LIKE ? ESCAPE '!' OR (email <> '' AND email = ?)) ORDER BY pass_id LIMIT ?`),
		eventID, len(q), q, words, emailKey(q), limit)
	if err != nil {
		return nil, fmt.Errorf("gate: search: %w", err)
	}
	defer rows.Close()
	out := []Found{}
	for rows.Next() {
		var p Found
		var inside int
		if err := rows.Scan(&p.PassID, &p.Kind, &p.AreaID, &p.Status, &inside, &p.OrderNumber, &p.BuyerName, &p.StaffName); err != nil {
			return nil, fmt.Errorf("gate: search: %w", err)
		}
		p.Inside = inside == 1
		out = append(out, p)
	}
	return out, rows.Err()
}

// searchWords is what a search matches by words: a ticket's order number
// and its buyer's name, or a staff member's name, lowercased, each word
// after a space (" ord-7 budi santoso"), so that " bud" finds a word's
// start.
func searchWords(parts ...string) string {
	var b strings.Builder
	for _, w := range strings.Fields(strings.ToLower(strings.Join(parts, " "))) {
		b.WriteString(" ")
		b.WriteString(w)
	}
	return b.String()
}

// emailKey is an e-mail address as the access list keeps it and a search
// matches it: without surrounding spaces, lowercased.
func emailKey(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// tidyName is a name as the gate keeps it: its words, one space apart.
func tidyName(name string) string {
	return strings.Join(strings.Fields(name), " ")
}

// likeEscaper escapes a LIKE pattern's wildcards, with '!' as the escape.
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
