package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/arus-platform/arus/stream"
)

// SASL mechanisms accepted in [SASLConfig.Mechanism].
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// Config configures a Kafka [Broker]. The zero value with Brokers set is
// valid; [Config.Validate] fills in the defaults documented on each field.
type Config struct {
	// Brokers are the seed brokers, as host:port. At least one is required;
	// the others are discovered from the cluster's metadata.
	Brokers []string
	// ClientID names this process's producer and admin connections to the
	// brokers (it shows in broker logs and quotas). Default "arus".
	// Consumers use their member name ([stream.ConsumerConfig.Member])
	// instead, which is how group descriptions name members.
	ClientID string
	// SASL authenticates to the brokers. Off unless Mechanism is set.
	SASL SASLConfig
	// TLS encrypts the connections to the brokers. Off unless enabled.
	TLS TLSConfig

	// SessionTimeout is how long the group coordinator waits for a heartbeat
	// before it declares a consumer dead and moves its partitions. Default
	// 45s (Kafka's default).
	SessionTimeout time.Duration
	// HeartbeatInterval is how often consumers heartbeat, which is also how
	// quickly they learn that the group is rebalancing. Default 3s; it must
	// be below SessionTimeout.
	HeartbeatInterval time.Duration
	// RebalanceTimeout bounds how long a rebalance waits for members to
	// finish their revoked partitions and rejoin. Default 60s.
	RebalanceTimeout time.Duration
	// CommitInterval is how often a running consumer commits what its
	// handlers finished. Offsets are also committed before partitions move
	// to another member and when Consume returns, so the interval only
	// bounds what a crashed process redelivers. Default 100ms; a negative
	// value commits after every handled batch.
	CommitInterval time.Duration
	// FetchMaxWait is how long a consumer's fetch request waits at the
	// broker for new records. It also bounds how long a consumer takes to
	// start on partitions it gains in a rebalance. Default 500ms (Kafka's
	// fetch.max.wait.ms).
	FetchMaxWait time.Duration
	// Linger is how long the producer waits for more records before it
	// sends a batch. Concurrent Produce calls share batches, so a small
	// linger raises throughput under load at the cost of latency for a lone
	// producer. Default 2ms; a negative value turns lingering off.
	Linger time.Duration
	// ReplicationFactor of topics created by Arus. Default -1: the broker's
	// default.replication.factor.
	ReplicationFactor int16
	// Compression is the codec of produced batches: "none", "gzip",
	// "snappy", "lz4" or "zstd". Default "none", as the Java producer and
	// librdkafka: every Kafka client reads it, where kafka-python, say,
	// reads snappy, lz4 and zstd only with extra libraries.
	Compression string
	// Balancers are the partition assignment strategies a consumer offers
	// its group, most preferred first: "range", "roundrobin", "sticky" and
	// "cooperative-sticky" (Kafka's partition.assignment.strategy). The
	// group uses the first one every member offers, so a group can be
	// shared with other Kafka clients only if they offer one of these too.
	// Default [DefaultBalancers]: range, then cooperative-sticky, as the
	// Java consumer does since Kafka 3.0. It shares a group with default
	// Java, librdkafka (range,roundrobin) and kafka-python consumers, and
	// with clients set to cooperative-sticky alone. With range a rebalance
	// briefly stops every member (each commits and gives up all of its
	// partitions, then all rejoin at once); list cooperative-sticky first
	// to move only the partitions that change owner, in two rounds, in a
	// group whose members all offer it.
	Balancers []string

	stream.Options
}

// SASLConfig holds SASL credentials.
type SASLConfig struct {
	// Mechanism is "plain", "scram-sha-256" or "scram-sha-512"; empty turns
	// SASL off.
	Mechanism string
	User      string
	Password  string
}

// TLSConfig configures TLS to the brokers.
type TLSConfig struct {
	// Enabled turns TLS on. Setting any of the files below also turns it on.
	Enabled bool
	// CAFile is a PEM file of certificate authorities to trust instead of
	// the system's.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// brokers that authenticate clients by certificate. Set both or neither.
	CertFile string
	KeyFile  string
	// InsecureSkipVerify accepts any broker certificate. For tests only.
	InsecureSkipVerify bool
}

func (t TLSConfig) on() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != ""
}

// Default values of [Config].
const (
	DefaultClientID          = "arus"
	DefaultSessionTimeout    = 45 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultRebalanceTimeout  = 60 * time.Second
	DefaultCommitInterval    = 100 * time.Millisecond
	DefaultFetchMaxWait      = 500 * time.Millisecond
	DefaultLinger            = 2 * time.Millisecond
)

