package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"time"
)

// SMTP security modes.
const (
	// SecurityStartTLS upgrades the connection with STARTTLS before
	// anything else is sent, and refuses a server that does not offer it.
	SecurityStartTLS = "starttls"
	// SecurityNone sends in the clear: for a relay on the same host only.
	SecurityNone = "none"
)

// SMTPConfig says how to send mail.
type SMTPConfig struct {
	// Addr is the server's host:port; required.
	Addr string
	// Username and Password log in with AUTH PLAIN when Username is set
	// (only over TLS, or to a server on the loopback interface).
	Username string
	Password string
	// From is the sender address; required.
	From string
	// Security is starttls (the default) or none.
	Security string
	// TLS configures the STARTTLS handshake. Default: the system's roots,
	// the server name from Addr.
	TLS *tls.Config
	// Timeout bounds one message's whole conversation. Default 30s.
	Timeout time.Duration
}

// Validate checks the configuration and fills in defaults.
func (c *SMTPConfig) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("notify: smtp address %q: use host:port (%v)", c.Addr, err))
	}
	if !validAddress(c.From) {
		errs = append(errs, fmt.Errorf("notify: smtp sender %q is not an e-mail address", c.From))
	}
	switch c.Security {
	case "":
		c.Security = SecurityStartTLS
	case SecurityStartTLS, SecurityNone:
	default:
		errs = append(errs, fmt.Errorf("notify: smtp security %q: use %s or %s", c.Security, SecurityStartTLS, SecurityNone))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("notify: smtp timeout %s is negative", c.Timeout))
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	return errors.Join(errs...)
}

// permanentError is a refusal that sending again will not change (a 5xx
// reply).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// send delivers one message to one recipient.
func (c *SMTPConfig) send(ctx context.Context, to string, raw []byte) (err error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("notify: smtp: connect to %s: %w", c.Addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	host, _, _ := net.SplitHostPort(c.Addr)
	client, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("notify: smtp: %s: %w", c.Addr, err)
	}
	defer client.Close()
	defer func() {
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 {
			err = &permanentError{err}
		}
	}()
	if err := client.Hello("arus"); err != nil {
		return fmt.Errorf("notify: smtp: EHLO: %w", err)
	}
	if c.Security == SecurityStartTLS {
		if ok, _ := client.Extension("STARTTLS"); !ok {
			return &permanentError{fmt.Errorf("notify: smtp: %s does not offer STARTTLS, which the configuration requires", c.Addr)}
		}
		tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if c.TLS != nil {
			tc = c.TLS.Clone()
			if tc.ServerName == "" {
				tc.ServerName = host
			}
		}
		if err := client.StartTLS(tc); err != nil {
			return fmt.Errorf("notify: smtp: STARTTLS: %w", err)
		}
	}
	if c.Username != "" {
		if err := client.Auth(smtp.PlainAuth("", c.Username, c.Password, host)); err != nil {
			return fmt.Errorf("notify: smtp: AUTH: %w", err)
		}
	}
	if err := client.Mail(c.From); err != nil {
		return fmt.Errorf("notify: smtp: MAIL FROM: %w", err)
	}
	if err := client.Rcpt(to); err != nil {
		return fmt.Errorf("notify: smtp: RCPT TO %s: %w", to, err)
	}
	w, err := client.Data()
	if err != nil {
		return fmt.Errorf("notify: smtp: DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("notify: smtp: send message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("notify: smtp: end message: %w", err)
	}
	return client.Quit()
}
