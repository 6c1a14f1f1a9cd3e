package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/messages"
)

// Errors of customer sign-up.
var (
	// ErrEmailTaken: another account has the e-mail address.
	ErrEmailTaken = errors.New("auth: e-mail address is taken")
	// ErrBadToken: a confirmation token is malformed, forged, or for an
	// account that changed its address since.
	ErrBadToken = errors.New("auth: confirmation token is not valid")
)

// CustomersConfig configures [Customers].
type CustomersConfig struct {
	// Key signs confirmation tokens (HMAC-SHA256); at least 32 bytes.
	Key []byte
	// TTL is how long a confirmation link works. Default 48h.
	TTL time.Duration
	// Producer publishes CustomerRegistered on auth.customers, for
	// notify to mail the link; required.
	Producer stream.Producer
	// ConfirmURL returns the link that confirms with token; required.
	ConfirmURL func(token string) string
	// ResendInterval is the least time between two links sent to one
	// account, so that Resend cannot flood an address. Counted per
	// process. Default 1m.
	ResendInterval time.Duration
}

// Customers signs customers up: an account with the customer role that is
// confirmed by a signed, expiring link sent to its e-mail address.
// Buyers who want no account check out as guests: an order carries its
// buyer's name and address itself.
type Customers struct {
	st  *Store
	cfg CustomersConfig

	mu       sync.Mutex
	lastSent map[string]time.Time // by user id
}

// NewCustomers returns the customer sign-up of st.
func NewCustomers(st *Store, cfg CustomersConfig) (*Customers, error) {
	if st == nil || cfg.Producer == nil || cfg.ConfirmURL == nil {
		return nil, errors.New("auth: customers need a store, a producer and a confirmation URL")
	}
	if len(cfg.Key) < 32 {
		return nil, fmt.Errorf("auth: the confirmation key has %d bytes; use at least 32", len(cfg.Key))
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("auth: confirmation TTL %s is negative", cfg.TTL)
	}
	if cfg.TTL == 0 {
		cfg.TTL = 48 * time.Hour
	}
	if cfg.ResendInterval < 0 {
		return nil, fmt.Errorf("auth: resend interval %s is negative", cfg.ResendInterval)
	}
	if cfg.ResendInterval == 0 {
		cfg.ResendInterval = time.Minute
	}
	return &Customers{st: st, cfg: cfg, lastSent: map[string]time.Time{}}, nil
}

// NewCustomer is the input of Register.
type NewCustomer struct {
	// Username is optional: the default is made from the e-mail address.
	Username string
	Name     string
	Email    string
	Phone    string
	Password string
	// Lang is the language of the confirmation message: id (default) or en.
	Lang string
}

// String hides the password.
func (n NewCustomer) String() string {
	return fmt.Sprintf("{Username:%s Name:%s Email:%s Phone:%s Lang:%s}", n.Username, n.Name, n.Email, n.Phone, n.Lang)
}

var notUsername = regexp.MustCompile(`[^a-z0-9._-]+`)

// usernameFrom makes a username from an e-mail address:
// rina@example.co.id becomes rina.example.co.id.
func usernameFrom(email string) string {
	u := notUsername.ReplaceAllString(strings.ReplaceAll(strings.ToLower(email), "@", "."), "-")
	u = strings.TrimLeft(u, "._-")
	if len(u) > 64 {
		u = u[:64]
	}
	return u
}

// Register creates an unconfirmed customer account and publishes the
// confirmation link (CustomerRegistered on auth.customers); it returns
// once the message is durable. A *invalid.Fields names bad fields;
// ErrEmailTaken and ErrUsernameTaken say the account exists. When
// publishing fails the account exists unconfirmed and Resend sends the
// link again.
func (c *Customers) Register(ctx context.Context, nc NewCustomer) (User, error) {
	ve := invalid.Fields{Kind: ErrInvalid}
	nc.Email, nc.Name = strings.TrimSpace(nc.Email), strings.TrimSpace(nc.Name)
	if nc.Email == "" {
		ve.Add("email", "is required")
	}
	if nc.Name == "" {
		ve.Add("name", "is required")
	}
	if nc.Password == "" {
		ve.Add("password", "is required")
	}
	if nc.Lang != "" && nc.Lang != "id" && nc.Lang != "en" {
		ve.Add("lang", "%q: use id or en", nc.Lang)
	}
	if err := ve.Err(); err != nil {
		return User{}, err
	}
	if strings.TrimSpace(nc.Username) == "" {
		nc.Username = usernameFrom(nc.Email)
	}
	if _, err := c.customerByEmail(ctx, nc.Email, false); err == nil {
		return User{}, fmt.Errorf("%w: %s", ErrEmailTaken, nc.Email)
	} else if !errors.Is(err, ErrNotFound) {
		return User{}, err
	}
	u, err := c.st.CreateUser(ctx, NewUser{Username: nc.Username, Name: nc.Name, Email: nc.Email, Phone: nc.Phone,
		Password: nc.Password, Roles: []Role{RoleCustomer}})
	if err != nil {
		return User{}, err
	}
	return u, c.publish(ctx, u, nc.Lang)
}

