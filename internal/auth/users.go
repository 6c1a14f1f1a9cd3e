package auth

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/store"
)

// User is an account. It carries no password or password hash: those never
// leave the Store.
type User struct {
	ID string
	// Username is unique, lowercase, 2 to 64 characters of letters, digits,
	// '.', '_' and '-'. Usernames are case-insensitive: input is lowercased.
	Username  string
	Name      string
	Email     string
	Phone     string
	Confirmed bool
	// Disabled users cannot log in, their sessions are ended, and API keys
	// they own are refused.
	Disabled bool
	// Roles are in a fixed order (admin, operator, viewer, then the
	// e-ticketing roles), without duplicates.
	Roles []Role
	// PasswordChangedAt is when the password was last set; zero when the
	// user has none (and so cannot log in).
	PasswordChangedAt time.Time
	// MustChangePassword is set while the user's password is one Arus
	// generated (the first admin's, or one from ResetPassword): the console
	// lets the user do nothing but choose their own. API keys the user owns
	// are not affected.
	MustChangePassword bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// NewUser is the input of CreateUser.
type NewUser struct {
	Username string
	Name     string
	Email    string
	Phone    string
	// Password is optional; a user without one cannot log in until
	// SetPassword or ResetPassword gives one.
	Password  string
	Roles     []Role
	Confirmed bool
	// MustChangePassword makes the user choose their own password at the
	// first sign-in.
	MustChangePassword bool
}

// String hides the password, so that logging a NewUser does not log it.
func (n NewUser) String() string {
	return fmt.Sprintf("{Username:%s Name:%s Email:%s Phone:%s Roles:%v Confirmed:%t}",
		n.Username, n.Name, n.Email, n.Phone, n.Roles, n.Confirmed)
}

var (
	usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)
	phonePattern    = regexp.MustCompile(`^\+?[0-9][0-9 ().-]*$`)
)

const maxNameLength = 200

// normalizeUsername is how usernames are compared and stored: trimmed and
// lowercased.
func normalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// normalize trims the free-text fields, lowercases the username and sorts
// the roles. Unknown roles are kept for validate to report.
func (u *User) normalize() {
	u.Username = normalizeUsername(u.Username)
	u.Name = strings.TrimSpace(u.Name)
	u.Email = strings.TrimSpace(u.Email)
	u.Phone = strings.TrimSpace(u.Phone)
}

