package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/arus-platform/arus/invalid"
)

func newHashStore(t *testing.T, p Argon2Params) *Store {
	t.Helper()
	cfg := Config{Argon2: p}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return &Store{cfg: cfg, hashSlots: make(chan struct{}, 1)}
}

// The production parameters hash in the PHC format and verify.
func TestArgon2DefaultParameters(t *testing.T) {
	ctx := context.Background()
	s := newHashStore(t, Argon2Params{})
	hash, err := s.hashPassword(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q: want the PHC prefix $argon2id$v=19$m=19456,t=2,p=1$", hash)
	}
	h, err := parsePHC(hash)
	if err != nil {
		t.Fatalf("parsePHC: %v", err)
	}
	if len(h.salt) != 16 || len(h.key) != 32 {
		t.Errorf("salt %d bytes, key %d bytes; want 16 and 32", len(h.salt), len(h.key))
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		ok, stale, err := s.verifyPassword(ctx, hash, tt.pw)
		if err != nil || ok != tt.want || stale {
			t.Errorf("verify(%q) = %v, stale %v, %v; want %v, not stale", tt.pw, ok, stale, err, tt.want)
		}
	}
	again, _ := s.hashPassword(ctx, "correct horse battery staple")
	if again == hash {
		t.Error("two hashes of one password are equal; want different salts")
	}
}

func TestVerifyReportsStaleParameters(t *testing.T) {
	ctx := context.Background()
	old := newHashStore(t, Argon2Params{Memory: 64, Time: 1, Threads: 1})
	hash, _ := old.hashPassword(ctx, "pw")
	cur := newHashStore(t, Argon2Params{Memory: 128, Time: 1, Threads: 1})
	ok, stale, err := cur.verifyPassword(ctx, hash, "pw")
	if !ok || !stale || err != nil {
		t.Errorf("verify with changed parameters = %v, stale %v, %v; want true, true, nil", ok, stale, err)
	}
}

func TestParsePHC(t *testing.T) {
	const good = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	if _, err := parsePHC(good); err != nil {
		t.Fatalf("parsePHC(good): %v", err)
	}
	bad := []string{
		"",
		"plain text",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1,p=1,x=2", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=99999999,t=1,p=1", 1), // 95 GiB
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=0,p=1", 1),
		strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1,p=0", 1),
		strings.Replace(good, "c2FsdHNhbHRzYWx0c2FsdA", "c2Fsd", 1),  // bad base64
		strings.Replace(good, "c2FsdHNhbHRzYWx0c2FsdA", "c2FsdA", 1), // salt too short
		good + "$extra",
	}
	for _, s := range bad {
		if _, err := parsePHC(s); err == nil {
			t.Errorf("parsePHC(%q) succeeded, want an error", s)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	s := newHashStore(t, Argon2Params{Memory: 64, Time: 1, Threads: 1})
	tests := []struct {
		pw, username string
		ok           bool
	}{
		{"twelve chars", "rina", true},
		{"eleven char", "rina", false},
		{"ñandú ñandú ñ", "rina", true}, // 13 characters, more bytes
		{strings.Repeat("x", 256), "rina", true},
		{strings.Repeat("x", 257), "rina", false},
		{"Rina.Sari.01", "rina.sari.01", false},
		{"bad utf8 \xff\xfe\xfd", "rina", false},
	}
	for _, tt := range tests {
		ve := invalid.Fields{Kind: ErrInvalid}
		s.checkPassword(&ve, "password", tt.pw, tt.username)
		if got := ve.Err() == nil; got != tt.ok {
			t.Errorf("checkPassword(%q) ok = %v, want %v (%v)", tt.pw, got, tt.ok, ve.List)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	for _, minLen := range []int{12, 30} {
		s := newHashStore(t, Argon2Params{Memory: 64, Time: 1, Threads: 1})
		s.cfg.MinPasswordLength = minLen
		a, b := s.generatePassword(), s.generatePassword()
		if len(a) < minLen || a == b {
			t.Errorf("min %d: generated %q and %q; want distinct, at least %d long", minLen, a, b, minLen)
		}
		ve := invalid.Fields{Kind: ErrInvalid}
		s.checkPassword(&ve, "password", a, "admin")
		if ve.Err() != nil {
			t.Errorf("generated password breaks the rules: %v", ve.Err())
		}
	}
}
