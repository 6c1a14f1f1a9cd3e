// Package backbone opens the stream backend that a broker URL names: the
// embedded log in a data directory (the default), Apache Kafka or Redis
// Streams. A service reads the URL from its flags or environment and
// calls Open, so the same code runs on every backend:
//
//	b, err := backbone.Open(ctx, os.Getenv("BROKER"), "./data/stream", stream.Options{Logger: log})
//
// [Collector] exposes a broker's topics and consumer groups as Prometheus
// metrics.
package backbone

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
	"github.com/arus-platform/arus/stream/kafka"
	"github.com/arus-platform/arus/stream/redis"
)

// Kind is a backend.
type Kind string

const (
	Embedded Kind = "embedded"
	Kafka    Kind = "kafka"
	Redis    Kind = "redis"
)

// Forms lists the broker URLs Open accepts, for error messages and help.
const Forms = "embedded (the default), kafka://host:9092[,host:9092...][?options], redis://[user:password@]host:6379[/db] or rediss://host:6379[/db]"

// Parse checks a broker URL and returns its backend. An empty URL means
// embedded. A bad URL fails with an error wrapping stream.ErrInvalid that
// names the value and the accepted forms.
func Parse(raw string) (Kind, error) {
	s := strings.TrimSpace(raw)
	if s == "" || s == "embedded" || s == "embedded://" {
		return Embedded, nil
	}
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return "", stream.Invalidf("broker URL %q has no scheme; use %s", redact(raw), Forms)
	}
	switch strings.ToLower(scheme) {
	case "kafka":
		if _, err := kafka.ParseURL(s); err != nil {
			return "", err
		}
		return Kafka, nil
	case "redis", "rediss":
		if _, err := redis.ParseURL(s); err != nil {
			return "", err
		}
		return Redis, nil
	}
	return "", stream.Invalidf("broker URL %q has unknown scheme %q; use %s", redact(raw), scheme, Forms)
}

// redact hides the password of a URL's user information.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Open opens the broker that url names: embedded (the default; its data
// lives in dataDir), kafka://… or redis://… / rediss://…. Fields of opts
// left zero keep what the URL says or the backend's default; the others
// override the URL.
func Open(ctx context.Context, url, dataDir string, opts stream.Options) (stream.Broker, error) {
	kind, err := Parse(url)
	if err != nil {
		return nil, err
	}
	var b stream.Broker
	switch kind {
	case Embedded:
		if dataDir == "" {
			return nil, stream.Invalidf("the embedded broker needs a data directory")
		}
		b, err = embedded.New(ctx, embedded.Config{Dir: dataDir, Options: opts})
	case Kafka:
		var cfg kafka.Config
		if cfg, err = kafka.ParseURL(strings.TrimSpace(url)); err == nil {
			merge(&cfg.Options, opts)
			b, err = kafka.New(ctx, cfg)
		}
	case Redis:
		var cfg redis.Config
		if cfg, err = redis.ParseURL(strings.TrimSpace(url)); err == nil {
			merge(&cfg.Options, opts)
			b, err = redis.New(ctx, cfg)
		}
	default:
		err = fmt.Errorf("%w: the %s backend is not part of this build", stream.ErrInvalid, kind)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s broker: %w", kind, err)
	}
	return b, nil
}

// merge sets the fields of dst that src sets.
func merge(dst *stream.Options, src stream.Options) {
	dst.Strict = dst.Strict || src.Strict
	if src.DefaultPartitions != 0 {
		dst.DefaultPartitions = src.DefaultPartitions
	}
	if src.MaxRecordBytes != 0 {
		dst.MaxRecordBytes = src.MaxRecordBytes
	}
	if src.Logger != nil {
		dst.Logger = src.Logger
	}
}