// Partition assignment strategies accepted in [Config.Balancers].
const (
	BalancerRange             = "range"
	BalancerRoundRobin        = "roundrobin"
	BalancerSticky            = "sticky"
	BalancerCooperativeSticky = "cooperative-sticky"
)

var codecs = map[string]func() kgo.CompressionCodec{
	"none":   kgo.NoCompression,
	"gzip":   kgo.GzipCompression,
	"snappy": kgo.SnappyCompression,
	"lz4":    kgo.Lz4Compression,
	"zstd":   kgo.ZstdCompression,
}

// DefaultBalancers is the default of [Config.Balancers].
var DefaultBalancers = []string{BalancerRange, BalancerCooperativeSticky}

var balancers = map[string]func() kgo.GroupBalancer{
	BalancerRange:             kgo.RangeBalancer,
	BalancerRoundRobin:        kgo.RoundRobinBalancer,
	BalancerSticky:            kgo.StickyBalancer,
	BalancerCooperativeSticky: kgo.CooperativeStickyBalancer,
}

// groupBalancers returns the franz-go balancers of a validated config.
func (c *Config) groupBalancers() []kgo.GroupBalancer {
	bs := make([]kgo.GroupBalancer, len(c.Balancers))
	for i, name := range c.Balancers {
		bs[i] = balancers[name]()
	}
	return bs
}

func (c *Config) validateBalancers() error {
	if len(c.Balancers) == 0 {
		c.Balancers = slices.Clone(DefaultBalancers)
		return nil
	}
	for i, name := range c.Balancers {
		name = strings.ToLower(strings.TrimSpace(name))
		if balancers[name] == nil {
			return stream.Invalidf("kafka: balancer %q is unknown; use %s, %s, %s or %s",
				c.Balancers[i], BalancerRange, BalancerRoundRobin, BalancerSticky, BalancerCooperativeSticky)
		}
		if slices.Contains(c.Balancers[:i], name) {
			return stream.Invalidf("kafka: balancer %q is listed twice", name)
		}
		c.Balancers[i] = name
	}
	return nil
}

