package kafkawire

import (
	"bytes"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/internal/auth"
)

// mechanismPlain is the one SASL mechanism served: the password is an Arus
// API key.
const mechanismPlain = "PLAIN"

// can reports whether the connection may do perm on resource (a topic or
// group name): always without authentication configured, otherwise when
// the API key it authenticated with has a scope for it, bare or qualified
// by exactly that name.
func (c *conn) can(perm auth.Permission, resource string) bool {
	if c.l.cfg.Auth == nil {
		return true
	}
	return c.key != nil && c.key.Allows(perm, resource)
}

func (c *conn) saslHandshake(r *kmsg.SASLHandshakeRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = []string{mechanismPlain}
	switch {
	case c.l.cfg.Auth == nil:
		resp.ErrorCode = kerr.IllegalSaslState.Code
	case r.Mechanism != mechanismPlain:
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
	default:
		c.mechOK = true
	}
	return resp
}

func (c *conn) saslAuthenticate(r *kmsg.SASLAuthenticateRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	fail := func(code int16, msg string) kmsg.Response {
		resp.ErrorCode, resp.ErrorMessage = code, &msg
		return resp
	}
	if c.l.cfg.Auth == nil || !c.mechOK || c.authed {
		return fail(kerr.IllegalSaslState.Code, "SASL authentication is not expected now")
	}
	// PLAIN: authzid NUL authcid NUL password.
	parts := bytes.SplitN(r.SASLAuthBytes, []byte{0}, 3)
	if len(parts) != 3 {
		return fail(kerr.SaslAuthenticationFailed.Code, "malformed PLAIN message")
	}
	user, key := string(parts[1]), string(parts[2])
	ctx, cancel := c.requestContext()
	defer cancel()
	k, err := c.l.cfg.Auth.VerifyAPIKey(ctx, key)
	if err != nil {
		c.l.log.Info("kafkawire: SASL authentication failed", "user", user, "remote", c.nc.RemoteAddr().String(), "err", err)
		msg := "authentication failed: the password must be a valid Arus API key"
		switch {
		case errors.Is(err, auth.ErrExpired):
			msg = "authentication failed: the API key has expired"
		case errors.Is(err, auth.ErrRevoked):
			msg = "authentication failed: the API key has been revoked"
		case errors.Is(err, auth.ErrDisabled):
			msg = "authentication failed: the API key's owner is disabled"
		}
		return fail(kerr.SaslAuthenticationFailed.Code, msg)
	}
	c.key, c.user, c.authed = &k, user, true
	return resp
}
