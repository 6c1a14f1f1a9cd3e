package redis

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Defaults of [Config].
const (
	DefaultAddr              = "127.0.0.1:6379"
	DefaultKeyPrefix         = "arus"
	DefaultLeaseTTL          = 10 * time.Second
	DefaultRetentionInterval = time.Minute
)

// Config configures a [Broker]. The zero value, after [Config.Validate],
// talks to Redis at 127.0.0.1:6379, database 0, under the key prefix "arus".
type Config struct {
	// Addr is the Redis server's host:port. Default "127.0.0.1:6379".
	Addr string
	// DB is the Redis database number. Default 0.
	DB int
	// Username and Password authenticate with AUTH (ACL user names need
	// Redis 6 or later). Both are optional.
	Username string
	Password string
	// TLS, when not nil, connects over TLS with this configuration.
	TLS *tls.Config
	// KeyPrefix starts every key Arus writes, so several installations can
	// share one database: 1 to 64 characters of a-z, A-Z, 0-9, '.', '_',
	// '-' and ':'. Default "arus".
	KeyPrefix string
	// LeaseTTL is how long a consumer group member owns its partitions
	// without a heartbeat. A member that crashes loses its partitions after
	// this long; a member that stops cleanly hands them over at once. The
	// heartbeat runs every LeaseTTL/3. Default 10s; at least 500ms.
	LeaseTTL time.Duration
	// RetentionInterval is how often the broker enforces retention in the
	// background. Default 1 minute; negative turns the background run off
	// ([Broker.EnforceRetention] still works).
	RetentionInterval time.Duration
	// HardCapBytes, when positive, caps every partition at this many bytes
	// of records: when retention finds a partition above it, it deletes the
	// oldest records even when a group has not consumed them yet, and says
	// so with a warning and in [Broker.Stats]. Default 0: no cap, records a
	// registered group has not consumed are never deleted.
	HardCapBytes int64
	// PoolSize is the number of connections in the client's pool, which
	// serves produce, reads, administration and the consumers' heartbeats,
	// lease renewals and commits (all short commands). Default: go-redis's
	// default (10 per CPU). Each Consume call also opens one connection of
	// its own, outside the pool, for its blocking reads, so the number of
	// Consume calls is bounded by the server's maxclients, not by the pool;
	// a Consume call that cannot open it fails.
	PoolSize int
	// DialTimeout bounds connecting to Redis. Default 5s.
	DialTimeout time.Duration

	stream.Options
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return stream.Invalidf("redis address %q: want host:port", c.Addr)
	}
	if c.DB < 0 {
		return stream.Invalidf("redis database %d is negative", c.DB)
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if err := validatePrefix(c.KeyPrefix); err != nil {
		return err
	}
	switch {
	case c.LeaseTTL == 0:
		c.LeaseTTL = DefaultLeaseTTL
	case c.LeaseTTL < 500*time.Millisecond:
		return stream.Invalidf("lease TTL %s is too short; use 500ms or more", c.LeaseTTL)
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = DefaultRetentionInterval
	}
	if c.HardCapBytes < 0 {
		return stream.Invalidf("hard cap %d bytes is negative", c.HardCapBytes)
	}
	if c.PoolSize < 0 {
		return stream.Invalidf("pool size %d is negative", c.PoolSize)
	}
	if c.DialTimeout < 0 {
		return stream.Invalidf("dial timeout %s is negative", c.DialTimeout)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	return c.Options.Validate()
}

func validatePrefix(p string) error {
	if len(p) > 64 {
		return stream.Invalidf("key prefix %.20q... is %d characters long; the limit is 64", p, len(p))
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == ':' {
			continue
		}
		return stream.Invalidf("key prefix %q has %q at position %d; use only a-z, A-Z, 0-9, '.', '_', '-' and ':'", p, c, i+1)
	}
	return nil
}

// ParseURL parses a broker URL into a Config:
//
//	redis://[user[:password]@]host[:port][/db][?param=value&...]
//	rediss://...   the same over TLS (server name from host)
//
// The port defaults to 6379 and db to 0. Parameters: prefix (KeyPrefix),
// lease_ttl (LeaseTTL, a Go duration), retention_interval, hard_cap_bytes,
// pool_size, dial_timeout, partitions (DefaultPartitions), max_record_bytes
// and strict (true or false). Errors wrap [stream.ErrInvalid] and never show
// the password. The result is not yet validated.
func ParseURL(raw string) (Config, error) {
	var c Config
	u, err := url.Parse(raw)
	if err != nil {
		return c, stream.Invalidf("broker URL: %v", redact(raw, err))
	}
	shown := u.Redacted()
	switch u.Scheme {
	case "redis":
	case "rediss":
		c.TLS = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	default:
		return c, stream.Invalidf("broker URL %q: scheme %q is not redis or rediss", shown, u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return c, stream.Invalidf("broker URL %q: no host; want redis://host:6379/0", shown)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return c, stream.Invalidf("broker URL %q: no host; want redis://host:6379/0", shown)
	}
	if port == "" {
		port = "6379"
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return c, stream.Invalidf("broker URL %q: port %q is not a number from 1 to 65535", shown, port)
	}
	c.Addr = net.JoinHostPort(host, port)
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return c, stream.Invalidf("broker URL %q: database %q is not a number of 0 or more", shown, db)
		}
		c.DB = n
	}
	if u.Fragment != "" {
		return c, stream.Invalidf("broker URL %q: unexpected fragment %q", shown, u.Fragment)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return c, stream.Invalidf("broker URL %q: query: %v", shown, err)
	}
	for name, values := range q {
		if len(values) != 1 {
			return c, stream.Invalidf("broker URL %q: parameter %q is given %d times", shown, name, len(values))
		}
		if err := c.setParam(name, values[0]); err != nil {
			return c, stream.Invalidf("broker URL %q: %v", shown, err)
		}
	}
	return c, nil
}

