package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/arus-platform/arus/internal/auth"
)

// Authenticator identifies who makes a request. *auth.Store implements it.
type Authenticator interface {
	RequestPrincipal(r *http.Request) (*auth.Principal, error)
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

// authorize checks that the request's principal may do every one of perms
// on the request's topics (if any), and returns the request carrying the principal.
// With no Authenticator configured every request is allowed.
func (s *Server) authorize(r *http.Request, perms ...auth.Permission) (*http.Request, error) {
	if s.cfg.Auth == nil || len(perms) == 0 {
		return r, nil
	}
	p, err := s.cfg.Auth.RequestPrincipal(r)
	if err != nil {
		return nil, unauthorized(err)
	}
	// Known from here on, even when refused: the audit log says who tried.
	ctx := auth.WithPrincipal(r.Context(), p)
	if p.Session != nil && !safeMethod(r.Method) && !p.Session.CheckCSRF(r.Header.Get(CSRFHeader)) {
		return nil, &Problem{Type: TypeForbidden, Title: "Forbidden", Status: http.StatusForbidden,
			Detail: "a request signed in by session cookie must carry the session's CSRF token in the " + CSRFHeader + " header"}
	}
	for _, perm := range perms {
		for _, resource := range resources(r) {
			if err := denied(p, perm, resource); err != nil {
				return nil, err
			}
		}
	}
	return r.WithContext(ctx), nil
}

// resources are the topics a request acts on: the path's, or those named in
// the query (consume), or none.
func resources(r *http.Request) []string {
	if t := r.PathValue("topic"); t != "" {
		return []string{t}
	}
	var topics []string
	for _, v := range r.URL.Query()["topic"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				topics = append(topics, t)
			}
		}
	}
	if len(topics) > 0 {
		return topics
	}
	return []string{""}
}

func denied(p *auth.Principal, perm auth.Permission, resource string) error {
	if !p.Can(perm, resource) {
		who := "your roles do not"
		if p.Key != nil {
			who = "API key " + p.Key.Prefix + " does not"
		}
		what := string(perm)
		if resource != "" {
			what += " on topic " + resource
		}
		return &Problem{Type: TypeForbidden, Title: "Forbidden", Status: http.StatusForbidden,
			Detail: fmt.Sprintf("%s allow %s", who, what)}
	}
	return nil
}

func unauthorized(err error) *Problem {
	detail := "no credentials: send an API key as Authorization: Bearer <key>, or sign in to the console"
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
	case errors.Is(err, auth.ErrExpired):
		detail = "the API key or session has expired"
	case errors.Is(err, auth.ErrRevoked):
		detail = "the API key has been revoked"
	case errors.Is(err, auth.ErrDisabled):
		detail = "the user is disabled"
	case errors.Is(err, auth.ErrInvalidCredentials):
		detail = "the API key or session is not valid"
	default:
		return &Problem{Type: TypeInternal, Title: "Internal server error", Status: http.StatusInternalServerError,
			Detail: "credentials could not be checked; the error is in the server's log", cause: err}
	}
	return &Problem{Type: TypeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: detail,
		header: http.Header{"Www-Authenticate": {`Bearer realm="arus"`}}}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