// validate checks the fields of a normalised user.
func (u *User) validate(ve *invalid.Fields) {
	switch {
	case u.Username == "":
		ve.Add("username", "is required")
	case !usernamePattern.MatchString(u.Username):
		ve.Add("username", "use 2 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	switch {
	case !utf8.ValidString(u.Name):
		ve.Add("name", "must be valid UTF-8 text")
	case utf8.RuneCountInString(u.Name) > maxNameLength:
		ve.Add("name", "must be at most %d characters long", maxNameLength)
	case strings.ContainsFunc(u.Name, unicode.IsControl):
		ve.Add("name", "must not contain control characters")
	}
	if u.Email != "" && !validEmail(u.Email) {
		ve.Add("email", "must be an email address such as name@example.com")
	}
	if u.Phone != "" && !validPhone(u.Phone) {
		ve.Add("phone", "must be a phone number of 5 to 15 digits, such as +62 812 3456 7890")
	}
	for i, r := range u.Roles {
		if !r.Valid() {
			ve.Add(fmt.Sprintf("roles[%d]", i), "unknown role %q; known roles are %s", r, joinRoles(allRoles))
		}
	}
}

func validEmail(s string) bool {
	if len(s) > 254 || !utf8.ValidString(s) {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	_, domain, _ := strings.Cut(s, "@")
	return domain != "" && !strings.ContainsAny(domain, "[]")
}

func validPhone(s string) bool {
	if !phonePattern.MatchString(s) {
		return false
	}
	digits := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	return digits >= 5 && digits <= 15
}

func joinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// CreateUser validates and stores a new user. It returns a
// *invalid.Fields naming every bad field, or ErrUsernameTaken.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	now := s.now()
	u := User{
		ID:        newID(),
		Username:  nu.Username,
		Name:      nu.Name,
		Email:     nu.Email,
		Phone:     nu.Phone,
		Confirmed: nu.Confirmed,
		Roles:     slices.Clone(nu.Roles),
		CreatedAt: fromMillis(toMillis(now)),

		MustChangePassword: nu.MustChangePassword && nu.Password != "",
		UpdatedAt:          fromMillis(toMillis(now)),
	}
	u.normalize()
	ve := invalid.Fields{Kind: ErrInvalid}
	u.validate(&ve)
	if nu.Password != "" {
		s.checkPassword(&ve, "password", nu.Password, u.Username)
	}
	if err := ve.Err(); err != nil {
		return User{}, err
	}
	u.Roles = sortRoles(u.Roles)
	var hash string
	if nu.Password != "" {
		// Hash before the transaction: it is slow by design, and the
		// write lock should not wait for it.
		var err error
		if hash, err = s.hashPassword(ctx, nu.Password); err != nil {
			return User{}, err
		}
		u.PasswordChangedAt = u.CreatedAt
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO auth_users
			(id, username, name, email, phone, confirmed, disabled, password_hash, password_changed_at, must_change_password, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			u.ID, u.Username, u.Name, u.Email, u.Phone, u.Confirmed, false, hash,
			toMillis(u.PasswordChangedAt), u.MustChangePassword, toMillis(u.CreatedAt), toMillis(u.UpdatedAt))
		if store.IsUniqueViolation(err) {
			return fmt.Errorf("%w: %q", ErrUsernameTaken, u.Username)
		}
		if err != nil {
			return fmt.Errorf("auth: create user: %w", err)
		}
		return s.insertRoles(ctx, tx, u.ID, u.Roles)
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

func (s *Store) insertRoles(ctx context.Context, tx *sql.Tx, userID string, roles []Role) error {
	for _, r := range roles {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO auth_user_roles (user_id, role) VALUES (?, ?)`), userID, string(r)); err != nil {
			return fmt.Errorf("auth: add role %s: %w", r, err)
		}
	}
	return nil
}

const userColumns = `u.id, u.username, u.name, u.email, u.phone, u.confirmed, u.disabled, u.password_changed_at, u.must_change_password, u.created_at, u.updated_at`

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanUser reads userColumns, followed by extra destinations.
func scanUser(r rowScanner, extra ...any) (User, error) {
	var u User
	var pwChanged, created, updated int64
	dest := append([]any{&u.ID, &u.Username, &u.Name, &u.Email, &u.Phone, &u.Confirmed, &u.Disabled, &pwChanged, &u.MustChangePassword, &created, &updated}, extra...)
	if err := r.Scan(dest...); err != nil {
		return User{}, err
	}
	u.PasswordChangedAt = fromMillis(pwChanged)
	u.CreatedAt = fromMillis(created)
	u.UpdatedAt = fromMillis(updated)
	return u, nil
}

// userWhere loads one user and their roles by a condition on u.
func (s *Store) userWhere(ctx context.Context, q store.Querier, cond string, arg any, lock bool) (User, error) {
	query := `SELECT ` + userColumns + ` FROM auth_users u WHERE ` + cond
	if lock {
		query += s.forUpdate()
	}
	u, err := scanUser(q.QueryRowContext(ctx, s.db.Rebind(query), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("%w: user %v", ErrNotFound, arg)
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: load user: %w", err)
	}
	if u.Roles, err = s.userRoles(ctx, q, u.ID); err != nil {
		return User{}, err
	}
	return u, nil
}

func (s *Store) userRoles(ctx context.Context, q store.Querier, userID string) ([]Role, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT role FROM auth_user_roles WHERE user_id = ?`), userID)
	if err != nil {
		return nil, fmt.Errorf("auth: load roles: %w", err)
	}
	defer rows.Close()
	var roles []Role
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("auth: load roles: %w", err)
		}
		roles = append(roles, Role(r))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth: load roles: %w", err)
	}
	return sortRoles(roles), nil
}

// User returns the user with the given id, or ErrNotFound.
func (s *Store) User(ctx context.Context, id string) (User, error) {
	if !validID(id) {
		return User{}, fmt.Errorf("%w: user %q", ErrNotFound, id)
	}
	return s.userWhere(ctx, s.db, `u.id = ?`, id, false)
}

// UserByUsername returns the user with the given username (compared
// case-insensitively), or ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	username = normalizeUsername(username)
	if !usernamePattern.MatchString(username) {
		return User{}, fmt.Errorf("%w: user %q", ErrNotFound, username)
	}
	return s.userWhere(ctx, s.db, `u.username = ?`, username, false)
}

