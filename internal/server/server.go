// Package server assembles the Arus process that `arus serve` runs: the
// backbone, the stores, authentication, the JSON API and the console on one
// HTTP server, with health, readiness and metrics endpoints, and an orderly
// shutdown.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/dlq"
	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/kafkawire"
	"github.com/arus-platform/arus/internal/mask"
	"github.com/arus-platform/arus/internal/obs"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/delivery"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
	"github.com/arus-platform/arus/internal/secret"
	"github.com/arus-platform/arus/internal/web"
	"github.com/arus-platform/arus/saga"
	"github.com/arus-platform/arus/schema"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/encrypt"
	"github.com/arus-platform/arus/ticketing"
	"github.com/arus-platform/arus/ticketing/gate"
	"github.com/arus-platform/arus/ticketing/notify"
	"github.com/arus-platform/arus/ticketing/payment"
)

// Components are the parts of the platform --components can switch on.
var Components = []string{"backbone", "relay", "ticketing", "gate", "payment", "notify", "console"}

// Config is everything arus serve is told. The CLI fills it from flags,
// environment and config file; Validate checks it.
type Config struct {
	Data            string
	Listen          string
	Broker          string
	DB              string
	Components      []string
	Stream          stream.Options
	MaxBodyBytes    int64
	ShutdownTimeout time.Duration
	// AuditRetention is how long audit entries are kept: older ones are
	// pruned at start and every hour. 0 keeps them forever.
	AuditRetention time.Duration
	// TopicKeys is the keyring file (see package stream/encrypt) of the
	// topics whose values are kept encrypted at rest; "" encrypts none.
	TopicKeys string

	// TLSCert and TLSKey turn on HTTPS. ClientCA, with TLS, asks clients
	// for a certificate signed by it; ClientAuth says whether one is
	// "required" or only "verified" when given.
	TLSCert, TLSKey, ClientCA string
	ClientAuth                string

	// Kafka serves the Kafka protocol on the embedded log.
	Kafka KafkaConfig

	// AdminPassword is the first admin's password; when empty, the first
	// start generates one and prints it once.
	AdminPassword string
	// SecretKey (base64, 32 bytes) encrypts secrets at rest; when empty a
	// key file is created in the data directory.
	SecretKey string
	// PublicURL is where users reach the server (behind a proxy, say); the
	// links the server sends, such as a customer's confirmation link, start
	// with it. Default: the listen address.
	PublicURL string
	// PaymentSecret (at least 32 bytes) signs the simulated payment
	// provider's callbacks; when empty a key file is created in the data
	// directory.
	PaymentSecret string
	// SMTP sends notify's messages; nil keeps them in its mailbox.
	SMTP *notify.SMTPConfig
	// Instance names this installation in the console.
	Instance string
	// SecureCookies marks cookies Secure and sends Strict-Transport-Security
	// behind a TLS-terminating proxy.
	SecureCookies bool
	// RelaySQLiteDir holds the relay's SQLite destinations. Default
	// <Data>/destinations.
	RelaySQLiteDir string
	// RelayAllowHosts, when set, are the only hosts and CIDRs relay
	// destinations may reach (see relay.Config.AllowHosts).
	RelayAllowHosts []string
	Tracing         obs.TracingConfig
	Version         string
	Logger          *slog.Logger
	// Banner receives the one-time admin password. Default os.Stderr.
	Banner io.Writer

	// TrustedProxies lists the addresses and CIDRs of reverse proxies
	// whose X-Forwarded-For names the client, comma-separated.
	TrustedProxies string
	trusted        []netip.Prefix
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() (err error) {
	var errs []error
	if c.Listen == "" {
		c.Listen = ":8080"
	}
	if c.Data == "" {
		c.Data = "./arus-data"
	}
	if _, err := backbone.Parse(c.Broker); err != nil {
		errs = append(errs, fmt.Errorf("broker: %w", err))
	}
	if c.DB != "" {
		cfg := store.Config{DSN: c.DB, Component: "auth"}
		if err := cfg.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("db: %w", err))
		}
	}
	for _, comp := range c.Components {
		if !slices.Contains(Components, comp) {
			errs = append(errs, fmt.Errorf("components: unknown component %q; use all or a list of %s", comp, strings.Join(Components, ", ")))
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls: give both --tls-cert and --tls-key, or neither"))
	}
	switch c.ClientAuth {
	case "", "none", "verify", "require":
	default:
		errs = append(errs, fmt.Errorf("tls-client-auth %q: use none, verify or require", c.ClientAuth))
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		errs = append(errs, errors.New("tls-client-ca needs --tls-cert and --tls-key: client certificates need TLS"))
	}
	if c.ClientCA == "" && (c.ClientAuth == "verify" || c.ClientAuth == "require") {
		errs = append(errs, fmt.Errorf("tls-client-auth %s needs --tls-client-ca", c.ClientAuth))
	}
	if c.trusted, err = parseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted-proxies: %w", err))
	}
	if c.SecretKey != "" {
		if _, err := secret.ParseKey(c.SecretKey); err != nil {
			errs = append(errs, fmt.Errorf("secret-key: %w", err))
		}
	}
	if err := c.Tracing.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.AuditRetention < 0 {
		errs = append(errs, fmt.Errorf("audit-retention %s is negative; use 0 to keep entries forever", c.AuditRetention))
	}
	errs = append(errs, c.Kafka.validate(c)...)
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("public-url %q: use http(s)://host[:port][/path]", c.PublicURL))
		}
	}
	if c.PaymentSecret != "" && len(c.PaymentSecret) < 32 {
		errs = append(errs, fmt.Errorf("payment-secret has %d bytes; use at least 32", len(c.PaymentSecret)))
	}
	if c.SMTP != nil {
		if err := c.SMTP.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Banner == nil {
		c.Banner = os.Stderr
	}
	if c.Instance == "" {
		c.Instance = "arus"
	}
	if c.RelaySQLiteDir == "" {
		c.RelaySQLiteDir = filepath.Join(c.Data, "destinations")
	}
	if _, err := relay.ParseHostPolicy(c.RelayAllowHosts); err != nil {
		errs = append(errs, fmt.Errorf("relay-allow-hosts: %w", err))
	}
	return errors.Join(errs...)
}