// Validate checks the configuration and fills in defaults. Its errors wrap
// [stream.ErrInvalid] and name the setting and the value at fault.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return stream.Invalidf("kafka: brokers: none given; set at least one host:port")
	}
	for _, b := range c.Brokers {
		if err := validateHostPort(b); err != nil {
			return err
		}
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	switch strings.ToLower(c.SASL.Mechanism) {
	case "":
		if c.SASL.User != "" || c.SASL.Password != "" {
			return stream.Invalidf("kafka: sasl: user or password given without a mechanism; set it to %s, %s or %s",
				SASLPlain, SASLScramSHA256, SASLScramSHA512)
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		c.SASL.Mechanism = strings.ToLower(c.SASL.Mechanism)
		if c.SASL.User == "" || c.SASL.Password == "" {
			return stream.Invalidf("kafka: sasl %s: user and password are both required", c.SASL.Mechanism)
		}
	default:
		return stream.Invalidf("kafka: sasl mechanism %q is unknown; use %s, %s or %s",
			c.SASL.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return stream.Invalidf("kafka: tls: cert file %q and key file %q must be set together", c.TLS.CertFile, c.TLS.KeyFile)
	}
	if err := defaultDuration("session timeout", &c.SessionTimeout, DefaultSessionTimeout); err != nil {
		return err
	}
	if err := defaultDuration("heartbeat interval", &c.HeartbeatInterval, DefaultHeartbeatInterval); err != nil {
		return err
	}
	if err := defaultDuration("rebalance timeout", &c.RebalanceTimeout, DefaultRebalanceTimeout); err != nil {
		return err
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	if err := defaultDuration("fetch max wait", &c.FetchMaxWait, DefaultFetchMaxWait); err != nil {
		return err
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return stream.Invalidf("kafka: heartbeat interval %s must be below the session timeout %s", c.HeartbeatInterval, c.SessionTimeout)
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.Linger > time.Minute {
		return stream.Invalidf("kafka: linger %s is over the limit of 1m", c.Linger)
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if err := c.validateBalancers(); err != nil {
		return err
	}
	c.Compression = strings.ToLower(c.Compression)
	if c.Compression == "" {
		c.Compression = "none"
	}
	if codecs[c.Compression] == nil {
		return stream.Invalidf("kafka: compression %q is unknown; use none, gzip, snappy, lz4 or zstd", c.Compression)
	}
	if c.ReplicationFactor < -1 {
		return stream.Invalidf("kafka: replication factor %d is invalid; use -1 for the broker's default or 1 and up", c.ReplicationFactor)
	}
	if err := c.Options.Validate(); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

func defaultDuration(name string, d *time.Duration, def time.Duration) error {
	if *d < 0 {
		return stream.Invalidf("kafka: %s %s is negative", name, *d)
	}
	if *d == 0 {
		*d = def
	}
	return nil
}

func validateHostPort(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return stream.Invalidf("kafka: broker %q is not host:port", hp)
	}
	if host == "" {
		return stream.Invalidf("kafka: broker %q has no host", hp)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return stream.Invalidf("kafka: broker %q has port %q; use 1 to 65535", hp, port)
	}
	return nil
}

// urlParams are the query parameters ParseURL accepts, in the order the
// error message lists them.
var urlParams = []string{
	"sasl", "user", "password", "tls", "ca", "cert", "key", "insecure_skip_verify",
	"client_id", "strict", "partitions", "max_record_bytes", "replication_factor",
	"session_timeout", "heartbeat_interval", "rebalance_timeout", "commit_interval", "fetch_max_wait", "linger",
	"balancers", "compression",
}

// ParseURL parses a broker URL of the form
//
//	kafka://[user:password@]host1:9092,host2:9092[?param=value&...]
//
// A host without a port gets 9092. The parameters are sasl (plain,
// scram-sha-256, scram-sha-512), user, password, tls (true/false), ca, cert,
// key (PEM file paths), insecure_skip_verify, client_id, strict,
// partitions (the default partition count), max_record_bytes,
// replication_factor, and session_timeout, heartbeat_interval,
// rebalance_timeout, commit_interval, fetch_max_wait and linger as Go
// durations ("10s"); a commit_interval or linger of 0 turns it off;
// balancers is a comma-separated list ("cooperative-sticky,range"), see
// [Config.Balancers]; compression is a codec name, see [Config.Compression]. The user and password
// may come from the URL's user information or from the parameters, not both.
// Errors wrap [stream.ErrInvalid]; they name the part at fault and never
// include the password. The result is validated with [Config.Validate].
func ParseURL(u string) (Config, error) {
	var c Config
	rest, ok := strings.CutPrefix(u, "kafka://")
	if !ok {
		scheme, _, found := strings.Cut(u, "://")
		if !found {
			return c, stream.Invalidf("kafka url %q: missing scheme; write kafka://host:9092", redact(u))
		}
		return c, stream.Invalidf("kafka url %q: scheme %q is not kafka; write kafka://host:9092", redact(u), scheme)
	}
	authority, query, _ := strings.Cut(rest, "?")
	if i := strings.IndexAny(authority, "/#"); i >= 0 {
		if strings.Trim(authority[i:], "/") != "" {
			return c, stream.Invalidf("kafka url %q: unexpected path %q; options go in the query (?tls=true)", redact(u), authority[i:])
		}
		authority = authority[:i]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo := authority[:at]
		authority = authority[at+1:]
		user, pass, _ := strings.Cut(userinfo, ":")
		var err error
		if c.SASL.User, err = url.PathUnescape(user); err != nil {
			return c, stream.Invalidf("kafka url %q: bad escape in user name", redact(u))
		}
		if c.SASL.Password, err = url.PathUnescape(pass); err != nil {
			return c, stream.Invalidf("kafka url %q: bad escape in password", redact(u))
		}
	}
	if authority == "" {
		return c, stream.Invalidf("kafka url %q: no broker; write kafka://host:9092", redact(u))
	}
	for _, hp := range strings.Split(authority, ",") {
		if hp == "" {
			return c, stream.Invalidf("kafka url %q: empty broker in the list %q", redact(u), authority)
		}
		if _, _, err := net.SplitHostPort(hp); err != nil {
			if strings.Contains(strings.Trim(hp, "[]"), ":") && !strings.HasPrefix(hp, "[") {
				return c, stream.Invalidf("kafka url %q: broker %q is not host:port", redact(u), hp)
			}
			hp = net.JoinHostPort(strings.Trim(hp, "[]"), "9092")
		}
		if err := validateHostPort(hp); err != nil {
			return c, fmt.Errorf("kafka url %q: %w", redact(u), err)
		}
		c.Brokers = append(c.Brokers, hp)
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return c, stream.Invalidf("kafka url %q: bad query: %v", redact(u), err)
	}
	for name, vs := range values {
		if !slices.Contains(urlParams, name) {
			return c, stream.Invalidf("kafka url %q: unknown parameter %q; known: %s", redact(u), name, strings.Join(urlParams, ", "))
		}
		if len(vs) > 1 {
			return c, stream.Invalidf("kafka url %q: parameter %q is given %d times", redact(u), name, len(vs))
		}
		if err := c.setParam(name, vs[0]); err != nil {
			return c, fmt.Errorf("kafka url %q: %w", redact(u), err)
		}
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Config) setParam(name, v string) error {
	var err error
	switch name {
	case "sasl":
		c.SASL.Mechanism = v
	case "user":
		if c.SASL.User != "" {
			return stream.Invalidf("user given both before @ and as a parameter")
		}
		c.SASL.User = v
	case "password":
		if c.SASL.Password != "" {
			return stream.Invalidf("password given both before @ and as a parameter")
		}
		c.SASL.Password = v
	case "tls":
		c.TLS.Enabled, err = parseBool(name, v)
	case "ca":
		c.TLS.CAFile = v
	case "cert":
		c.TLS.CertFile = v
	case "key":
		c.TLS.KeyFile = v
	case "insecure_skip_verify":
		c.TLS.InsecureSkipVerify, err = parseBool(name, v)
	case "client_id":
		c.ClientID = v
	case "strict":
		c.Strict, err = parseBool(name, v)
	case "partitions":
		var n int64
		n, err = parseInt(name, v, 32)
		c.DefaultPartitions = int32(n)
		if err == nil && n < 1 {
			err = stream.Invalidf("parameter partitions=%s: use 1 to %d", v, stream.MaxPartitions)
		}
	case "max_record_bytes":
		var n int64
		n, err = parseInt(name, v, 32)
		c.MaxRecordBytes = int(n)
		if err == nil && n < 1 {
			err = stream.Invalidf("parameter max_record_bytes=%s: use a positive number of bytes", v)
		}
	case "replication_factor":
		var n int64
		n, err = parseInt(name, v, 16)
		c.ReplicationFactor = int16(n)
	case "session_timeout":
		c.SessionTimeout, err = parseDuration(name, v)
	case "heartbeat_interval":
		c.HeartbeatInterval, err = parseDuration(name, v)
	case "rebalance_timeout":
		c.RebalanceTimeout, err = parseDuration(name, v)
	case "commit_interval":
		c.CommitInterval, err = parseDuration(name, v)
		if err == nil && c.CommitInterval == 0 {
			c.CommitInterval = -1
		}
	case "fetch_max_wait":
		c.FetchMaxWait, err = parseDuration(name, v)
	case "balancers":
		c.Balancers = strings.Split(v, ",")
	case "compression":
		c.Compression = v
	case "linger":
		c.Linger, err = parseDuration(name, v)
		if err == nil && c.Linger == 0 {
			c.Linger = -1
		}
	}
	return err
}

func parseBool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, stream.Invalidf("parameter %s=%q: use true or false", name, v)
	}
	return b, nil
}

func parseInt(name, v string, bits int) (int64, error) {
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil {
		return 0, stream.Invalidf("parameter %s=%q: not a whole number that fits in %d bits", name, v, bits)
	}
	return n, nil
}

func parseDuration(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, stream.Invalidf("parameter %s=%q: use a positive duration such as 500ms or 10s", name, v)
	}
	return d, nil
}

// redact hides the password of a URL, both in its user information and in
// its password parameter, so that errors can quote the URL.
func redact(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if start := strings.Index(u, "://"); start >= 0 && start < at {
			if colon := strings.Index(u[start+3:at], ":"); colon >= 0 {
				u = u[:start+3+colon+1] + "xxxxx" + u[at:]
			}
		}
	}
	if i := strings.Index(u, "password="); i >= 0 {
		end := strings.IndexByte(u[i:], '&')
		if end < 0 {
			end = len(u) - i
		}
		u = u[:i] + "password=xxxxx" + u[i+end:]
	}
	return u
}

// clientOpts returns the connection options shared by every client of a
// broker: seeds, identity, SASL and TLS.
func (c *Config) clientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
	}
	switch c.SASL.Mechanism {
	case SASLPlain:
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsMechanism()))
	case SASLScramSHA256:
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsSha256Mechanism()))
	case SASLScramSHA512:
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsSha512Mechanism()))
	}
	if c.TLS.on() {
		tc, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	return opts, nil
}

func (t TLSConfig) config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, documented as for tests
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: tls ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, stream.Invalidf("kafka: tls ca file %q holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, stream.Invalidf("kafka: tls cert file %q and key file %q: %v", t.CertFile, t.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
