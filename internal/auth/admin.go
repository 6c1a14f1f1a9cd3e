package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/arus-platform/arus/invalid"
)

var errAdminRestored = errors.New("auth: admin already restored")

// AdminUsername is the user EnsureAdmin creates.
const AdminUsername = "admin"

// EnsureAdmin makes sure an enabled admin exists, for a first start. When
// one does, it does nothing and returns created false. Otherwise it sets up
// the user "admin" with the admin role: created afresh, or, when a user of
// that name exists (say, disabled or demoted), enabled and given the role
// back, so that restarting with a configured password recovers a
// locked-out installation. Its password is the given one, checked against
// the password rules, or when empty a random one, returned as generated to
// be shown once and never stored in clear; a generated password must be
// changed at the first sign-in (User.MustChangePassword).
//
// It is safe when several processes start at once: one sets the admin up,
// the others find it.
func (s *Store) EnsureAdmin(ctx context.Context, password string) (generated string, created bool, err error) {
	exists, err := s.adminExists(ctx)
	if err != nil || exists {
		return "", false, err
	}
	pw := password
	if pw == "" {
		pw = s.generatePassword()
	}
	ve := invalid.Fields{Kind: ErrInvalid}
	s.checkPassword(&ve, "password", pw, AdminUsername)
	if err := ve.Err(); err != nil {
		return "", false, fmt.Errorf("auth: initial admin password: %w", err)
	}

	u, err := s.UserByUsername(ctx, AdminUsername)
	switch {
	case errors.Is(err, ErrNotFound):
		_, err = s.CreateUser(ctx, NewUser{Username: AdminUsername, Name: "Administrator", Password: pw, Roles: []Role{RoleAdmin}, Confirmed: true,
			MustChangePassword: password == ""})
		if errors.Is(err, ErrUsernameTaken) {
			// Another process created it just now.
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("auth: create initial admin: %w", err)
		}
	case err != nil:
		return "", false, err
	default:
		_, err := s.UpdateUser(ctx, u.ID, func(u *User) error {
			if u.HasRole(RoleAdmin) && !u.Disabled {
				return errAdminRestored
			}
			u.Disabled = false
			u.Roles = append(u.Roles, RoleAdmin)
			return nil
		})
		if errors.Is(err, errAdminRestored) {
			// Another process restored it just now.
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("auth: restore admin: %w", err)
		}
		if err := s.setPassword(ctx, u.ID, pw, password == ""); err != nil {
			return "", false, fmt.Errorf("auth: restore admin: %w", err)
		}
	}
	if password == "" {
		generated = pw
	}
	return generated, true, nil
}

// adminExists reports whether some enabled user holds the admin role.
func (s *Store) adminExists(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM auth_user_roles r JOIN auth_users u ON u.id = r.user_id
		WHERE r.role = ? AND u.disabled = ?`), string(RoleAdmin), false).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("auth: look for an admin: %w", err)
	}
	return n > 0, nil
}
