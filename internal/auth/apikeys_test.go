package auth_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/storetest"
	"github.com/arus-platform/arus/store"
)

var keyFormat = regexp.MustCompile(`^arus_([a-z2-7]{8})_([a-z2-7]{52})$`)

// flipLast changes the last character of s.
func flipLast(s string) string {
	c := "a"
	if strings.HasSuffix(s, "a") {
		c = "b"
	}
	return s[:len(s)-1] + c
}

func TestAPIKeyLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		expires := e.clock.Now().Add(30 * 24 * time.Hour)
		k, full, err := e.st.CreateAPIKey(ctx, auth.NewAPIKey{
			Name: " cars ingest ", Scopes: []string{"relay.ingest:cars", "records.produce", "relay.ingest:cars"}, ExpiresAt: expires,
		})
		if err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		m := keyFormat.FindStringSubmatch(full)
		if m == nil || m[1] != k.Prefix {
			t.Fatalf("key %q: want arus_<8 chars>_<52 chars> with prefix %q", full, k.Prefix)
		}
		secret := m[2]
		if k.Name != "cars ingest" || !slices.Equal(k.Scopes, []string{"relay.ingest:cars", "records.produce"}) || !k.ExpiresAt.Equal(expires) {
			t.Errorf("created key = %+v", k)
		}
		assertNoSecrets(t, "created key", k, secret)

		// Only the secret's SHA-256 is stored.
		for _, col := range rowStrings(t, e.db, `SELECT * FROM auth_api_keys`) {
			if strings.Contains(col, secret) {
				t.Errorf("keys table holds the secret in clear: %q", col)
			}
		}
		var stored string
		if err := e.db.QueryRowContext(ctx, `SELECT secret_hash FROM auth_api_keys`).Scan(&stored); err != nil || stored != sha256Hex(secret) {
			t.Errorf("secret_hash %q (%v), want SHA-256 of the secret", stored, err)
		}

		got, err := e.st.VerifyAPIKey(ctx, full)
		if err != nil {
			t.Fatalf("VerifyAPIKey: %v", err)
		}
		if got.ID != k.ID || !got.Allows(auth.PermRelayIngest, "cars") || got.Allows(auth.PermRelayIngest, "bikes") {
			t.Errorf("verified key = %+v", got)
		}
		assertNoSecrets(t, "verified key", got, secret, full)

		wrong := []string{
			"",
			"arus_",
			full[:len(full)-1],
			full + "a",
			strings.Replace(full, "arus_", "ARUS_", 1),
			flipLast(full),
			"arus_" + "aaaaaaaa" + full[13:],
			"Bearer " + full,
		}
		for _, w := range wrong {
			if _, err := e.st.VerifyAPIKey(ctx, w); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("VerifyAPIKey(%q) error %v, want ErrInvalidCredentials", w, err)
			}
		}

		byID, err := e.st.APIKey(ctx, k.ID)
		if err != nil || byID.Prefix != k.Prefix {
			t.Errorf("APIKey(id) = %+v, %v", byID, err)
		}
		if _, err := e.st.APIKey(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("APIKey(unknown) error %v, want ErrNotFound", err)
		}

		// Rotate: same id and prefix, new secret; the old one is refused
		// at once.
		rotated, full2, err := e.st.RotateAPIKey(ctx, k.ID)
		if err != nil {
			t.Fatalf("RotateAPIKey: %v", err)
		}
		if rotated.ID != k.ID || rotated.Prefix != k.Prefix || full2 == full || !keyFormat.MatchString(full2) || rotated.RotatedAt.IsZero() {
			t.Errorf("rotated = %+v, key %q", rotated, full2)
		}
		if _, err := e.st.VerifyAPIKey(ctx, full); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("old secret after rotation: error %v, want ErrInvalidCredentials", err)
		}
		if _, err := e.st.VerifyAPIKey(ctx, full2); err != nil {
			t.Errorf("new secret after rotation: %v", err)
		}

		// Revoke: refused at once here, with the key cached.
		if err := e.st.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatalf("RevokeAPIKey: %v", err)
		}
		if _, err := e.st.VerifyAPIKey(ctx, full2); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("revoked key: error %v, want ErrRevoked", err)
		}
		if err := e.st.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Errorf("second revoke: %v", err)
		}
		if err := e.st.RevokeAPIKey(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("revoke unknown: error %v, want ErrNotFound", err)
		}
		if _, _, err := e.st.RotateAPIKey(ctx, k.ID); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("rotate revoked: error %v, want ErrRevoked", err)
		}

		// Expiry.
		short, fullShort, _ := e.st.CreateAPIKey(ctx, auth.NewAPIKey{Name: "short", Scopes: []string{"topics.read"}, ExpiresAt: e.clock.Now().Add(time.Hour)})
		if _, err := e.st.VerifyAPIKey(ctx, fullShort); err != nil {
			t.Fatalf("VerifyAPIKey before expiry: %v", err)
		}
		e.clock.Advance(time.Hour)
		if _, err := e.st.VerifyAPIKey(ctx, fullShort); !errors.Is(err, auth.ErrExpired) {
			t.Errorf("expired (cached) key: error %v, want ErrExpired", err)
		}
		if _, err := e.st.VerifyAPIKey(ctx, fullShort); !errors.Is(err, auth.ErrExpired) {
			t.Errorf("expired key: error %v, want ErrExpired", err)
		}
		if _, _, err := e.st.RotateAPIKey(ctx, short.ID); !errors.Is(err, auth.ErrExpired) {
			t.Errorf("rotate expired: error %v, want ErrExpired", err)
		}

		keys, err := e.st.ListAPIKeys(ctx, "")
		if err != nil || len(keys) != 2 || keys[0].ID != short.ID || keys[1].RevokedAt.IsZero() {
			t.Errorf("ListAPIKeys = %+v, %v; want the expired then the revoked key", keys, err)
		}
	})
}