// UserQuery selects a page of users for ListUsers.
type UserQuery struct {
	// Search, when set, keeps users whose username, name or email contains
	// it, ignoring case.
	Search string
	// Role, when set, keeps users holding it.
	Role Role
	// After is the cursor of the page to read: UserPage.Next of the
	// previous page, or empty for the first.
	After string
	// Limit is the most users in the page. Default 50, at most 500.
	Limit int
}

// UserPage is one page of users in username order.
type UserPage struct {
	Users []User
	// Next is the cursor of the next page; empty on the last page.
	Next string
}

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// ListUsers returns users in username order, a page at a time. Pages are
// read by keyset (username greater than the cursor's) along the username
// index, so reading page n costs the same as page 1 and a user created or
// removed meanwhile neither shifts nor repeats the others.
func (s *Store) ListUsers(ctx context.Context, q UserQuery) (UserPage, error) {
	ve := invalid.Fields{Kind: ErrInvalid}
	after := ""
	if q.After != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.After)
		if after = string(b); err != nil || !usernamePattern.MatchString(after) {
			ve.Add("after", "is not a cursor returned by a previous page")
		}
	}
	if !utf8.ValidString(q.Search) || strings.ContainsFunc(q.Search, unicode.IsControl) {
		ve.Add("search", "must be text without control characters")
	}
	if q.Role != "" && !q.Role.Valid() {
		ve.Add("role", "unknown role %q; known roles are %s", q.Role, joinRoles(allRoles))
	}
	switch {
	case q.Limit < 0 || q.Limit > maxPageSize:
		ve.Add("limit", "must be 1 to %d", maxPageSize)
	case q.Limit == 0:
		q.Limit = defaultPageSize
	}
	if err := ve.Err(); err != nil {
		return UserPage{}, err
	}

	query := `SELECT ` + userColumns + ` FROM auth_users u WHERE u.username > ?`
	args := []any{after}
	if search := strings.ToLower(strings.TrimSpace(q.Search)); search != "" {
		pattern := "%" + escapeLike(search) + "%"
		query += ` AND (u.username LIKE ? ESCAPE '\' OR LOWER(u.name) LIKE ? ESCAPE '\' OR LOWER(u.email) LIKE ? ESCAPE '\')`
		args = append(args, pattern, pattern, pattern)
	}
	if q.Role != "" {
		query += ` AND EXISTS (SELECT 1 FROM auth_user_roles r WHERE r.user_id = u.id AND r.role = ?)`
		args = append(args, string(q.Role))
	}
	query += ` ORDER BY u.username LIMIT ?`
	args = append(args, q.Limit+1)

	rows, err := s.db.QueryContext(ctx, s.db.Rebind(query), args...)
	if err != nil {
		return UserPage{}, fmt.Errorf("auth: list users: %w", err)
	}
	defer rows.Close()
	var page UserPage
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return UserPage{}, fmt.Errorf("auth: list users: %w", err)
		}
		page.Users = append(page.Users, u)
	}
	if err := rows.Err(); err != nil {
		return UserPage{}, fmt.Errorf("auth: list users: %w", err)
	}
	rows.Close()
	if len(page.Users) > q.Limit {
		page.Users = page.Users[:q.Limit]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(page.Users[q.Limit-1].Username))
	}
	if err := s.fillRoles(ctx, page.Users); err != nil {
		return UserPage{}, err
	}
	return page, nil
}

