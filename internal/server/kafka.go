package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/internal/kafkawire"
)

// KafkaConfig configures the Kafka protocol listener on the embedded log.
type KafkaConfig struct {
	// Listen is the address to serve the Kafka protocol on; empty: off.
	Listen string
	// SASL requires clients to authenticate with SASL/PLAIN, an API key as
	// the password, and checks each request against the key's scopes.
	SASL bool
	// TLS serves TLS with the server's certificate (--tls-cert, --tls-key).
	TLS bool
	// AllowRemote allows a non-loopback address without SASL.
	AllowRemote bool
}

// validate checks the Kafka listener's settings against the rest.
func (k KafkaConfig) validate(c *Config) []error {
	if k.Listen == "" {
		if k.SASL || k.TLS || k.AllowRemote {
			return []error{errors.New("kafka-sasl, kafka-tls and kafka-allow-remote need --kafka-listen")}
		}
		return nil
	}
	var errs []error
	if kind, err := backbone.Parse(c.Broker); err == nil && kind != backbone.Embedded {
		errs = append(errs, fmt.Errorf("kafka-listen serves the embedded log, and the broker is %s: point Kafka clients at that cluster itself", kind))
	}
	host, _, err := net.SplitHostPort(k.Listen)
	if err != nil {
		return append(errs, fmt.Errorf("kafka-listen %q: %w", k.Listen, err))
	}
	if k.TLS && c.TLSCert == "" {
		errs = append(errs, errors.New("kafka-tls needs --tls-cert and --tls-key"))
	}
	if !k.SASL && !k.AllowRemote && !loopback(host) {
		errs = append(errs, fmt.Errorf("kafka-listen %q is not a loopback address and --kafka-sasl is off: anyone who can reach it could read and write every topic; add --kafka-sasl, listen on 127.0.0.1, or pass --kafka-allow-remote", k.Listen))
	}
	return errs
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// openKafka starts listening for the Kafka protocol when configured.
func (s *Server) openKafka(reg prometheus.Registerer) error {
	k := s.cfg.Kafka
	if k.Listen == "" {
		return nil
	}
	lg, ok := s.engine.(kafkawire.Log)
	if !ok {
		return errors.New("kafka-listen: the broker is not the embedded log")
	}
	cfg := kafkawire.Config{Log: lg, Logger: s.log, Metrics: reg, DatasetOf: s.datasetOf}
	if k.SASL {
		cfg.Auth = s.auth
	}
	if k.TLS {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("kafka-tls: load certificate %s and key %s: %w", s.cfg.TLSCert, s.cfg.TLSKey, err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := kafkawire.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", k.Listen)
	if err != nil {
		return fmt.Errorf("kafka-listen on %q: %w", k.Listen, err)
	}
	s.kafka, s.kafkaLn = l, ln
	// Closed before the broker (closers run in reverse order).
	s.closers = append(s.closers, func() error { ln.Close(); return l.Close() })
	return nil
}

// KafkaAddr returns the address the Kafka protocol is served on, nil when off.
func (s *Server) KafkaAddr() net.Addr {
	if s.kafkaLn == nil {
		return nil
	}
	return s.kafkaLn.Addr()
}

// serveKafka serves the Kafka protocol until ctx ends; the listener then
// answers what it is handling and closes its connections, before the
// broker closes.
func (s *Server) serveKafka(ctx context.Context) error {
	if s.kafka == nil {
		return nil
	}
	s.log.Info("kafka protocol listening", "addr", s.kafkaLn.Addr().String(), "sasl", s.cfg.Kafka.SASL, "tls", s.cfg.Kafka.TLS)
	return s.kafka.Serve(ctx, s.kafkaLn)
}
