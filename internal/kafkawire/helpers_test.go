package kafkawire

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

func testLogger() *slog.Logger {
	if os.Getenv("ARUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// server is an embedded log in a test directory served by a listener on a
// loopback port; restart stops both and starts them again on the same
// directory and port, as a restarted process would.
type server struct {
	t    testing.TB
	dir  string
	addr string

	mu  sync.Mutex
	log *embedded.Broker
	l   *Listener
	ran chan error
}

func startServer(t testing.TB, opts ...func(*Config)) *server {
	t.Helper()
	s := &server{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
	s.start(opts...)
	t.Cleanup(s.stop)
	return s
}

func (s *server) start(opts ...func(*Config)) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lg, err := embedded.New(ctx, embedded.Config{Dir: s.dir, Options: stream.Options{Logger: testLogger()}})
	if err != nil {
		s.t.Fatalf("embedded.New: %v", err)
	}
	cfg := Config{Log: lg, Logger: testLogger()}
	for _, o := range opts {
		o(&cfg)
	}
	l, err := New(cfg)
	if err != nil {
		s.t.Fatalf("New: %v", err)
	}
	var ln net.Listener
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", s.addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond) // the old socket is still closing
	}
	if err != nil {
		s.t.Fatalf("listen: %v", err)
	}
	s.mu.Lock()
	s.addr, s.log, s.l, s.ran = ln.Addr().String(), lg, l, make(chan error, 1)
	ran := s.ran
	s.mu.Unlock()
	go func() { ran <- l.Serve(context.Background(), ln) }()
}

func (s *server) stop() {
	s.mu.Lock()
	l, lg, ran := s.l, s.log, s.ran
	s.l, s.log = nil, nil
	s.mu.Unlock()
	if l == nil {
		return
	}
	l.Close()
	if err := <-ran; err != nil {
		s.t.Errorf("Serve: %v", err)
	}
	if err := lg.Close(); err != nil {
		s.t.Errorf("close log: %v", err)
	}
}

func (s *server) restart(opts ...func(*Config)) {
	s.stop()
	s.start(opts...)
}

func (s *server) broker() *embedded.Broker {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
