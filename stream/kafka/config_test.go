package kafka

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url   string
		check func(t *testing.T, c Config)
	}{
		{"kafka://h1:9092", func(t *testing.T, c Config) {
			if want := []string{"h1:9092"}; !slices.Equal(c.Brokers, want) {
				t.Errorf("got brokers %v, want %v", c.Brokers, want)
			}
			if c.ClientID != DefaultClientID || c.SessionTimeout != DefaultSessionTimeout || c.DefaultPartitions != 4 ||
				c.MaxRecordBytes != stream.DefaultMaxRecordBytes || c.ReplicationFactor != -1 || c.Linger != DefaultLinger ||
				c.CommitInterval != DefaultCommitInterval || c.FetchMaxWait != DefaultFetchMaxWait ||
				!slices.Equal(c.Balancers, []string{"range", "cooperative-sticky"}) || c.Compression != "none" {
				t.Errorf("got %+v, want the defaults filled in", c)
			}
		}},
		{"kafka://h1:9092,h2:9093,h3", func(t *testing.T, c Config) {
			if want := []string{"h1:9092", "h2:9093", "h3:9092"}; !slices.Equal(c.Brokers, want) {
				t.Errorf("got brokers %v, want %v", c.Brokers, want)
			}
		}},
		{"kafka://[::1]:9094,[fe80::1]/", func(t *testing.T, c Config) {
			if want := []string{"[::1]:9094", "[fe80::1]:9092"}; !slices.Equal(c.Brokers, want) {
				t.Errorf("got brokers %v, want %v", c.Brokers, want)
			}
		}},
		{"kafka://alice:p%40ss@h1:9092?sasl=SCRAM-SHA-512&tls=true", func(t *testing.T, c Config) {
			want := SASLConfig{Mechanism: SASLScramSHA512, User: "alice", Password: "p@ss"}
			if c.SASL != want {
				t.Errorf("got SASL %+v, want %+v", c.SASL, want)
			}
			if !c.TLS.Enabled {
				t.Errorf("got TLS off, want on")
			}
		}},
		{"kafka://h1:9092?sasl=plain&user=bob&password=x%26y", func(t *testing.T, c Config) {
			want := SASLConfig{Mechanism: SASLPlain, User: "bob", Password: "x&y"}
			if c.SASL != want {
				t.Errorf("got SASL %+v, want %+v", c.SASL, want)
			}
		}},
		{"kafka://h1:9092?ca=/etc/ca.pem&insecure_skip_verify=1", func(t *testing.T, c Config) {
			if c.TLS.CAFile != "/etc/ca.pem" || !c.TLS.InsecureSkipVerify || !c.TLS.on() {
				t.Errorf("got TLS %+v, want CA file, insecure and TLS on", c.TLS)
			}
		}},
		{"kafka://h1:9092?strict=true&partitions=12&max_record_bytes=2097152&replication_factor=3&client_id=svc", func(t *testing.T, c Config) {
			if !c.Strict || c.DefaultPartitions != 12 || c.MaxRecordBytes != 2<<20 || c.ReplicationFactor != 3 || c.ClientID != "svc" {
				t.Errorf("got %+v, want strict, 12 partitions, 2 MiB, rf 3, client id svc", c)
			}
		}},
		{"kafka://h1:9092?session_timeout=10s&heartbeat_interval=500ms&rebalance_timeout=20s&fetch_max_wait=1s&linger=0s&commit_interval=0", func(t *testing.T, c Config) {
			if c.SessionTimeout != 10*time.Second || c.HeartbeatInterval != 500*time.Millisecond ||
				c.RebalanceTimeout != 20*time.Second || c.FetchMaxWait != time.Second || c.Linger >= 0 || c.CommitInterval >= 0 {
				t.Errorf("got %+v, want 10s, 500ms, 20s, 1s, linger off and commits after every batch", c)
			}
		}},
		{"kafka://h1:9092?compression=ZSTD", func(t *testing.T, c Config) {
			if c.Compression != "zstd" {
				t.Errorf("got compression %q, want zstd", c.Compression)
			}
		}},
		{"kafka://h1:9092?balancers=Cooperative-Sticky,roundrobin,sticky,range", func(t *testing.T, c Config) {
			if want := []string{"cooperative-sticky", "roundrobin", "sticky", "range"}; !slices.Equal(c.Balancers, want) {
				t.Errorf("got balancers %v, want %v", c.Balancers, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := ParseURL(tt.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		url  string
		want string // a part of the message
	}{
		{"h1:9092", "missing scheme"},
		{"redis://h1:6379", `scheme "redis" is not kafka`},
		{"kafka://", "no broker"},
		{"kafka://?tls=true", "no broker"},
		{"kafka://h1:9092,,h2:9092", "empty broker"},
		{"kafka://h1:port", `port "port"`},
		{"kafka://h1:70000", `port "70000"`},
		{"kafka://:9092", "has no host"},
		{"kafka://::1", `broker "::1" is not host:port`},
		{"kafka://h1:9092/topics", `unexpected path "/topics"`},
		{"kafka://h1:9092?tls=maybe", `tls="maybe": use true or false`},
		{"kafka://h1:9092?partitions=0", "partitions=0"},
		{"kafka://h1:9092?partitions=many", `partitions="many"`},
		{"kafka://h1:9092?partitions=20000", "partition count 20000 is out of range"},
		{"kafka://h1:9092?max_record_bytes=-5", "max_record_bytes=-5"},
		{"kafka://h1:9092?session_timeout=soon", `session_timeout="soon"`},
		{"kafka://h1:9092?heartbeat_interval=10s&session_timeout=5s", "heartbeat interval 10s must be below the session timeout 5s"},
		{"kafka://h1:9092?replication_factor=-3", "replication factor -3"},
		{"kafka://h1:9092?topic=x", `unknown parameter "topic"`},
		{"kafka://h1:9092?tls=true&tls=false", `"tls" is given 2 times`},
		{"kafka://h1:9092?sasl=gssapi&user=u&password=p", `sasl mechanism "gssapi" is unknown`},
		{"kafka://h1:9092?sasl=plain&user=u", "user and password are both required"},
		{"kafka://u:p@h1:9092", "without a mechanism"},
		{"kafka://u@h1:9092?sasl=plain&user=v&password=p", "user given both"},
		{"kafka://h1:9092?cert=/c.pem", "must be set together"},
		{"kafka://h1:9092?%zz=1", "bad query"},
		{"kafka://h1:9092?compression=brotli", `compression "brotli" is unknown`},
		{"kafka://h1:9092?balancers=range,fair", `balancer "fair" is unknown`},
		{"kafka://h1:9092?balancers=", `balancer "" is unknown`},
		{"kafka://h1:9092?balancers=range,Range", `balancer "range" is listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := ParseURL(tt.url)
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if !errors.Is(err, stream.ErrInvalid) {
				t.Errorf("got %v, want an error wrapping stream.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseURLRedactsPassword(t *testing.T) {
	for _, u := range []string{
		"kafka://alice:s3cret@h1:9092?sasl=nope",
		"kafka://h1:9092?password=s3cret&bogus=1",
		"kafka://alice:s3cret@h1:bad",
	} {
		_, err := ParseURL(u)
		if err == nil {
			t.Fatalf("ParseURL(%q): got no error, want one", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseURL: got %q, want the password left out", err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no brokers", Config{}, "brokers: none given"},
		{"bad broker", Config{Brokers: []string{"h1"}}, `broker "h1" is not host:port`},
		{"negative session timeout", Config{Brokers: []string{"h:1"}, SessionTimeout: -time.Second}, "session timeout -1s is negative"},
		{"long linger", Config{Brokers: []string{"h:1"}, Linger: 2 * time.Minute}, "linger 2m0s is over the limit"},
		{"bad default partitions", Config{Brokers: []string{"h:1"}, Options: stream.Options{DefaultPartitions: -1}}, "default partitions"},
		{"key without cert", Config{Brokers: []string{"h:1"}, TLS: TLSConfig{KeyFile: "k.pem"}}, "must be set together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil || !errors.Is(err, stream.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an invalid-argument error containing %q", err, tt.want)
			}
		})
	}
}

func TestTLSFiles(t *testing.T) {
	tests := []struct {
		name string
		tls  TLSConfig
		want string
	}{
		{"missing CA file", TLSConfig{CAFile: "/nonexistent/ca.pem"}, "tls ca file"},
		{"missing cert", TLSConfig{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}, "tls cert file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Brokers: []string{"h:1"}, TLS: tt.tls}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			_, err := c.clientOpts()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