// Another process's cache keeps a revoked key at most for the cache TTL.
func TestAPIKeyRevokeAcrossProcesses(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		other := e.reopen(t)
		k, full, _ := e.st.CreateAPIKey(ctx, auth.NewAPIKey{Name: "k", Scopes: []string{"topics.read"}})
		if _, err := other.VerifyAPIKey(ctx, full); err != nil {
			t.Fatal(err)
		}
		if err := e.st.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := other.VerifyAPIKey(ctx, full); err != nil {
			t.Errorf("cached in the other process within the TTL: %v", err)
		}
		e.clock.Advance(10 * time.Second)
		if _, err := other.VerifyAPIKey(ctx, full); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("other process after the TTL: error %v, want ErrRevoked", err)
		}

		// Without a cache, revocation is seen at once.
		uncached := e.reopen(t, func(c *auth.Config) { c.APIKeyCacheTTL = -1 })
		k2, full2, _ := e.st.CreateAPIKey(ctx, auth.NewAPIKey{Name: "k2", Scopes: []string{"topics.read"}})
		if _, err := uncached.VerifyAPIKey(ctx, full2); err != nil {
			t.Fatal(err)
		}
		e.st.RevokeAPIKey(ctx, k2.ID)
		if _, err := uncached.VerifyAPIKey(ctx, full2); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("uncached after revoke: error %v, want ErrRevoked", err)
		}
	})
}

func TestAPIKeyLastUsed(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		k, full, _ := e.st.CreateAPIKey(ctx, auth.NewAPIKey{Name: "k", Scopes: []string{"topics.read"}})
		if !k.LastUsedAt.IsZero() {
			t.Errorf("new key last used %v, want never", k.LastUsedAt)
		}
		lastUsed := func() time.Time {
			k, err := e.st.APIKey(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			return k.LastUsedAt
		}
		start := e.clock.Now()
		for i := 0; i < 5; i++ {
			if _, err := e.st.VerifyAPIKey(ctx, full); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(10 * time.Second)
		}
		if got := lastUsed(); !got.Equal(start) {
			t.Errorf("last used after 5 uses in 50s: %v, want the first use %v", got, start)
		}
		e.clock.Advance(20 * time.Second) // 70s after the first use
		got, err := e.st.VerifyAPIKey(ctx, full)
		if err != nil {
			t.Fatal(err)
		}
		if stored := lastUsed(); !stored.Equal(e.clock.Now()) || !got.LastUsedAt.Equal(stored) {
			t.Errorf("last used after a minute: stored %v, returned %v; want %v", stored, got.LastUsedAt, e.clock.Now())
		}
	})
}

