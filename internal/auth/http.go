package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
)

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "arus_session"

// Principal is who made a request: a user with a browser session, or an API
// key (with the user who owns it, if any).
type Principal struct {
	User    User
	Session *Session
	Key     *APIKey
}

// Can reports whether the principal may do p on resource. A session is
// allowed what its user's roles allow; an API key what its scopes allow.
func (p *Principal) Can(perm Permission, resource string) bool {
	if p == nil {
		return false
	}
	if p.Key != nil {
		return p.Key.Allows(perm, resource)
	}
	return p.User.Can(perm)
}

// Name names the principal in logs and audit records.
func (p *Principal) Name() string {
	switch {
	case p == nil:
		return ""
	case p.Key != nil:
		return "key:" + p.Key.Prefix
	default:
		return p.User.Username
	}
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p. When ctx comes from Track, p is
// also recorded there.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	if slot, ok := ctx.Value(slotKey{}).(*principalSlot); ok {
		slot.set(p)
	}
	return context.WithValue(ctx, principalKey{}, p)
}

type slotKey struct{}

type principalSlot struct {
	mu sync.Mutex
	p  *Principal
}

func (s *principalSlot) set(p *Principal) {
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
}

// Track returns a context in which a principal established further down
// (by WithPrincipal) is recorded, and a function that returns it, or nil.
// Middleware that runs before authentication uses it to learn who made the
// request once it has been served (the audit log).
func Track(ctx context.Context) (context.Context, func() *Principal) {
	slot := &principalSlot{}
	return context.WithValue(ctx, slotKey{}, slot), func() *Principal {
		slot.mu.Lock()
		defer slot.mu.Unlock()
		return slot.p
	}
}

// FromContext returns the request's principal, or nil for an anonymous one.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// ErrNoCredentials is returned by RequestPrincipal for a request that
// carries none.
var ErrNoCredentials = errors.New("auth: no credentials")

// RequestPrincipal authenticates a request by its API key
// ("Authorization: Bearer <key>" or "X-API-Key: <key>") or, failing that, its
// session cookie. It returns ErrNoCredentials when the request has neither,
// ErrInvalidCredentials, ErrExpired or ErrRevoked for bad ones, and
// ErrPasswordChangeRequired for the session of a user who must change a
// generated password first.
func (s *Store) RequestPrincipal(r *http.Request) (*Principal, error) {
	if key := presentedKey(r); key != "" {
		k, err := s.VerifyAPIKey(r.Context(), key)
		if err != nil {
			return nil, err
		}
		return &Principal{Key: &k}, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, ErrNoCredentials
	}
	sess, user, err := s.Session(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	if user.MustChangePassword {
		// API keys are not held up; the session is, as in the console.
		return nil, ErrPasswordChangeRequired
	}
	return &Principal{User: user, Session: &sess}, nil
}

func presentedKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, token, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// ClientIP returns the address a request comes from, for login throttling
// and session records. It is the connection's peer address, unless the
// peer is one of Config.TrustedProxies: then X-Forwarded-For is read from
// the right, skipping the trusted proxies, and the first address that is
// not one is the client. A forwarded header from any other peer is
// ignored, since anyone can send one.
func (s *Store) ClientIP(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !s.trusted(addr) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop := strings.TrimSpace(parts[j])
			a, err := netip.ParseAddr(hop)
			if err != nil {
				// Not an address: what lies beyond cannot be trusted;
				// the last hop known good is the client.
				return addr.String()
			}
			addr = a.Unmap()
			if !s.trusted(addr) {
				return addr.String()
			}
		}
	}
	return addr.String()
}

func (s *Store) trusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
