package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/invalid"
)

// typeThrottled is the problem type of a request refused after repeated
// failed sign-ins.
const typeThrottled = "urn:arus:problem:throttled"

// passwordChange is the body of POST /api/v1/account/password.
type passwordChange struct {
	Username        string `json:"username"`
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// registerAccount adds the route through which a user changes their own
// password without the console:
//
//	POST /api/v1/account/password  {"username", "current_password", "new_password"}
//
// It needs no other credentials: the current password is the credential,
// checked and throttled as a sign-in is. It answers 204 and ends every
// session of the user. A generated password (the first admin's, or one
// an admin reset) can be changed this way too.
func (s *Server) registerAccount(mux *http.ServeMux) {
	s.streams.Route(mux, "POST /api/v1/account/password", nil, func(w http.ResponseWriter, r *http.Request) error {
		var body passwordChange
		if err := s.streams.Decode(w, r, 64<<10, &body); err != nil {
			return err
		}
		var missing []invalid.Field
		for _, f := range []struct{ name, value string }{
			{"username", body.Username}, {"current_password", body.CurrentPassword}, {"new_password", body.NewPassword},
		} {
			if f.value == "" {
				missing = append(missing, invalid.Field{Name: f.name, Message: "is required"})
			}
		}
		if len(missing) > 0 {
			return api.Coded(api.Invalid(missing[0].Name+": is required", missing...), "body_invalid", missing[0].Name)
		}
		ip := s.auth.ClientIP(r)
		u, err := s.auth.ChangePassword(r.Context(), body.Username, body.CurrentPassword, body.NewPassword, ip)
		var te *auth.ThrottledError
		var ve *invalid.Fields
		switch {
		case err == nil:
		case errors.As(err, &ve):
			errs := ve.List
			return api.Coded(api.Invalid(errs[0].Name+": "+errs[0].Message, errs...), "body_invalid", errs[0].Name)
		case errors.As(err, &te):
			w.Header().Set("Retry-After", fmt.Sprint(int(te.RetryAfter/time.Second)))
			return api.Coded(&api.Problem{Type: typeThrottled, Title: "Too many failed attempts", Status: http.StatusTooManyRequests,
				Detail: fmt.Sprintf("too many wrong passwords for this account from this address; retry in %s", te.RetryAfter)},
				"too_many_attempts", te.RetryAfter.String())
		case errors.Is(err, auth.ErrInvalidCredentials), errors.Is(err, auth.ErrDisabled):
			// A disabled user is answered alike, as at sign-in: the answer
			// must not tell that the password was right.
			return api.Coded(&api.Problem{Type: api.TypeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized,
				Detail: "username or current_password is wrong"}, "credentials_invalid")
		default:
			return err
		}
		// The change is the user's own: the audit log names them.
		auth.WithPrincipal(r.Context(), &auth.Principal{User: u})
		s.log.InfoContext(r.Context(), "auth: password changed", "user", u.Username, "ip", ip)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