func TestAPIKeyValidation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		viewer := e.mustCreate(t, "vera", auth.RoleViewer)
		tests := []struct {
			name string
			in   auth.NewAPIKey
			want []string
		}{
			{"no name, no scopes", auth.NewAPIKey{}, []string{"name", "scopes"}},
			{"long name", auth.NewAPIKey{Name: strings.Repeat("n", 101), Scopes: []string{"topics.read"}}, []string{"name"}},
			{"unknown permission", auth.NewAPIKey{Name: "k", Scopes: []string{"topics.read", "topics.nuke"}}, []string{"scopes[1]"}},
			{"bad resource", auth.NewAPIKey{Name: "k", Scopes: []string{"relay.ingest:a/b"}}, []string{"scopes[0]"}},
			{"past expiry", auth.NewAPIKey{Name: "k", Scopes: []string{"topics.read"}, ExpiresAt: e.clock.Now()}, []string{"expires_at"}},
			{"unknown owner", auth.NewAPIKey{Name: "k", Scopes: []string{"topics.read"}, OwnerID: "nope"}, []string{"owner_id"}},
			{"beyond the owner", auth.NewAPIKey{Name: "k", OwnerID: viewer.ID, Scopes: []string{"topics.read", "records.produce"}}, []string{"scopes[1]"}},
			{"within the owner", auth.NewAPIKey{Name: "k", OwnerID: viewer.ID, Scopes: []string{"topics.read:orders"}}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := e.st.CreateAPIKey(ctx, tt.in)
				if tt.want == nil {
					if err != nil {
						t.Fatalf("CreateAPIKey: %v", err)
					}
					return
				}
				if got := fields(t, err); !slices.Equal(got, tt.want) {
					t.Errorf("fields %v, want %v (%v)", got, tt.want, err)
				}
			})
		}
	})
}

// An owned key never grants more than its owner may do now.
func TestAPIKeyFollowsOwner(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		e.mustCreate(t, "boss", auth.RoleAdmin)
		op := e.mustCreate(t, "olga", auth.RoleOperator)
		k, full, err := e.st.CreateAPIKey(ctx, auth.NewAPIKey{Name: "cli", OwnerID: op.ID, Scopes: []string{"topics.read", "records.produce"}})
		if err != nil {
			t.Fatal(err)
		}
		if keys, _ := e.st.ListAPIKeys(ctx, op.ID); len(keys) != 1 || keys[0].ID != k.ID {
			t.Errorf("ListAPIKeys(owner) = %+v, want the one key", keys)
		}
		if got, _ := e.st.VerifyAPIKey(ctx, full); !got.Allows(auth.PermRecordsProduce, "") {
			t.Errorf("operator's key does not allow produce: %+v", got)
		}
		if _, err := e.st.SetRoles(ctx, op.ID, auth.RoleViewer); err != nil {
			t.Fatal(err)
		}
		got, err := e.st.VerifyAPIKey(ctx, full)
		if err != nil {
			t.Fatal(err)
		}
		if got.Allows(auth.PermRecordsProduce, "") || !got.Allows(auth.PermTopicsRead, "") {
			t.Errorf("after demotion to viewer: scopes %v, want only topics.read", got.Scopes)
		}
		if _, err := e.st.Disable(ctx, op.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.VerifyAPIKey(ctx, full); !errors.Is(err, auth.ErrDisabled) {
			t.Errorf("disabled owner: error %v, want ErrDisabled", err)
		}
		if _, err := e.st.Enable(ctx, op.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.VerifyAPIKey(ctx, full); err != nil {
			t.Errorf("owner enabled again: %v", err)
		}
	})
}

// The cache serves concurrent verifications without a race (run with
// -race) and hands out copies.
func TestAPIKeyConcurrentVerify(t *testing.T) {
	storetest.Run(t, func(t *testing.T, base store.Config) {
		ctx := context.Background()
		e := newEnv(t, base)
		_, full, _ := e.st.CreateAPIKey(ctx, auth.NewAPIKey{Name: "k", Scopes: []string{"topics.read", "records.read"}})
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 200; j++ {
					k, err := e.st.VerifyAPIKey(ctx, full)
					if err != nil {
						t.Error(err)
						return
					}
					k.Scopes[0] = "scribbled"
				}
			}()
		}
		wg.Wait()
		if k, _ := e.st.VerifyAPIKey(ctx, full); k.Scopes[0] != "topics.read" {
			t.Errorf("a caller's change reached the cache: scopes %v", k.Scopes)
		}
	})
}

// BenchmarkVerifyAPIKey measures verification of a recently seen key, the
// ingest hot path.
func BenchmarkVerifyAPIKey(b *testing.B) {
	e := newEnv(b, store.Config{Dir: b.TempDir()}, func(c *auth.Config) { c.Now = time.Now })
	ctx := context.Background()
	_, full, err := e.st.CreateAPIKey(ctx, auth.NewAPIKey{Name: "bench", Scopes: []string{"relay.ingest:cars"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k, err := e.st.VerifyAPIKey(ctx, full)
				if err != nil || !k.Allows(auth.PermRelayIngest, "cars") {
					b.Fatalf("VerifyAPIKey: %v", err)
				}
			}
		})
	})
	uncached := e.reopen(b, func(c *auth.Config) { c.APIKeyCacheTTL = -1; c.Now = time.Now })
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			if _, err := uncached.VerifyAPIKey(ctx, full); err != nil {
				b.Fatal(err)
			}
		}
	})
}
