package gate

import (
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// PassKind says who a signed pass admits.
type PassKind byte

// Pass kinds.
const (
	// KindTicket is a ticket bought by an order.
	KindTicket PassKind = 1
	// KindStaff is an event staff member's pass, valid in their work window.
	KindStaff PassKind = 2
)

// qrVersion is the first byte of every payload this package writes.
const qrVersion = 1

// qrDomain is prepended to the signed bytes, so a signature over a pass
// cannot be taken for a signature over anything else.
const qrDomain = "arus.gate.pass.v1\x00"

// MaxIDLength is the longest event, pass or area id a pass carries, in bytes.
const MaxIDLength = 64

// Pass is what a signed QR code says: who (a ticket or staff pass id) may
// enter which area of which event, between NotBefore and NotAfter, signed
// by the event's key KeyID.
type Pass struct {
	Kind    PassKind
	KeyID   uint16
	EventID string
	PassID  string
	AreaID  string
	// NotBefore and NotAfter bound the pass's validity, to the second. A
	// zero NotAfter leaves it open-ended.
	NotBefore time.Time
	NotAfter  time.Time
}

// Errors of [ParsePass] and [Verify]. Every one of them means the payload
// is not a pass of the event: a device answers "invalid".
var (
	ErrMalformed    = errors.New("gate: malformed pass")
	ErrBadSignature = errors.New("gate: pass signature does not verify")
	ErrUnknownKey   = errors.New("gate: pass signed by an unknown key")
	ErrWrongEvent   = errors.New("gate: pass is for another event")
)

// Within reports whether t falls in the pass's validity window.
func (p Pass) Within(t time.Time) bool {
	if t.Before(p.NotBefore) {
		return false
	}
	return p.NotAfter.IsZero() || !t.After(p.NotAfter)
}

func (p Pass) body() ([]byte, error) {
	if p.Kind != KindTicket && p.Kind != KindStaff {
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, p.Kind)
	}
	b := make([]byte, 0, 4+3*(1+MaxIDLength)+16)
	b = append(b, qrVersion, byte(p.Kind))
	b = binary.BigEndian.AppendUint16(b, p.KeyID)
	for _, f := range []struct{ name, v string }{{"event id", p.EventID}, {"pass id", p.PassID}, {"area id", p.AreaID}} {
		if f.v == "" || len(f.v) > MaxIDLength {
			return nil, fmt.Errorf("%w: %s must be 1 to %d bytes", ErrMalformed, f.name, MaxIDLength)
		}
		b = append(b, byte(len(f.v)))
		b = append(b, f.v...)
	}
	var nb, na int64
	if !p.NotBefore.IsZero() {
		nb = p.NotBefore.Unix()
	}
	if !p.NotAfter.IsZero() {
		na = p.NotAfter.Unix()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(nb))
	b = binary.BigEndian.AppendUint64(b, uint64(na))
	return b, nil
}

func signed(body []byte) []byte {
	return append([]byte(qrDomain), body...)
}

// Sign returns the pass's QR payload: the pass in a compact binary form
// followed by an Ed25519 signature of it, in unpadded base64url. key must
// be the private key whose id is p.KeyID.
func Sign(p Pass, key ed25519.PrivateKey) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", errors.New("gate: sign pass: not an Ed25519 private key")
	}
	body, err := p.body()
	if err != nil {
		return "", err
	}
	sig := ed25519.Sign(key, signed(body))
	return base64.RawURLEncoding.EncodeToString(append(body, sig...)), nil
}

// ParsePass decodes a payload without checking its signature; it returns
// the pass, the signed body and the signature. Use [Verify] to trust it.
func ParsePass(payload string) (Pass, []byte, []byte, error) {
	if len(payload) > 1024 {
		return Pass{}, nil, nil, fmt.Errorf("%w: longer than 1024 characters", ErrMalformed)
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Pass{}, nil, nil, fmt.Errorf("%w: not unpadded base64url", ErrMalformed)
	}
	if len(raw) < 4+ed25519.SignatureSize {
		return Pass{}, nil, nil, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	body, sig := raw[:len(raw)-ed25519.SignatureSize], raw[len(raw)-ed25519.SignatureSize:]
	if body[0] != qrVersion {
		return Pass{}, nil, nil, fmt.Errorf("%w: version %d", ErrMalformed, body[0])
	}
	p := Pass{Kind: PassKind(body[1]), KeyID: binary.BigEndian.Uint16(body[2:4])}
	if p.Kind != KindTicket && p.Kind != KindStaff {
		return Pass{}, nil, nil, fmt.Errorf("%w: kind %d", ErrMalformed, body[1])
	}
	rest := body[4:]
	var ids [3]string
	for i := range ids {
		if len(rest) < 1 || int(rest[0]) == 0 || int(rest[0]) > MaxIDLength || len(rest) < 1+int(rest[0]) {
			return Pass{}, nil, nil, fmt.Errorf("%w: truncated", ErrMalformed)
		}
		ids[i] = string(rest[1 : 1+int(rest[0])])
		rest = rest[1+int(rest[0]):]
	}
	if len(rest) != 16 {
		return Pass{}, nil, nil, fmt.Errorf("%w: truncated or trailing bytes", ErrMalformed)
	}
	p.EventID, p.PassID, p.AreaID = ids[0], ids[1], ids[2]
	if nb := int64(binary.BigEndian.Uint64(rest[:8])); nb != 0 {
		p.NotBefore = time.Unix(nb, 0).UTC()
	}
	if na := int64(binary.BigEndian.Uint64(rest[8:])); na != 0 {
		p.NotAfter = time.Unix(na, 0).UTC()
	}
	return p, body, sig, nil
}

// Verify checks a payload against an event's public keys alone (key id →
// key, retired keys left out) and returns its pass. It does not check the
// validity window (see [Pass.Within]) nor whether the pass was revoked or
// already used: those need the access list.
func Verify(payload, eventID string, keys map[uint16]ed25519.PublicKey) (Pass, error) {
	p, body, sig, err := ParsePass(payload)
	if err != nil {
		return Pass{}, err
	}
	if p.EventID != eventID {
		return Pass{}, ErrWrongEvent
	}
	pub, ok := keys[p.KeyID]
	if !ok || len(pub) != ed25519.PublicKeySize {
		return Pass{}, fmt.Errorf("%w: key %d", ErrUnknownKey, p.KeyID)
	}
	if !ed25519.Verify(pub, signed(body), sig) {
		return Pass{}, ErrBadSignature
	}
	return p, nil
}

// verifyHeld answers as [Verify] does, faster for the passes signed with a
// key whose private half is in priv. Ed25519 signing is deterministic: a
// pass signed by [Sign] carries exactly the signature that signing its body
// again gives, and signing costs about half of verifying. A payload whose
// signature differs (or whose key is not in priv) is left to [Verify], so
// the answer is Verify's in every case.
func verifyHeld(payload, eventID string, pub map[uint16]ed25519.PublicKey, priv map[uint16]ed25519.PrivateKey) (Pass, error) {
	p, body, sig, err := ParsePass(payload)
	if err == nil && p.EventID == eventID {
		if key, ok := priv[p.KeyID]; ok && len(key) == ed25519.PrivateKeySize {
			if subtle.ConstantTimeCompare(ed25519.Sign(key, signed(body)), sig) == 1 {
				return p, nil
			}
		}
	}
	return Verify(payload, eventID, pub)
}