func (c *Config) runs(component string) bool { return slices.Contains(c.Components, component) }

// Server is a running Arus process.
type Server struct {
	cfg         Config
	log         *slog.Logger
	broker      stream.Broker
	authDB      *store.DB
	auth        *auth.Store
	box         *secret.Box
	waitroomKey []byte // signs admission tokens; derived from the secrets key
	tracing     *obs.Tracing
	metrics     *httpMetrics
	http        *http.Server
	ln          net.Listener
	streams     *api.Server
	sagas       *saga.Orchestrator
	dlq         *dlq.Manager
	schemas     *schema.Registry
	auditLog    *audit.Log
	backups     backups
	masks       *mask.Store
	relay       *relay.Relay
	ticketing   *ticketing.Service
	gate        *gate.Service
	payment     *payment.Service
	customers   *auth.Customers
	delivery    *delivery.Engine
	deliveryLog *deliverylog.Log
	console     *web.Handler
	kafka       *kafkawire.Listener
	kafkaLn     net.Listener
	// mux holds every route the process serves.
	mux *http.ServeMux
	// ready are /readyz's checks besides the broker, by component.
	ready   map[string]func(context.Context) error
	closers []func() error
	// runners are the e-ticketing services, run until shutdown.
	runners []func(context.Context) error

	// engine is the broker as opened; broker is the same with the topics of
	// --topic-keys encrypted. The Kafka listener serves engine: records as
	// stored.
	engine stream.Broker
}

