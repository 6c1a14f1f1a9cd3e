package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

// An owned key lives and dies with its owner: refused while the owner is
// disabled, gone when the owner is deleted.
func TestKeyFollowsItsOwner(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		e.mustCreate(t, "keeper", auth.RoleAdmin)
		owner := e.mustCreate(t, "ops", auth.RoleAdmin)
		_, key, err := e.st.CreateAPIKey(ctx, auth.NewAPIKey{Name: "ops script", OwnerID: owner.ID, Scopes: []string{"topics.read"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.VerifyAPIKey(ctx, key); err != nil {
			t.Fatalf("key of an enabled owner: %v", err)
		}
		if _, err := e.st.Disable(ctx, owner.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.VerifyAPIKey(ctx, key); !errors.Is(err, auth.ErrDisabled) {
			t.Errorf("key of a disabled owner: %v, want ErrDisabled", err)
		}
		if _, err := e.st.Enable(ctx, owner.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.ExecContext(ctx, e.db.Rebind(`DELETE FROM auth_users WHERE id = ?`), owner.ID); err != nil {
			t.Fatal(err)
		}
		// A process that did not see the key before asks the database.
		if _, err := e.reopen(t).VerifyAPIKey(ctx, key); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("key of a deleted owner: %v, want ErrInvalidCredentials", err)
		}
		keys, err := e.st.ListAPIKeys(ctx, "")
		if err != nil || len(keys) != 0 {
			t.Errorf("keys after the owner was deleted: %v, %v; want none", keys, err)
		}
	})
}
