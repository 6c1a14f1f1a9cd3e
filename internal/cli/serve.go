package cli

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arus-platform/arus/backbone"
	"github.com/arus-platform/arus/internal/obs"
	"github.com/arus-platform/arus/internal/server"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/ticketing/notify"
)

func runServe(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "serve", "arus serve [flags]", `
Runs the platform in one process: the stream backbone (the embedded log in
--data, or Kafka or Redis with --broker), its HTTP API under /api/v1, the
console, and /healthz, /readyz and /metrics. On SIGINT or SIGTERM it stops
accepting requests, drains those in flight and the consumers streaming over
HTTP, commits and closes the broker, and exits 0.

Every setting below can also come from its ARUS_* environment variable or
from a config file (--config), in that order of precedence after the
command line. Secrets also accept a file: --admin-password-file,
ARUS_ADMIN_PASSWORD_FILE.`)
	f.String("config", "", "settings `file`: one name = value per line, names as the flags without --")
	data := f.String("data", "./arus-data", "data `dir`ectory: the embedded log, the SQLite stores and the secret key file")
	listen := f.String("listen", ":8080", "`address` to serve HTTP on")
	brokerURL := f.String("broker", "embedded", "stream backend `URL`: "+backbone.Forms)
	db := f.String("db", "", "store `DSN`: SQLite files in the data directory by default, or postgres://user:pass@host:5432/db")
	comps := f.String("components", "all", "comma-separated `list` of components to run: all or "+strings.Join(server.Components, ", "))
	strict := f.Bool("strict", false, "do not create unknown topics on first produce or consume")
	partitions := f.Int("default-partitions", 4, "partition `count` of topics created on first use or without a count")
	maxRecord := f.Int("max-record-bytes", stream.DefaultMaxRecordBytes, "largest record accepted, in `bytes` (key, value and headers)")
	maxBody := f.Int64("max-body-bytes", 32<<20, "largest HTTP request body, in `bytes`")
	logLevel := f.String("log-level", "info", "log `level`: debug, info, warn or error")
	logFormat := f.String("log-format", "text", "log `format`: text or json")
	auditRetention := f.Duration("audit-retention", 90*24*time.Hour, "how long audit entries are kept; older ones are pruned at start and hourly (0: forever)")
	topicKeys := f.String("topic-keys", "", "keyring `file` (JSON, mode 0600) of the topics whose values are kept encrypted at rest; see docs/security.md")
	drain := f.Duration("shutdown-timeout", 30*time.Second, "how long shutdown waits for requests and consumers to drain")
	tlsCert := f.String("tls-cert", "", "TLS certificate `file` (PEM); with --tls-key, serves HTTPS")
	tlsKey := f.String("tls-key", "", "TLS private key `file` (PEM)")
	clientCA := f.String("tls-client-ca", "", "CA `file` (PEM) that signs client certificates")
	clientAuth := f.String("tls-client-auth", "none", "client certificate `mode`: none, verify (check one when given) or require")
	adminPassword := f.String("admin-password", "", "`password` of the first admin; generated and printed once when empty")
	secretKey := f.String("secret-key", "", "base64 `key` (32 bytes) that encrypts secrets at rest; default: a key file in the data directory")
	instance := f.String("instance", "arus", "`name` of this installation, shown in the console")
	secureCookies := f.Bool("secure-cookies", false, "mark cookies Secure and send Strict-Transport-Security (behind a TLS-terminating proxy)")
	trustedProxies := f.String("trusted-proxies", "", "comma-separated `list` of proxy addresses and CIDRs whose X-Forwarded-For names the client (login throttling, sessions); empty trusts none")
	otlp := f.String("otlp-endpoint", "", "OTLP/HTTP collector `URL` for traces, e.g. http://collector:4318; empty: no export")
	sample := f.Float64("trace-sample-ratio", 1, "fraction of new traces recorded, 0 to 1")
	sqliteDir := f.String("relay-sqlite-dir", "", "`dir`ectory of the relay's SQLite destinations, which may name files only inside it (default <data>/destinations)")
	allowHosts := f.String("relay-allow-hosts", "", "comma-separated `list` of the only hosts (names, *.domain) and CIDRs relay destinations may reach; empty: any but link-local and cloud metadata addresses")
	kafkaListen := f.String("kafka-listen", "", "`address` to serve the Kafka protocol on, over the embedded log (off when empty; loopback only unless --kafka-sasl or --kafka-allow-remote)")
	kafkaSASL := f.Bool("kafka-sasl", false, "require Kafka clients to authenticate with SASL/PLAIN, an API key as the password")
	kafkaTLS := f.Bool("kafka-tls", false, "serve the Kafka protocol over TLS with --tls-cert and --tls-key")
	kafkaRemote := f.Bool("kafka-allow-remote", false, "allow a non-loopback --kafka-listen without --kafka-sasl")
	publicURL := f.String("public-url", "", "`URL` where users reach the server (behind a proxy); links the server sends start with it; default: the listen address")
	paymentSecret := f.String("payment-secret", "", "`secret` (at least 32 bytes) that signs the simulated payment provider's callbacks; default: a key file in the data directory")
	smtpAddr := f.String("smtp-addr", "", "SMTP server `host:port` for notify's messages; empty: keep them in notify's mailbox")
	smtpUser := f.String("smtp-username", "", "SMTP login `name` (AUTH PLAIN)")
	smtpPassword := f.String("smtp-password", "", "SMTP `password`")
	smtpFrom := f.String("smtp-from", "", "sender `address` of notify's messages")
	smtpSecurity := f.String("smtp-security", "starttls", "SMTP `mode`: starttls (required) or none (a relay on the same host)")
	pprofListen := f.String("pprof-listen", "", "loopback `address` (e.g. 127.0.0.1:6060) to serve Go's profiler on, under /debug/pprof/; off when empty")
	f.allEnv = true
	f.secret("admin-password")
	f.secret("secret-key")
	f.secret("payment-secret")
	f.secret("smtp-password")
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return f.fail("unexpected argument %q", rest[0])
	}
	run, err := parseComponents(*comps)
	if err != nil {
		return f.fail("--components: %v", err)
	}
	if *partitions < 1 || *partitions > stream.MaxPartitions {
		return f.fail("--default-partitions %d is out of range; use 1 to %d", *partitions, stream.MaxPartitions)
	}
	if *maxRecord < 1 {
		return f.fail("--max-record-bytes %d: use a positive size", *maxRecord)
	}
	if *maxBody < 1 {
		return f.fail("--max-body-bytes %d: use a positive size", *maxBody)
	}
	if *drain < 0 {
		return f.fail("--shutdown-timeout %s is negative", *drain)
	}
	if *pprofListen != "" {
		if err := checkPprofListen(*pprofListen); err != nil {
			return f.fail("--pprof-listen %v", err)
		}
	}
	log, err := obs.NewLogger(e.stderr, *logFormat, *logLevel)
	if err != nil {
		return f.fail("%v", err)
	}
	// Options not set leave the broker URL's or the backend's default.
	opts := stream.Options{Strict: *strict, Logger: log}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["default-partitions"] {
		opts.DefaultPartitions = int32(*partitions)
	}
	if set["max-record-bytes"] {
		opts.MaxRecordBytes = *maxRecord
	}
	cfg := server.Config{
		Data: *data, Listen: *listen, Broker: *brokerURL, DB: *db, Components: run,
		Stream: opts, MaxBodyBytes: *maxBody, ShutdownTimeout: *drain, AuditRetention: *auditRetention, TopicKeys: *topicKeys,
		TLSCert: *tlsCert, TLSKey: *tlsKey, ClientCA: *clientCA, ClientAuth: *clientAuth,
		AdminPassword: *adminPassword, SecretKey: *secretKey, Instance: *instance, SecureCookies: *secureCookies,
		RelaySQLiteDir: *sqliteDir, RelayAllowHosts: splitList(*allowHosts),
		Tracing: obs.TracingConfig{OTLPEndpoint: *otlp, SampleRatio: *sample, Version: releaseVersion()},
		Version: releaseVersion(), Logger: log, Banner: e.stderr,
		Kafka: server.KafkaConfig{Listen: *kafkaListen, SASL: *kafkaSASL, TLS: *kafkaTLS, AllowRemote: *kafkaRemote},
	}
	cfg.PaymentSecret, cfg.PublicURL = *paymentSecret, *publicURL
	if *smtpAddr != "" {
		cfg.SMTP = &notify.SMTPConfig{Addr: *smtpAddr, Username: *smtpUser, Password: *smtpPassword, From: *smtpFrom, Security: *smtpSecurity}
	}
	cfg.TrustedProxies = *trustedProxies
	if err := cfg.Validate(); err != nil {
		return f.fail("%v", err)
	}
	if *pprofListen != "" {
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		if _, err := servePprof(pctx, *pprofListen, log); err != nil {
			return err
		}
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseComponents checks a --components list.
func parseComponents(list string) ([]string, error) {
	if strings.TrimSpace(list) == "all" {
		return server.Components, nil
	}
	var out []string
	for _, c := range strings.Split(list, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !slices.Contains(server.Components, c) {
			return nil, fmt.Errorf("unknown component %q; use all or a list of %s", c, strings.Join(server.Components, ", "))
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no components in %q; use all or a list of %s", list, strings.Join(server.Components, ", "))
	}
	return out, nil
}
