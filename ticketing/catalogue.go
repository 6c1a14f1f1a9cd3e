package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
)

// Scope is what a caller may see and change: every merchant (the
// platform's admins) or only the merchants listed (a merchant's admins,
// cashiers and coordinators). Data of other merchants is reported as not
// found.
type Scope struct {
	All       bool
	Merchants []string
}

// Everything is the platform's scope.
var Everything = Scope{All: true}

// Allows reports whether the scope covers merchant's data.
func (sc Scope) Allows(merchant string) bool {
	return sc.All || slices.Contains(sc.Merchants, merchant)
}

// filter returns a SQL condition on column limiting rows to the scope, and
// its arguments.
func (sc Scope) filter(column string) (string, []any) {
	if sc.All {
		return "1 = 1", nil
	}
	if len(sc.Merchants) == 0 {
		return "1 = 0", nil
	}
	args := make([]any, len(sc.Merchants))
	for i, m := range sc.Merchants {
		args[i] = m
	}
	return column + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ") + ")", args
}

// Merchant is a company or organiser that runs events.
type Merchant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MerchantTypes are the kinds of merchant.
var MerchantTypes = []string{"organizer", "venue", "promoter", "community", "company"}

// MerchantInput is what creating or editing a merchant takes.
type MerchantInput struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func (in MerchantInput) validate() error {
	var c checker
	c.text("name", in.Name, 1, 100)
	c.oneOf("type", in.Type, MerchantTypes)
	return c.err()
}

// CreateMerchant adds a merchant (the platform does this).
func (s *Service) CreateMerchant(ctx context.Context, in MerchantInput) (Merchant, error) {
	if err := in.validate(); err != nil {
		return Merchant{}, err
	}
	now := s.cfg.Now().UTC()
	m := Merchant{ID: newID("mer"), Name: strings.TrimSpace(in.Name), Type: in.Type, CreatedAt: now.Truncate(time.Microsecond), UpdatedAt: now.Truncate(time.Microsecond)}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO merchants (id, name, type, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`),
		m.ID, m.Name, m.Type, micros(now), micros(now))
	if store.IsUniqueViolation(err) {
		return Merchant{}, invalid.New(ErrInvalid, "name", "a merchant named %q exists", m.Name)
	}
	if err != nil {
		return Merchant{}, fmt.Errorf("ticketing: create merchant: %w", err)
	}
	return m, nil
}

// UpdateMerchant changes a merchant's name and type.
func (s *Service) UpdateMerchant(ctx context.Context, sc Scope, id string, in MerchantInput) (Merchant, error) {
	if err := in.validate(); err != nil {
		return Merchant{}, err
	}
	if _, err := s.Merchant(ctx, sc, id); err != nil {
		return Merchant{}, err
	}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE merchants SET name = ?, type = ?, updated_at = ? WHERE id = ?`),
		strings.TrimSpace(in.Name), in.Type, micros(s.cfg.Now()), id)
	if store.IsUniqueViolation(err) {
		return Merchant{}, invalid.New(ErrInvalid, "name", "a merchant named %q exists", in.Name)
	}
	if err != nil {
		return Merchant{}, fmt.Errorf("ticketing: update merchant: %w", err)
	}
	return s.Merchant(ctx, sc, id)
}

