package api

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/arus-platform/arus/internal/auth"
)

// Authenticator identifies who makes a request. *auth.Store implements it.
type Authenticator interface {
	RequestPrincipal(r *http.Request) (*auth.Principal, error)
}

// sessionEnder is what an Authenticator offers when the sessions it
// authenticates can end while a response is still streaming (*auth.Store).
type sessionEnder interface {
	SessionContext(ctx context.Context, sess auth.Session) (context.Context, context.CancelFunc)
}

// sessionContext is the context of a long-lived response: it ends with the
// request and, for a request authenticated by a console session, with that
// session (sign-out, a password change, the user disabled), so a stream
// opened before sign-out does not outlive it.
func (s *Server) sessionContext(r *http.Request) (context.Context, context.CancelFunc) {
	p := auth.FromContext(r.Context())
	if se, ok := s.cfg.Auth.(sessionEnder); ok && p != nil && p.Session != nil {
		return se.SessionContext(r.Context(), *p.Session)
	}
	return context.WithCancel(r.Context())
}

// Problem types of authentication and authorisation.
const (
	TypeUnauthorized = "urn:arus:problem:unauthorized"
	TypeForbidden    = "urn:arus:problem:forbidden"
)

// CSRFHeader carries the session's CSRF token on requests that change
// something and are authenticated by the console's session cookie. Requests
// authenticated by an API key need none: a browser never sends a key by
// itself.
const CSRFHeader = "X-CSRF-Token"

// need is one permission a route requires and where the resource it is
// checked on comes from.
type need struct {
	perm auth.Permission
	// of names the resources the request acts on; nil means the route's
	// own path (pathResource).
	of func(r *http.Request) (kind string, names []string)
}

// needs are perms checked on the route's own path.
func needs(perms ...auth.Permission) []need {
	out := make([]need, len(perms))
	for i, p := range perms {
		out[i] = need{perm: p}
	}
	return out
}

// authorize checks that the request's principal holds every need, each on
// every resource it names, and returns the request carrying the principal.
// With no Authenticator configured every request is allowed.
//
// The resource of a check is what the request acts on, taken from where the
// route itself names it: the route pattern's first path wildcard, or, for
// the few routes that say so, the body field naming the object created or
// the topics a consumer reads. The query string never chooses it, so a
// scope narrowed to one resource cannot be stretched to another by adding
// ?topic=… to a request.
func (s *Server) authorize(r *http.Request, ns ...need) (*http.Request, error) {
	if s.cfg.Auth == nil || len(ns) == 0 {
		return r, nil
	}
	p, err := s.cfg.Auth.RequestPrincipal(r)
	if err != nil {
		return nil, unauthorized(err)
	}
	// Known from here on, even when refused: the audit log says who tried.
	ctx := auth.WithPrincipal(r.Context(), p)
	r = r.WithContext(ctx)
	if p.Session != nil && !safeMethod(r.Method) && !p.Session.CheckCSRF(r.Header.Get(CSRFHeader)) {
		return nil, Coded(&Problem{Type: TypeForbidden, Title: "Forbidden", Status: http.StatusForbidden,
			Detail: "a request signed in by session cookie must carry the session's CSRF token in the " + CSRFHeader + " header"},
			"csrf_token_required")
	}
	for _, n := range ns {
		of := n.of
		if of == nil {
			of = pathResource
		}
		kind, names := of(r)
		if len(names) == 0 {
			names = []string{""}
		}
		for _, name := range names {
			if err := denied(p, n.perm, kind, name); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// pathResource is the resource a route names in its path: the value of the
// first wildcard of the pattern the request matched (the {topic} of
// /api/v1/topics/{topic}/records, the {dlq} of /api/v1/dlq/{dlq}/replay),
// with the wildcard's name as its kind. A route without one (listing, or
// creating from a body) names no resource: only a bare scope grants it.
func pathResource(r *http.Request) (kind string, names []string) {
	rest := r.Pattern
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return "", nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", nil
		}
		name := strings.TrimSuffix(rest[i+1:i+j], "...")
		rest = rest[i+j+1:]
		if name != "$" {
			return name, []string{r.PathValue(name)}
		}
	}
}

// bodyResource names the object a request body creates: it decodes the
// body exactly as the handler will (same decoder, same type, so duplicate
// or differently spelt fields resolve the same way) and returns name(v).
// The body is put back for the handler. A body that does not decode, or is
// over the limit, names no resource; the handler then answers its error to
// whoever holds a bare scope.
func bodyResource[T any](limit int64, kind string, name func(*T) string) func(*http.Request) (string, []string) {
	return func(r *http.Request) (string, []string) {
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if err != nil || int64(len(body)) > limit {
			return kind, nil
		}
		var v T
		if decodeBytes(body, &v) != nil {
			return kind, nil
		}
		return kind, []string{name(&v)}
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

func denied(p *auth.Principal, perm auth.Permission, kind, resource string) error {
	if !p.Can(perm, resource) {
		who := "your roles do not"
		if p.Key != nil {
			who = "API key " + p.Key.Prefix + " does not"
		}
		what := string(perm)
		code, args := "permission_denied", []any{string(perm)}
		switch {
		case resource != "":
			what += " on " + kind + " " + resource
			code, args = "permission_denied_on", append(args, kind, resource)
		case p.Key != nil && narrowed(p.Key.Scopes, perm):
			what += " on every " + cmp.Or(kind, "resource") + " (a scope limited to one resource does not grant this route)"
			code, args = "scope_narrowed", append(args, cmp.Or(kind, "resource"))
		}
		return Coded(&Problem{Type: TypeForbidden, Title: "Forbidden", Status: http.StatusForbidden,
			Detail: fmt.Sprintf("%s allow %s", who, what)}, code, args...)
	}
	return nil
}

// narrowed reports whether scopes hold perm limited to some resource.
func narrowed(scopes []string, perm auth.Permission) bool {
	for _, sc := range scopes {
		if strings.HasPrefix(sc, string(perm)+":") {
			return true
		}
	}
	return false
}

func unauthorized(err error) *Problem {
	code, detail := "credentials_missing", "no credentials: send an API key as Authorization: Bearer <key>, or sign in to the console"
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
	case errors.Is(err, auth.ErrExpired):
		code, detail = "credentials_expired", "the API key or session has expired"
	case errors.Is(err, auth.ErrRevoked):
		code, detail = "key_revoked", "the API key has been revoked"
	case errors.Is(err, auth.ErrDisabled):
		code, detail = "user_disabled", "the user is disabled"
	case errors.Is(err, auth.ErrPasswordChangeRequired):
		code, detail = "password_change_required", "the session's user must change their password first, in the console or with POST /api/v1/account/password"
	case errors.Is(err, auth.ErrInvalidCredentials):
		code, detail = "credentials_invalid", "the API key or session is not valid"
	default:
		return &Problem{Type: TypeInternal, Title: "Internal server error", Status: http.StatusInternalServerError,
			Detail: "credentials could not be checked; the error is in the server's log", Code: "internal_error", cause: err}
	}
	return &Problem{Type: TypeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: detail, Code: code,
		header: http.Header{"Www-Authenticate": {`Bearer realm="arus"`}}}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