// Start opens everything and starts listening; Serve then serves until ctx
// ends. On error, whatever was opened is closed.
func Start(ctx context.Context, cfg Config) (s *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s = &Server{cfg: cfg, log: cfg.Logger}
	opened := s
	defer func() {
		if err != nil {
			// A failed return has set s to nil; the closers refer to it.
			s = opened
			s.close()
			s = nil
		}
	}()
	if err := s.makeDataDir(); err != nil {
		return nil, err
	}
	if s.tracing, err = obs.NewTracing(ctx, cfg.Tracing); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() error { return s.tracing.Shutdown(context.Background()) })
	if err := s.openSecrets(); err != nil {
		return nil, err
	}
	if s.broker, err = backbone.Open(ctx, cfg.Broker, cfg.Data, cfg.Stream); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.broker.Close)
	s.engine = s.broker
	if cfg.TopicKeys != "" {
		ring, err := encrypt.LoadKeyring(cfg.TopicKeys)
		if err != nil {
			return nil, err
		}
		s.broker = encrypt.Wrap(s.broker, ring)
	}
	if err := s.openAuth(ctx); err != nil {
		return nil, err
	}
	s.ready = map[string]func(context.Context) error{"auth store": s.authDB.PingContext}
	if err := s.openAudit(ctx); err != nil {
		return nil, err
	}
	if err := s.openMasks(ctx); err != nil {
		return nil, err
	}
	reg := obs.NewRegistry()
	s.metrics = newHTTPMetrics(reg)
	reg.MustRegister(backbone.NewCollector(s.broker, s.log, 5*time.Second), obs.NewDiskCollector(cfg.Data, s.log))

	mux := http.NewServeMux()
	s.mux = mux
	mux.Handle("GET /metrics", obs.MetricsHandler(reg))
	s.streams, err = api.New(s.broker, api.Config{
		Logger: s.log, MaxBodyBytes: cfg.MaxBodyBytes, DefaultPartitions: cfg.Stream.DefaultPartitions,
		Auth: s.auth, ReadyChecks: s.ready, DatasetOf: s.datasetOf, Masks: s.masks,
	})
	if err != nil {
		return nil, err
	}
	s.streams.Register(mux)
	s.registerAccount(mux)
	s.registerBackup(mux)
	if err := s.openProcessing(ctx, mux, reg); err != nil {
		return nil, err
	}
	if cfg.runs("relay") {
		if err := s.openRelay(ctx, mux, reg); err != nil {
			return nil, err
		}
	}
	if cfg.runs("ticketing") {
		if err := s.openTicketingService(ctx, mux, reg); err != nil {
			return nil, err
		}
	}
	if err := s.openTicketing(ctx, mux, reg); err != nil {
		return nil, err
	}
	if cfg.runs("gate") {
		if err := s.openGate(ctx, mux); err != nil {
			return nil, err
		}
	}
	if cfg.runs("console") {
		shop, err := s.shopConfig()
		if err != nil {
			return nil, err
		}
		console, err := web.New(web.Config{Shop: shop,
			Auth: s.auth, Broker: s.broker, DLQ: s.dlq, Sagas: s.sagas, Schemas: s.schemas, Audit: s.auditLog, Relay: s.relay, Deliveries: s.deliveryLog, RouteStatus: s.routeStatusMap(), Metrics: reg, Logger: s.log, Instance: cfg.Instance, Engine: engineName(cfg.Broker),
			Version: cfg.Version, Status: s.status, SecureCookies: cfg.SecureCookies, Masks: s.masks, Scanner: s.gate != nil,
			Ticketing: s.ticketing, Payments: s.payment, Gate: s.gate,
		})
		if err != nil {
			return nil, err
		}
		console.Register(mux)
		s.console = console
	}
	if err := s.openKafka(reg); err != nil {
		return nil, err
	}
	if err := s.listen(); err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s.handler(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.http.RegisterOnShutdown(s.streams.CloseStreams)
	return s, nil
}

// openSecrets loads the key that encrypts secrets at rest.
func (s *Server) openSecrets() error {
	var key []byte
	var err error
	if s.cfg.SecretKey != "" {
		key, err = secret.ParseKey(s.cfg.SecretKey)
	} else {
		key, err = secret.LoadOrCreateKeyFile(filepath.Join(s.cfg.Data, "secret.key"))
	}
	if err != nil {
		return err
	}
	if s.waitroomKey, err = secret.Derive(key, "ticketing waiting room admission", 32); err != nil {
		return err
	}
	s.box, err = secret.New(key)
	return err
}

