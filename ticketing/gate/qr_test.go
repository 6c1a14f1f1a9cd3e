package gate

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

func testKey(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	return ed25519.NewKeyFromSeed(s)
}

func TestPassRoundTrip(t *testing.T) {
	key := testKey(t, 1)
	p := Pass{Kind: KindTicket, KeyID: 7, EventID: "ev1", PassID: "tk-0001", AreaID: "vip",
		NotBefore: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), NotAfter: time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)}
	payload, err := Sign(p, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(payload, "ev1", map[uint16]ed25519.PublicKey{7: key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got != p {
		t.Errorf("got %+v, want %+v", got, p)
	}
	for name, held := range map[string]map[uint16]ed25519.PrivateKey{"held": {7: key}, "not held": nil} {
		got, err = verifyHeld(payload, "ev1", map[uint16]ed25519.PublicKey{7: key.Public().(ed25519.PublicKey)}, held)
		if err != nil || got != p {
			t.Errorf("verifyHeld, key %s: %+v %v, want %+v", name, got, err, p)
		}
	}
	if len(payload) > 200 {
		t.Errorf("payload is %d characters; a QR code of it would be large", len(payload))
	}
}

func TestVerifyRefuses(t *testing.T) {
	key, other := testKey(t, 1), testKey(t, 2)
	keys := map[uint16]ed25519.PublicKey{1: key.Public().(ed25519.PublicKey)}
	p := Pass{Kind: KindTicket, KeyID: 1, EventID: "ev1", PassID: "t1", AreaID: "a"}
	good, err := Sign(p, key)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x40
		return base64.RawURLEncoding.EncodeToString(b)
	}
	sign := func(p Pass, k ed25519.PrivateKey) string {
		s, err := Sign(p, k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	forgedArea := p
	forgedArea.AreaID = "b"
	forgedBody, _ := forgedArea.body()
	forged := base64.RawURLEncoding.EncodeToString(append(forgedBody, raw[len(raw)-64:]...))
	otherEvent := p
	otherEvent.EventID = "ev2"
	unknownKey := p
	unknownKey.KeyID = 9
	for _, tc := range []struct {
		name, payload string
		want          error
	}{
		{"signed by another key under a known id", sign(p, other), ErrBadSignature},
		{"area changed, signature kept", forged, ErrBadSignature},
		{"a bit of the signature flipped", flip(len(raw) - 1), ErrBadSignature},
		{"a bit of the pass id flipped", flip(9), ErrBadSignature},
		{"truncated by one byte", base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]), ErrMalformed},
		{"truncated to the signature", base64.RawURLEncoding.EncodeToString(raw[len(raw)-64:]), ErrMalformed},
		{"trailing byte", base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), raw...), 0)), ErrMalformed},
		{"another event", sign(otherEvent, key), ErrWrongEvent},
		{"unknown key id", sign(unknownKey, key), ErrUnknownKey},
		{"version 2", flip(0), ErrMalformed},
		{"not base64url", good[:10] + "+/" + good[12:], ErrMalformed},
		{"padded", good + "=", ErrMalformed},
		{"empty", "", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.payload, "ev1", keys)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			// The server's check, by signing again, refuses alike.
			_, err = verifyHeld(tc.payload, "ev1", keys, map[uint16]ed25519.PrivateKey{1: key})
			if !errors.Is(err, tc.want) {
				t.Errorf("verifyHeld: got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPassWindow(t *testing.T) {
	from := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	p := Pass{NotBefore: from, NotAfter: from.Add(time.Hour)}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{from.Add(-time.Second), false}, {from, true}, {from.Add(time.Hour), true}, {from.Add(time.Hour + time.Second), false},
	} {
		if got := p.Within(tc.at); got != tc.want {
			t.Errorf("Within(%s) = %v, want %v", tc.at, got, tc.want)
		}
	}
	if !(Pass{NotBefore: from}).Within(from.AddDate(5, 0, 0)) {
		t.Error("an open-ended pass expired")
	}
}

func TestSignRefusesBadPasses(t *testing.T) {
	key := testKey(t, 1)
	long := make([]byte, MaxIDLength+1)
	for i := range long {
		long[i] = 'x'
	}
	for _, p := range []Pass{
		{Kind: 3, EventID: "e", PassID: "p", AreaID: "a"},
		{Kind: KindTicket, PassID: "p", AreaID: "a"},
		{Kind: KindTicket, EventID: "e", PassID: string(long), AreaID: "a"},
	} {
		if _, err := Sign(p, key); !errors.Is(err, ErrMalformed) {
			t.Errorf("Sign(%+v): %v, want ErrMalformed", p, err)
		}
	}
}

// FuzzVerify feeds arbitrary payloads to the parser and verifier: they never
// panic, and whatever verifies re-signs to the same payload.
func FuzzVerify(f *testing.F) {
	key := testKey(f, 1)
	keys := map[uint16]ed25519.PublicKey{1: key.Public().(ed25519.PublicKey)}
	good, err := Sign(Pass{Kind: KindStaff, KeyID: 1, EventID: "ev1", PassID: "s1", AreaID: "backstage", NotBefore: time.Unix(1, 0)}, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add("")
	f.Add("AQEAAQNldjE")
	f.Fuzz(func(t *testing.T, payload string) {
		p, err := Verify(payload, "ev1", keys)
		if _, _, _, perr := ParsePass(payload); perr != nil && err == nil {
			t.Fatalf("verified a payload that does not parse: %v", perr)
		}
		if err != nil {
			return
		}
		again, err := Sign(p, key)
		if err != nil {
			t.Fatalf("re-sign %+v: %v", p, err)
		}
		if again != payload {
			t.Fatalf("verified %q, but the pass signs to %q", payload, again)
		}
	})
}