// Merchant returns one merchant.
func (s *Service) Merchant(ctx context.Context, sc Scope, id string) (Merchant, error) {
	if !sc.Allows(id) {
		return Merchant{}, invalid.Refuse(ErrNotFound, "merchant_unknown", "merchant %s", id)
	}
	var m Merchant
	var created, updated int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT id, name, type, created_at, updated_at FROM merchants WHERE id = ?`), id).
		Scan(&m.ID, &m.Name, &m.Type, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Merchant{}, invalid.Refuse(ErrNotFound, "merchant_unknown", "merchant %s", id)
	}
	if err != nil {
		return Merchant{}, fmt.Errorf("ticketing: merchant %s: %w", id, err)
	}
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	return m, nil
}

// Merchants lists the merchants in the scope, by name.
func (s *Service) Merchants(ctx context.Context, sc Scope) ([]Merchant, error) {
	where, args := sc.filter("id")
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, name, type, created_at, updated_at FROM merchants WHERE `+where+` ORDER BY name`), args...)
	if err != nil {
		return nil, fmt.Errorf("ticketing: merchants: %w", err)
	}
	defer rows.Close()
	out := []Merchant{}
	for rows.Next() {
		var m Merchant
		var created, updated int64
		if err := rows.Scan(&m.ID, &m.Name, &m.Type, &created, &updated); err != nil {
			return nil, fmt.Errorf("ticketing: merchants: %w", err)
		}
		m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteMerchant removes a merchant that has no events.
func (s *Service) DeleteMerchant(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM events WHERE merchant_id = ?`), id).Scan(&n); err != nil {
			return fmt.Errorf("ticketing: delete merchant: %w", err)
		}
		if n > 0 {
			return invalid.Refuse(ErrConflict, "merchant_has_events", "merchant %s has %d events", id, n)
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM merchants WHERE id = ?`), id)
		if err != nil {
			return fmt.Errorf("ticketing: delete merchant: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return invalid.Refuse(ErrNotFound, "merchant_unknown", "merchant %s", id)
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM merchant_members WHERE merchant_id = ?`), id)
		return err
	})
}

// SetMembers sets the users (by username) who act for a merchant: its
// admins, cashiers and coordinators see only their merchants' data.
func (s *Service) SetMembers(ctx context.Context, merchant string, usernames []string) error {
	var c checker
	for i, u := range usernames {
		c.text(fmt.Sprintf("usernames[%d]", i), u, 1, 64)
	}
	if err := c.err(); err != nil {
		return err
	}
	if _, err := s.Merchant(ctx, Everything, merchant); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM merchant_members WHERE merchant_id = ?`), merchant); err != nil {
			return err
		}
		for _, u := range slices.Compact(slices.Sorted(slices.Values(usernames))) {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO merchant_members (merchant_id, username) VALUES (?, ?)`),
				merchant, strings.ToLower(u)); err != nil {
				return fmt.Errorf("ticketing: set members: %w", err)
			}
		}
		return nil
	})
}

// Members returns the usernames acting for a merchant.
func (s *Service) Members(ctx context.Context, merchant string) ([]string, error) {
	return s.strings(ctx, `SELECT username FROM merchant_members WHERE merchant_id = ? ORDER BY username`, merchant)
}

// MerchantsOf returns the merchants a user acts for.
func (s *Service) MerchantsOf(ctx context.Context, username string) ([]string, error) {
	return s.strings(ctx, `SELECT merchant_id FROM merchant_members WHERE username = ? ORDER BY merchant_id`, strings.ToLower(username))
}

func (s *Service) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("ticketing: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("ticketing: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PaymentMethod is a way to pay that the platform offers. The payment
// service owns the money; the ticketing service knows only the names.
type PaymentMethod struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Payment methods set up on first start.
const (
	MethodCash   = "CASH"
	MethodOnline = "ONLINE"
)

func (s *Service) seedPaymentMethods(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_methods`).Scan(&n); err != nil {
		return fmt.Errorf("ticketing: payment methods: %w", err)
	}
	if n > 0 {
		return nil
	}
	for _, name := range []string{MethodCash, MethodOnline} {
		if _, err := s.CreatePaymentMethod(ctx, name); err != nil && !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return nil
}

// CreatePaymentMethod adds a payment method: 1 to 40 upper-case letters,
// digits and '_'.
func (s *Service) CreatePaymentMethod(ctx context.Context, name string) (PaymentMethod, error) {
	var c checker
	c.text("name", name, 1, 40)
	if strings.ToUpper(name) != name || strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
	}) {
		c.Add("name", "%q: use upper-case letters, digits and '_'", name)
	}
	if err := c.err(); err != nil {
		return PaymentMethod{}, err
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	m := PaymentMethod{ID: newID("pm"), Name: name, CreatedAt: now}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO payment_methods (id, name, created_at) VALUES (?, ?, ?)`), m.ID, m.Name, micros(now))
	if store.IsUniqueViolation(err) {
		return PaymentMethod{}, invalid.Refuse(ErrConflict, "payment_method_exists", "payment method %s exists", name)
	}
	if err != nil {
		return PaymentMethod{}, fmt.Errorf("ticketing: create payment method: %w", err)
	}
	return m, nil
}

// PaymentMethods lists the payment methods by name.
func (s *Service) PaymentMethods(ctx context.Context) ([]PaymentMethod, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, created_at FROM payment_methods ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("ticketing: payment methods: %w", err)
	}
	defer rows.Close()
	out := []PaymentMethod{}
	for rows.Next() {
		var m PaymentMethod
		var created int64
		if err := rows.Scan(&m.ID, &m.Name, &created); err != nil {
			return nil, err
		}
		m.CreatedAt = fromMicros(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeletePaymentMethod removes a payment method; orders already placed
// with it keep its name.
func (s *Service) DeletePaymentMethod(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM payment_methods WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("ticketing: delete payment method: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return invalid.Refuse(ErrNotFound, "payment_method_unknown", "payment method %s", id)
	}
	return nil
}

func (s *Service) methodExists(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.Reader().QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM payment_methods WHERE name = ?`), name).Scan(&n)
	return n > 0, err
}
