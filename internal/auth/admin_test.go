package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

func TestEnsureAdmin(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		generated, created, err := e.st.EnsureAdmin(ctx, "")
		if err != nil || !created || len(generated) < 12 {
			t.Fatalf("EnsureAdmin = %q, %v, %v; want a generated password, true, nil", generated, created, err)
		}
		u, err := e.st.Authenticate(ctx, "admin", generated, "")
		if err != nil {
			t.Fatalf("login with the generated password: %v", err)
		}
		if !u.Can(auth.PermUsersWrite) || !u.Confirmed {
			t.Errorf("admin = %+v, want a confirmed admin", u)
		}
		for _, pw := range []string{"", "another good password"} {
			generated, created, err = e.st.EnsureAdmin(ctx, pw)
			if err != nil || created || generated != "" {
				t.Errorf("EnsureAdmin(%q) again = %q, %v, %v; want nothing done", pw, generated, created, err)
			}
		}

		// A lost admin is restored with the configured password.
		if _, err := e.db.ExecContext(ctx, e.db.Rebind(`UPDATE auth_users SET disabled = ? WHERE id = ?`), true, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.SetRoles(ctx, u.ID, auth.RoleViewer); err != nil {
			t.Fatalf("demote the disabled admin: %v", err)
		}
		if _, _, err := e.st.EnsureAdmin(ctx, "short"); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("EnsureAdmin(short) error %v, want ErrInvalid", err)
		}
		generated, created, err = e.st.EnsureAdmin(ctx, "a configured password")
		if err != nil || !created || generated != "" {
			t.Fatalf("EnsureAdmin restoring = %q, %v, %v; want \"\", true, nil", generated, created, err)
		}
		u, err = e.st.Authenticate(ctx, "admin", "a configured password", "")
		if err != nil || !u.HasRole(auth.RoleAdmin) || !u.HasRole(auth.RoleViewer) || u.Disabled {
			t.Errorf("restored admin = %+v, %v", u, err)
		}
	})
}

// Processes starting together set up one admin between them.
func TestEnsureAdminConcurrent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		stores := []*auth.Store{e.st, e.reopen(t), e.reopen(t), e.reopen(t)}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var passwords []string
		for _, st := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pw, created, err := st.EnsureAdmin(ctx, "")
				if err != nil {
					t.Errorf("EnsureAdmin: %v", err)
				}
				if created {
					mu.Lock()
					passwords = append(passwords, pw)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(passwords) != 1 {
			t.Fatalf("%d processes created the admin, want 1", len(passwords))
		}
		if _, err := e.st.Authenticate(ctx, "admin", passwords[0], ""); err != nil {
			t.Errorf("login with the one generated password: %v", err)
		}
	})
}