// openAuth opens the auth store and makes sure an admin exists, printing a
// generated password once when it had to make one up.
func (s *Server) openAuth(ctx context.Context) error {
	db, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "auth"})
	if err != nil {
		return err
	}
	s.authDB = db
	s.closers = append(s.closers, db.Close)
	if s.auth, err = auth.Open(ctx, db, auth.Config{Logger: s.log, TrustedProxies: s.cfg.trusted}); err != nil {
		return err
	}
	generated, created, err := s.auth.EnsureAdmin(ctx, s.cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("first admin: %w", err)
	}
	if created && generated != "" {
		// Printed, not logged: logs are shipped and kept; this is shown once.
		fmt.Fprintf(s.cfg.Banner, "\n"+
			"  First start: created the console user %q with this one-time password:\n\n"+
			"      %s\n\n"+
			"  Sign in at %s/login: the console asks you to change it first. It is not shown again.\n\n",
			auth.AdminUsername, generated, s.publicURL())
	} else if created {
		s.log.Info("first start: created the console user admin with the configured password", "user", auth.AdminUsername)
	}
	return nil
}

func (s *Server) publicURL() string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if s.cfg.TLSCert != "" {
		scheme = "https"
	}
	host := s.cfg.Listen
	if strings.HasPrefix(host, ":") {
		host = "localhost" + host
	}
	return scheme + "://" + host
}

// openMasks opens the store of the topics' masking policies.
func (s *Server) openMasks(ctx context.Context) error {
	db, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "masking"})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, db.Close)
	if s.masks, err = mask.Open(ctx, db); err != nil {
		return err
	}
	s.ready["masking store"] = db.PingContext
	return nil
}

// openAudit opens the audit log's store.
func (s *Server) openAudit(ctx context.Context) error {
	db, err := store.Open(ctx, store.Config{DSN: s.cfg.DB, Dir: s.cfg.Data, Component: "audit"})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, db.Close)
	if s.auditLog, err = audit.Open(ctx, db); err != nil {
		return err
	}
	s.ready["audit store"] = db.PingContext
	return s.pruneAudit(ctx)
}

// pruneAudit deletes the audit entries older than the retention.
func (s *Server) pruneAudit(ctx context.Context) error {
	if s.cfg.AuditRetention == 0 {
		return nil
	}
	n, err := s.auditLog.Prune(ctx, time.Now().Add(-s.cfg.AuditRetention))
	if n > 0 {
		s.log.Info("audit: pruned entries past the retention", "entries", n, "retention", s.cfg.AuditRetention)
	}
	return err
}