func (c *Config) setParam(name, v string) error {
	duration := func(d *time.Duration) error {
		x, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("parameter %s=%q is not a duration such as 10s", name, v)
		}
		*d = x
		return nil
	}
	integer := func(set func(int64)) error {
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("parameter %s=%q is not a whole number", name, v)
		}
		set(x)
		return nil
	}
	switch name {
	case "prefix":
		c.KeyPrefix = v
		if v == "" {
			return fmt.Errorf("parameter prefix is empty")
		}
		return nil
	case "lease_ttl":
		return duration(&c.LeaseTTL)
	case "retention_interval":
		return duration(&c.RetentionInterval)
	case "dial_timeout":
		return duration(&c.DialTimeout)
	case "hard_cap_bytes":
		return integer(func(x int64) { c.HardCapBytes = x })
	case "pool_size":
		return integer(func(x int64) { c.PoolSize = int(x) })
	case "partitions":
		x, err := strconv.ParseInt(v, 10, 32)
		if err != nil || x < 1 || x > stream.MaxPartitions {
			return fmt.Errorf("parameter partitions=%q is not a partition count from 1 to %d", v, stream.MaxPartitions)
		}
		c.DefaultPartitions = int32(x)
		return nil
	case "max_record_bytes":
		return integer(func(x int64) { c.MaxRecordBytes = int(x) })
	case "strict":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("parameter strict=%q is not true or false", v)
		}
		c.Strict = b
		return nil
	}
	return fmt.Errorf("unknown parameter %q; known: prefix, lease_ttl, retention_interval, hard_cap_bytes, pool_size, dial_timeout, partitions, max_record_bytes, strict", name)
}

// redact removes the password of a URL that url.Parse rejected from the
// error message.
func redact(raw string, err error) string {
	msg := err.Error()
	if at := strings.LastIndex(raw, "@"); at > 0 {
		if i := strings.Index(raw, "://"); i >= 0 && i+3 < at {
			userinfo := raw[i+3 : at]
			if colon := strings.Index(userinfo, ":"); colon >= 0 {
				msg = strings.ReplaceAll(msg, userinfo[colon+1:], "xxxxx")
			}
		}
	}
	return msg
}
