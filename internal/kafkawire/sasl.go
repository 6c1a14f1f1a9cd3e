package kafkawire

import (
	"bytes"
	"errors"
	"fmt"

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
		// Version 0: the token follows as a bare frame (Kafka before 1.0).
		c.rawSASL = r.Version == 0
	}
	return resp
}

// rawToken authenticates with a SASL/PLAIN token sent as a bare frame after
// a version 0 handshake; success is answered with an empty frame, failure
// by closing the connection, as Kafka does.
func (c *conn) rawToken(token []byte) (pending, error) {
	c.rawSASL = false
	if _, err := c.authenticate(token); err != nil {
		return pending{}, err
	}
	return pending{raw: []byte{0, 0, 0, 0}}, nil
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
	if msg, err := c.authenticate(r.SASLAuthBytes); err != nil {
		return fail(kerr.SaslAuthenticationFailed.Code, msg)
	}
	return resp
}

// authenticate checks a PLAIN token (authzid NUL authcid NUL password), the
// password being an API key. On failure it returns what to tell the client.
func (c *conn) authenticate(token []byte) (string, error) {
	parts := bytes.SplitN(token, []byte{0}, 3)
	if len(parts) != 3 {
		return "malformed PLAIN message", errors.New("malformed PLAIN message")
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
		return msg, fmt.Errorf("SASL: %w", err)
	}
	c.key, c.user, c.authed = &k, user, true
	return "", nil
}