// listen opens the listener, with TLS and client certificates when
// configured.
func (s *Server) listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", s.cfg.Listen, err)
	}
	if s.cfg.TLSCert == "" {
		s.ln = ln
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
	if err != nil {
		ln.Close()
		return fmt.Errorf("tls: load certificate %s and key %s: %w", s.cfg.TLSCert, s.cfg.TLSKey, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	if s.cfg.ClientCA != "" {
		pem, err := os.ReadFile(s.cfg.ClientCA)
		if err != nil {
			ln.Close()
			return fmt.Errorf("tls: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			ln.Close()
			return fmt.Errorf("tls: client CA %s holds no PEM certificate", s.cfg.ClientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
		if s.cfg.ClientAuth == "require" {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	s.ln = tls.NewListener(ln, tc)
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Secrets returns the box that encrypts secrets at rest.
func (s *Server) Secrets() *secret.Box { return s.box }

// status reports each component's health for the console.
func (s *Server) status(ctx context.Context) []web.Component {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	check := func(c web.Component, err error) web.Component {
		c.Up = err == nil
		if err != nil {
			c.Detail = err.Error()
		}
		return c
	}
	kind, _ := backbone.Parse(s.cfg.Broker)
	where := s.cfg.Data
	if kind != backbone.Embedded {
		where = redactURL(s.cfg.Broker)
	}
	out := []web.Component{
		check(web.Component{Name: "backbone", Kind: string(kind), Where: where}, s.broker.Ping(ctx)),
		check(web.Component{Name: "auth store", Kind: s.authDB.Dialect.String(), Where: s.authDB.Where}, s.authDB.PingContext(ctx)),
	}
	if s.relay != nil {
		dests, err := s.relay.Destinations(ctx)
		if err != nil {
			return append(out, check(web.Component{Name: "relay store"}, err))
		}
		// Destination health is what the relay's heartbeat last saw.
		for _, d := range dests {
			c := web.Component{Name: "destination " + d.Name, Kind: d.Kind, Where: destinationWhere(d), Up: d.Health == relay.HealthUp}
			if !c.Up {
				c.Detail = d.Health
				if d.LastError != "" {
					c.Detail += ": " + d.LastError
				}
			}
			out = append(out, c)
		}
	}
	return out
}

func destinationWhere(d relay.Destination) string {
	if d.Host != "" {
		return fmt.Sprintf("%s:%d/%s", d.Host, d.Port, d.Database)
	}
	if d.DSN != "" {
		return redactURL(d.DSN)
	}
	return d.Database
}

func engineName(broker string) string {
	kind, _ := backbone.Parse(broker)
	return string(kind)
}

// Serve serves until ctx ends, then shuts down in order: stop accepting,
// drain requests and consume streams (committing what their clients
// acknowledged), close the broker (which commits its consumers) and the
// stores.
func (s *Server) Serve(ctx context.Context) error {
	defer s.close()
	s.log.Info("arus listening", "addr", s.ln.Addr().String(), "url", s.publicURL(), "broker", engineName(s.cfg.Broker),
		"data", s.cfg.Data, "db", s.authDB.Dialect.String(), "version", s.cfg.Version)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	if s.console != nil {
		g.Go(func() error { s.console.Run(gctx); return nil })
	}
	g.Go(func() error { return s.serveKafka(gctx) })
	if s.delivery != nil {
		g.Go(func() error { return s.runRelay(gctx) })
	}
	if s.ticketing != nil {
		g.Go(func() error { return s.ticketing.Run(gctx) })
	}
	if len(s.runners) > 0 {
		g.Go(func() error { return s.runServices(gctx) })
	}
	if s.gate != nil {
		g.Go(func() error { return s.gate.Run(gctx, s.broker) })
	}
	g.Go(func() error {
		// Replies stop when the broker goes away; the orchestrator starts
		// again when it returns, resending what its sagas wait for.
		for {
			err := s.sagas.Run(gctx)
			if gctx.Err() != nil {
				return nil
			}
			s.log.Warn("saga: the orchestrator stopped; starting it again", "err", err)
			select {
			case <-gctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	})
	g.Go(func() error {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				if err := s.auth.Cleanup(gctx); err != nil && gctx.Err() == nil {
					s.log.Warn("auth: cleanup of expired sessions failed", "err", err)
				}
				if err := s.pruneAudit(gctx); err != nil && gctx.Err() == nil {
					s.log.Warn("audit: pruning old entries failed", "err", err)
				}
				if s.relay != nil {
					if err := s.relay.Cleanup(gctx); err != nil && gctx.Err() == nil {
						s.log.Warn("relay: cleanup of expired idempotency keys failed", "err", err)
					}
				}
			}
		}
	})
	g.Go(func() error {
		<-gctx.Done()
		s.log.Info("shutting down: draining requests and consumers", "timeout", s.cfg.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		defer cancel()
		if err := s.http.Shutdown(sctx); err != nil {
			s.log.Warn("requests still running after the shutdown timeout; closing their connections", "err", err)
			_ = s.http.Close()
		}
		return nil
	})
	err := g.Wait()
	cerr := s.close()
	s.log.Info("stopped")
	return errors.Join(err, cerr)
}

// close closes what Start opened, in reverse order, once.
func (s *Server) close() error {
	var errs []error
	if s.ln != nil {
		_ = s.ln.Close()
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil && !errors.Is(err, stream.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "xxxxx" + u[i:]
		}
	}
	return u
}
