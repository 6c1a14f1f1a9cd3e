package backbone

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/arus-platform/arus/internal/testenv"
	"github.com/arus-platform/arus/stream"
)

func TestParse(t *testing.T) {
	tests := []struct {
		url  string
		want Kind
		err  string // in the error, when one is wanted
	}{
		{"", Embedded, ""},
		{"embedded", Embedded, ""},
		{" embedded ", Embedded, ""},
		{"kafka://h1:9092,h2:9092", Kafka, ""},
		{"kafka://localhost", Kafka, ""},
		{"redis://127.0.0.1:6379/0", Redis, ""},
		{"rediss://cache.example:6380/2", Redis, ""},
		{"redis://user:secret@host:6379/1", Redis, ""},
		{"localhost:9092", "", `"localhost:9092" has no scheme`},
		{"nats://host:4222", "", `unknown scheme "nats"`},
		{"kafka://", "", "no broker"},
		{"kafka://h1:notaport", "", "h1:notaport"},
		{"redis://", "", "no host"},
		{"redis://host:6379/zero", "", `"zero"`},
		{"redis://host:99999", "", `"99999"`},
		{"ftp://user:secret@host", "", "ftp"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := Parse(tt.url)
			if tt.err == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Parse(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) = %q, nil; want an error naming %q", tt.url, got, tt.err)
			}
			if !errors.Is(err, stream.ErrInvalid) {
				t.Errorf("Parse(%q) error %v does not wrap ErrInvalid", tt.url, err)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Parse(%q) error %q does not name %q", tt.url, err, tt.err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Parse(%q) error %q shows the password", tt.url, err)
			}
		})
	}
}

func quiet() stream.Options {
	return stream.Options{Logger: slog.New(slog.DiscardHandler)}
}

func ping(t *testing.T, b stream.Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestOpenEmbedded(t *testing.T) {
	b, err := Open(context.Background(), "", t.TempDir(), quiet())
	if err != nil {
		t.Fatalf("Open(embedded): %v", err)
	}
	ping(t, b)
	if _, err := Open(context.Background(), "embedded", "", quiet()); !errors.Is(err, stream.ErrInvalid) {
		t.Fatalf("Open(embedded) without a data directory = %v, want ErrInvalid", err)
	}
}

func TestOpenKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	defer c.Close()
	b, err := Open(context.Background(), "kafka://"+strings.Join(c.ListenAddrs(), ","), "", quiet())
	if err != nil {
		t.Fatalf("Open(kafka): %v", err)
	}
	ping(t, b)
}

func TestOpenRedis(t *testing.T) {
	addr := testenv.Redis(t)
	b, err := Open(context.Background(), "redis://"+addr+"/0?prefix=arus-backbone-test", "", quiet())
	if err != nil {
		t.Fatalf("Open(redis): %v", err)
	}
	ping(t, b)
}

func TestOpenRejectsBadURL(t *testing.T) {
	_, err := Open(context.Background(), "mqtt://broker", t.TempDir(), quiet())
	if !errors.Is(err, stream.ErrInvalid) || !strings.Contains(err.Error(), "mqtt://broker") {
		t.Fatalf("Open(mqtt://broker) = %v, want ErrInvalid naming the URL", err)
	}
}
