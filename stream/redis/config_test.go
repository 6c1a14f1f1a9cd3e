package redis

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want Config
		tls  bool
	}{
		{url: "redis://localhost", want: Config{Addr: "localhost:6379"}},
		{url: "redis://10.0.0.5:6380/2", want: Config{Addr: "10.0.0.5:6380", DB: 2}},
		{url: "redis://:s3cret@host:6379/0", want: Config{Addr: "host:6379", Password: "s3cret"}},
		{url: "redis://app:pw@host/1?prefix=shop", want: Config{Addr: "host:6379", DB: 1, Username: "app", Password: "pw", KeyPrefix: "shop"}},
		{url: "rediss://cache.example.com:6390", want: Config{Addr: "cache.example.com:6390"}, tls: true},
		{url: "redis://[::1]:7000", want: Config{Addr: "[::1]:7000"}},
		{
			url: "redis://h?lease_ttl=3s&retention_interval=30s&hard_cap_bytes=1048576&pool_size=20&dial_timeout=2s&partitions=8&max_record_bytes=2048&strict=true",
			want: Config{Addr: "h:6379", LeaseTTL: 3 * time.Second, RetentionInterval: 30 * time.Second, HardCapBytes: 1 << 20,
				PoolSize: 20, DialTimeout: 2 * time.Second,
				Options: stream.Options{DefaultPartitions: 8, MaxRecordBytes: 2048, Strict: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := ParseURL(tt.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if (got.TLS != nil) != tt.tls {
				t.Errorf("TLS = %v, want TLS %v", got.TLS, tt.tls)
			}
			if tt.tls && got.TLS.ServerName != strings.Split(tt.want.Addr, ":")[0] {
				t.Errorf("TLS server name %q, want the host of %s", got.TLS.ServerName, tt.want.Addr)
			}
			got.TLS = nil
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		url  string
		want string // part of the message
	}{
		{"http://host:6379", `scheme "http" is not redis or rediss`},
		{"redis://", "no host"},
		{"redis:host:6379", "no host"},
		{"redis://host:99999", `port "99999" is not a number from 1 to 65535`},
		{"redis://host/x", `database "x" is not a number`},
		{"redis://host/-1", `database "-1" is not a number`},
		{"redis://host?prefix=", "parameter prefix is empty"},
		{"redis://host?lease_ttl=soon", `lease_ttl="soon" is not a duration`},
		{"redis://host?strict=maybe", `strict="maybe" is not true or false`},
		{"redis://host?pool_size=many", `pool_size="many" is not a whole number`},
		{"redis://host?colour=blue", `unknown parameter "colour"`},
		{"redis://host?partitions=99999", `partitions="99999" is not a partition count from 1 to 10000`},
		{"redis://host?prefix=a&prefix=b", `parameter "prefix" is given 2 times`},
		{"redis://user:hunter2@host:x", "redis"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := ParseURL(tt.url)
			if !errors.Is(err, stream.ErrInvalid) {
				t.Fatalf("got %v, want an error wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestParseURLHidesPassword(t *testing.T) {
	_, err := ParseURL("redis://app:hunter2@host/1?colour=blue")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("got %v, want an error without the password", err)
	}
}

func TestConfigValidate(t *testing.T) {
	var c Config
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate of the zero Config: %v", err)
	}
	if c.Addr != DefaultAddr || c.KeyPrefix != DefaultKeyPrefix || c.LeaseTTL != DefaultLeaseTTL ||
		c.RetentionInterval != DefaultRetentionInterval || c.DefaultPartitions != 4 || c.MaxRecordBytes != stream.DefaultMaxRecordBytes || c.Logger == nil {
		t.Errorf("defaults not filled in: %+v", c)
	}
	bad := []struct {
		name string
		cfg  Config
		want string
	}{
		{"address without port", Config{Addr: "localhost"}, `address "localhost"`},
		{"negative db", Config{DB: -1}, "database -1"},
		{"prefix with space", Config{KeyPrefix: "my app"}, `key prefix "my app" has ' ' at position 3`},
		{"long prefix", Config{KeyPrefix: strings.Repeat("p", 65)}, "the limit is 64"},
		{"short lease", Config{LeaseTTL: 100 * time.Millisecond}, "lease TTL 100ms is too short"},
		{"negative cap", Config{HardCapBytes: -1}, "hard cap -1 bytes"},
		{"negative pool", Config{PoolSize: -2}, "pool size -2"},
		{"bad partitions", Config{Options: stream.Options{DefaultPartitions: -3}}, "partition count -3"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if !errors.Is(err, stream.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrInvalid saying %q", err, tt.want)
			}
		})
	}
}
