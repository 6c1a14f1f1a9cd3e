package notify_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/ticketing/messages"
	"github.com/arus-platform/arus/ticketing/notify"
)

// smtpServer is a small SMTP server on loopback: EHLO, STARTTLS, AUTH
// PLAIN, MAIL, RCPT, DATA and QUIT, enough to receive what notify sends.
type smtpServer struct {
	ln       net.Listener
	tls      *tls.Config
	startTLS bool
	refuse   string // a recipient answered 550

	mu    sync.Mutex
	auth  []string
	mails []string
	tlsOn []bool
}

func newSMTPServer(t *testing.T, startTLS bool) (*smtpServer, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, startTLS: startTLS,
		tls: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s, pool
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	tp := textproto.NewConn(c)
	secure := false
	reply := func(lines ...string) { tp.PrintfLine("%s", strings.Join(lines, "\r\n")) }
	reply("220 smtp.test ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			lines := []string{"250-smtp.test"}
			if s.startTLS && !secure {
				lines = append(lines, "250-STARTTLS")
			}
			reply(append(lines, "250 AUTH PLAIN")...)
		case "STARTTLS":
			reply("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, secure = tc, true
			tp = textproto.NewConn(tc)
		case "AUTH":
			_, b64, _ := strings.Cut(arg, " ")
			raw, _ := base64.StdEncoding.DecodeString(b64)
			s.mu.Lock()
			s.auth = append(s.auth, string(raw))
			s.mu.Unlock()
			reply("235 accepted")
		case "MAIL":
			reply("250 ok")
		case "RCPT":
			if s.refuse != "" && strings.Contains(arg, s.refuse) {
				reply("550 no such user")
				continue
			}
			reply("250 ok")
		case "DATA":
			reply("354 send it")
			body, err := io.ReadAll(bufio.NewReader(tp.DotReader()))
			if err != nil {
				return
			}
			s.mu.Lock()
			s.mails = append(s.mails, string(body))
			s.tlsOn = append(s.tlsOn, secure)
			s.mu.Unlock()
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

func (s *smtpServer) received() (mails []string, auth []string, tlsOn []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mails...), append([]string(nil), s.auth...), append([]bool(nil), s.tlsOn...)
}

func TestSMTPWithStartTLSAndAuth(t *testing.T) {
	srv, roots := newSMTPServer(t, true)
	srv.refuse = "nobody@"
	e := start(t, &notify.SMTPConfig{Addr: srv.ln.Addr().String(), Username: "arus", Password: "s3cret",
		From: "tiket@arus.test", TLS: &tls.Config{RootCAs: roots}})
	e.send(t, messages.TopicOrders, "o-smtp", issued("o-smtp", "en"))
	m := e.waitMessage(t, notify.Query{OrderID: "o-smtp"}, notify.StateSent)
	mails, auth, tlsOn := srv.received()
	if len(mails) != 1 || !tlsOn[0] {
		t.Fatalf("the server received %d mails (over TLS: %v), want 1 over TLS", len(mails), tlsOn)
	}
	if want := "\x00arus\x00s3cret"; len(auth) != 1 || auth[0] != want {
		t.Errorf("AUTH PLAIN got %q, want %q", auth, want)
	}
	if !strings.Contains(mails[0], "Subject: Your e-tickets for Jazz Gunung") || !strings.Contains(mails[0], "To: rina@example.co.id") {
		t.Errorf("the mail sent lacks its subject or recipient:\n%.600s", mails[0])
	}
	if m.SentAt.IsZero() || m.Attempts != 1 {
		t.Errorf("sent message: attempts %d sent at %v, want 1 attempt and a time", m.Attempts, m.SentAt)
	}

	refused := issued("o-refused", "en")
	refused.Buyer.Email = "nobody@example.com"
	e.send(t, messages.TopicOrders, "o-refused", refused)
	f := e.waitMessage(t, notify.Query{OrderID: "o-refused"}, notify.StateFailed)
	if f.Attempts != 1 || !strings.Contains(f.LastError, "550") {
		t.Errorf("refused recipient: attempts %d, error %q; want one attempt failed for good with the 550", f.Attempts, f.LastError)
	}
}

func TestSMTPRefusesAServerWithoutStartTLS(t *testing.T) {
	srv, roots := newSMTPServer(t, false)
	e := start(t, &notify.SMTPConfig{Addr: srv.ln.Addr().String(), Username: "arus", Password: "s3cret",
		From: "tiket@arus.test", TLS: &tls.Config{RootCAs: roots}})
	e.send(t, messages.TopicOrders, "o-plain", issued("o-plain", "id"))
	f := e.waitMessage(t, notify.Query{OrderID: "o-plain"}, notify.StateFailed)
	if !strings.Contains(f.LastError, "STARTTLS") {
		t.Errorf("last error %q, want it to say STARTTLS is missing", f.LastError)
	}
	if mails, auth, _ := srv.received(); len(mails) != 0 || len(auth) != 0 {
		t.Errorf("a server without STARTTLS got %d mails and %d logins, want none", len(mails), len(auth))
	}
}
