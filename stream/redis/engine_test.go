package redis

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/streamtest"
)

// privateRedis is a redis-server process of the test's own, with an
// append-only file synced on every write, that the test can kill and start
// again.
type privateRedis struct {
	t     *testing.T
	addr  string
	dir   string
	extra []string // more server arguments

	mu  sync.Mutex
	cmd *exec.Cmd
}

func startPrivateRedis(t *testing.T, extra ...string) *privateRedis {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server is not installed; the engine restart test needs to run its own")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	r := &privateRedis{t: t, addr: addr, dir: t.TempDir(), extra: extra}
	r.start(path)
	t.Cleanup(r.kill)
	return r
}

func (r *privateRedis) start(path string) {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	args := append([]string{"--bind", "127.0.0.1", "--port", port, "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--loglevel", "warning"}, r.extra...)
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	c := goredis.NewClient(&goredis.Options{Addr: r.addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not answer within 10s", r.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server as a crash would (SIGKILL).
func (r *privateRedis) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// TestConformanceEngineRestart runs the conformance suite against a
// private Redis with appendfsync always, including the test that kills and
// restarts the engine under load: nothing acknowledged may be lost.
func TestConformanceEngineRestart(t *testing.T) {
	testAddr(t) // same skip rules as the other tests
	if testing.Short() {
		t.Skip("starts its own redis-server; skipped with -short")
	}
	srv := startPrivateRedis(t)
	path, _ := exec.LookPath("redis-server")
	var n int
	streamtest.Run(t, streamtest.Backend{
		Open: func(t *testing.T) func() stream.Broker {
			n++
			prefix := "arustest:" + strconv.Itoa(n)
			return func() stream.Broker {
				b, err := New(context.Background(), Config{
					Addr:              srv.addr,
					KeyPrefix:         prefix,
					LeaseTTL:          2 * time.Second,
					RetentionInterval: -1,
					Options:           stream.Options{Logger: quietLogger()},
				})
				if err != nil {
					t.Fatalf("open redis broker: %v", err)
				}
				return b
			}
		},
		Features: streamtest.Features{
			Retention:        true,
			RebalanceTimeout: 20 * time.Second,
			RestartEngine: func(t *testing.T) {
				srv.kill()
				srv.start(path)
			},
		},
	})
}

func (r *privateRedis) String() string { return fmt.Sprintf("redis-server on %s", r.addr) }

// A consumer rides out a restart of Redis: it reconnects, takes its
// partitions again and handles every record acknowledged before and after.
func TestConsumeAcrossEngineRestart(t *testing.T) {
	testAddr(t)
	if testing.Short() {
		t.Skip("starts its own redis-server; skipped with -short")
	}
	srv := startPrivateRedis(t)
	path, _ := exec.LookPath("redis-server")
	ctx := testContext(t)
	b := openBroker(t, Config{Addr: srv.addr, KeyPrefix: "arustest", LeaseTTL: time.Second, RetentionInterval: -1,
		Options: stream.Options{Logger: quietLogger()}})
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{"t"}, RetryBackoff: 50 * time.Millisecond},
			func(_ context.Context, batch []*stream.Record) error {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range batch {
					seen[string(r.Value)] = true
				}
				return nil
			})
	}()
	var acked []string
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			v := fmt.Sprint("v", i)
			if err := b.Produce(ctx, &stream.Record{Topic: "t", Key: []byte(v), Value: []byte(v)}); err == nil {
				acked = append(acked, v)
			}
		}
	}
	produce(0, 50)
	srv.kill()
	produce(50, 53) // fail: Redis is down
	srv.start(path)
	deadline := time.Now().Add(10 * time.Second)
	for b.Ping(ctx) != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	produce(60, 110)
	deadline = time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for _, v := range acked {
			if !seen[v] {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged records never handled after the restart", missing, len(acked))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(acked) < 100 {
		t.Errorf("only %d records acknowledged, want at least the 100 produced while Redis was up", len(acked))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Consume: %v", err)
	}
}

// A server that disables CONFIG is used without complaint: the broker
// cannot tell whether it persists, so it does not warn.
func TestConfigDisabled(t *testing.T) {
	testAddr(t)
	if testing.Short() {
		t.Skip("starts its own redis-server; skipped with -short")
	}
	srv := startPrivateRedis(t, "--rename-command", "CONFIG", "", "--appendonly", "no")
	var buf bytes.Buffer
	var mu sync.Mutex
	b := openBroker(t, Config{Addr: srv.addr, RetentionInterval: -1,
		Options: stream.Options{Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))}})
	if err := b.Produce(testContext(t), &stream.Record{Topic: "t", Value: []byte("x")}); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(buf.String(), "keeps nothing on disk") {
		t.Errorf("warned about persistence although CONFIG is disabled: %s", buf.String())
	}
}