// fillRoles loads the roles of many users in one query.
func (s *Store) fillRoles(ctx context.Context, users []User) error {
	if len(users) == 0 {
		return nil
	}
	byID := make(map[string]*User, len(users))
	args := make([]any, len(users))
	for i := range users {
		byID[users[i].ID] = &users[i]
		args[i] = users[i].ID
	}
	query := `SELECT user_id, role FROM auth_user_roles WHERE user_id IN (?` + strings.Repeat(",?", len(users)-1) + `)`
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(query), args...)
	if err != nil {
		return fmt.Errorf("auth: load roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, r string
		if err := rows.Scan(&id, &r); err != nil {
			return fmt.Errorf("auth: load roles: %w", err)
		}
		if u := byID[id]; u != nil {
			u.Roles = append(u.Roles, Role(r))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("auth: load roles: %w", err)
	}
	for i := range users {
		users[i].Roles = sortRoles(users[i].Roles)
	}
	return nil
}

// escapeLike escapes LIKE's wildcards so that s matches literally.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateUser changes a user inside one transaction: it loads the user,
// calls fn on a copy, validates the result and writes it. fn may change
// Username, Name, Email, Phone, Confirmed, Disabled and Roles; other fields
// are ignored. An error from fn is returned as is, with nothing written.
//
// Disabling a user ends their sessions. A change that would leave no
// enabled admin fails with ErrLastAdmin, so the console can never lock
// everyone out.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(u *User) error) (User, error) {
	if !validID(id) {
		return User{}, fmt.Errorf("%w: user %q", ErrNotFound, id)
	}
	var updated User
	var ownerChanged bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		before, err := s.userWhere(ctx, tx, `u.id = ?`, id, true)
		if err != nil {
			return err
		}
		u := before
		u.Roles = slices.Clone(before.Roles)
		if err := fn(&u); err != nil {
			return err
		}
		u.ID, u.CreatedAt, u.PasswordChangedAt, u.MustChangePassword = before.ID, before.CreatedAt, before.PasswordChangedAt, before.MustChangePassword
		u.normalize()
		ve := invalid.Fields{Kind: ErrInvalid}
		u.validate(&ve)
		if err := ve.Err(); err != nil {
			return err
		}
		u.Roles = sortRoles(u.Roles)
		wasAdmin := before.HasRole(RoleAdmin) && !before.Disabled
		isAdmin := u.HasRole(RoleAdmin) && !u.Disabled
		if wasAdmin && !isAdmin {
			if err := s.checkOtherAdmins(ctx, tx, id); err != nil {
				return err
			}
		}
		u.UpdatedAt = fromMillis(toMillis(s.now()))
		_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE auth_users
			SET username = ?, name = ?, email = ?, phone = ?, confirmed = ?, disabled = ?, updated_at = ?
			WHERE id = ?`),
			u.Username, u.Name, u.Email, u.Phone, u.Confirmed, u.Disabled, toMillis(u.UpdatedAt), id)
		if store.IsUniqueViolation(err) {
			return fmt.Errorf("%w: %q", ErrUsernameTaken, u.Username)
		}
		if err != nil {
			return fmt.Errorf("auth: update user: %w", err)
		}
		rolesChanged := !slices.Equal(before.Roles, u.Roles)
		if rolesChanged {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM auth_user_roles WHERE user_id = ?`), id); err != nil {
				return fmt.Errorf("auth: update roles: %w", err)
			}
			if err := s.insertRoles(ctx, tx, id, u.Roles); err != nil {
				return err
			}
		}
		if u.Disabled && !before.Disabled {
			if err := s.deleteUserSessionsTx(ctx, tx, id); err != nil {
				return err
			}
		}
		ownerChanged = rolesChanged || u.Disabled != before.Disabled
		updated = u
		return nil
	})
	if err != nil {
		return User{}, err
	}
	if updated.Disabled {
		s.watch.endUser(id)
	}
	if ownerChanged {
		// Cached API keys carry their owner's permissions and state.
		s.keys.invalidateOwner(id)
	}
	return updated, nil
}

// checkOtherAdmins fails with ErrLastAdmin unless an enabled admin other
// than userID exists. On PostgreSQL it locks the admins' rows, so that two
// concurrent demotions cannot both pass.
func (s *Store) checkOtherAdmins(ctx context.Context, tx *sql.Tx, userID string) error {
	rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT u.id FROM auth_user_roles r JOIN auth_users u ON u.id = r.user_id
		WHERE r.role = ? AND u.disabled = ? AND u.id <> ?`+s.forUpdate()), string(RoleAdmin), false, userID)
	if err != nil {
		return fmt.Errorf("auth: count admins: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("auth: count admins: %w", err)
	}
	if n == 0 {
		return ErrLastAdmin
	}
	return nil
}

// SetRoles replaces the user's roles. See UpdateUser.
func (s *Store) SetRoles(ctx context.Context, id string, roles ...Role) (User, error) {
	return s.UpdateUser(ctx, id, func(u *User) error {
		u.Roles = roles
		return nil
	})
}

// Disable disables the user: they cannot log in, their sessions end and
// the API keys they own are refused. See UpdateUser.
func (s *Store) Disable(ctx context.Context, id string) (User, error) {
	return s.UpdateUser(ctx, id, func(u *User) error {
		u.Disabled = true
		return nil
	})
}

// Enable enables a disabled user again.
func (s *Store) Enable(ctx context.Context, id string) (User, error) {
	return s.UpdateUser(ctx, id, func(u *User) error {
		u.Disabled = false
		return nil
	})
}