// Resend publishes a new confirmation link for the unconfirmed customer
// with this e-mail address, unless one went out less than ResendInterval
// ago. It says nothing about whether one exists or was sent: an unknown
// or confirmed address is no error.
func (c *Customers) Resend(ctx context.Context, email, lang string) error {
	u, err := c.customerByEmail(ctx, strings.TrimSpace(email), true)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	last, seen := c.lastSent[u.ID]
	c.mu.Unlock()
	if seen && c.st.now().Sub(last) < c.cfg.ResendInterval {
		return nil
	}
	return c.publish(ctx, u, lang)
}

// customerByEmail finds an account by e-mail address (any case); with
// unconfirmed, only an unconfirmed, enabled customer.
func (c *Customers) customerByEmail(ctx context.Context, email string, unconfirmed bool) (User, error) {
	if email == "" {
		return User{}, ErrNotFound
	}
	cond := `LOWER(u.email) = ?`
	if unconfirmed {
		cond += ` AND u.confirmed = ? AND u.disabled = ? AND EXISTS (SELECT 1 FROM auth_user_roles r WHERE r.user_id = u.id AND r.role = '` +
			string(RoleCustomer) + `')`
	}
	var id string
	args := []any{strings.ToLower(email)}
	if unconfirmed {
		args = append(args, false, false)
	}
	err := c.st.db.QueryRowContext(ctx, c.st.db.Rebind(`SELECT u.id FROM auth_users u WHERE `+cond+` ORDER BY u.created_at LIMIT 1`), args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: find customer: %w", err)
	}
	return c.st.User(ctx, id)
}

func (c *Customers) publish(ctx context.Context, u User, lang string) error {
	now := c.st.now().UTC()
	expires := now.Add(c.cfg.TTL).Truncate(time.Second)
	m := messages.CustomerRegistered{Type: messages.TypeCustomerRegistered, UserID: u.ID, Name: u.Name, Email: u.Email,
		Lang: lang, ConfirmURL: c.cfg.ConfirmURL(c.token(u, expires)), Expires: expires, At: now}
	value, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := c.cfg.Producer.Produce(ctx, &stream.Record{Topic: messages.TopicCustomers, Key: []byte(u.ID), Value: value}); err != nil {
		return fmt.Errorf("auth: publish the confirmation of %s: %w", u.Username, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lastSent) >= 10000 { // forget the old ones rather than grow
		for id, t := range c.lastSent {
			if now.Sub(t) >= c.cfg.ResendInterval {
				delete(c.lastSent, id)
			}
		}
	}
	c.lastSent[u.ID] = now
	return nil
}

// token is <user id>.<expiry, Unix seconds>.<signature>, the signature an
// HMAC over both and the account's e-mail address, so a link stops
// working when the address changes.
func (c *Customers) token(u User, expires time.Time) string {
	payload := u.ID + "." + strconv.FormatInt(expires.Unix(), 10)
	return payload + "." + base64.RawURLEncoding.EncodeToString(c.sign(payload, u.Email))
}

func (c *Customers) sign(payload, email string) []byte {
	mac := hmac.New(sha256.New, c.cfg.Key)
	mac.Write([]byte(payload))
	mac.Write([]byte{0})
	mac.Write([]byte(strings.ToLower(email)))
	return mac.Sum(nil)
}

// Confirm confirms the account a token names. It fails with ErrBadToken
// for a malformed or forged token, and ErrExpired for one past its time.
// Confirming twice is no error.
func (c *Customers) Confirm(ctx context.Context, token string) (User, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return User{}, ErrBadToken
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	exp, perr := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || perr != nil || !validID(parts[0]) {
		return User{}, ErrBadToken
	}
	u, err := c.st.User(ctx, parts[0])
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrBadToken
	}
	if err != nil {
		return User{}, err
	}
	if !hmac.Equal(sig, c.sign(parts[0]+"."+parts[1], u.Email)) {
		return User{}, ErrBadToken
	}
	if c.st.now().After(time.Unix(exp, 0)) {
		return User{}, fmt.Errorf("%w: the confirmation link expired; ask for a new one", ErrExpired)
	}
	if u.Confirmed {
		return u, nil
	}
	return c.st.UpdateUser(ctx, u.ID, func(u *User) error {
		u.Confirmed = true
		return nil
	})
}
