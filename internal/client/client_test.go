package client_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/client"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
	"github.com/arus-platform/arus/stream/streamtest"
)

// serve starts an API server over an embedded broker in a fresh directory
// and returns its URL.
func serve(t *testing.T, opts stream.Options) string {
	t.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), RetentionInterval: -1, Options: opts})
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	s, err := api.New(b, api.Config{Logger: opts.Logger})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	srv.Config.RegisterOnShutdown(s.CloseStreams)
	t.Cleanup(func() {
		s.CloseStreams()
		srv.Close()
		_ = b.Close()
	})
	return srv.URL
}

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, "test-key")
	if err != nil {
		t.Fatalf("client.New(%q): %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The client is a stream.Broker: it passes the same conformance suite as
// the engines, over HTTP.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite over HTTP takes a while; skipped with -short")
	}
	streamtest.Run(t, streamtest.Backend{
		Open: func(t *testing.T) func() stream.Broker {
			url := serve(t, stream.Options{})
			return func() stream.Broker {
				c, err := client.New(url, "")
				if err != nil {
					t.Fatalf("client.New: %v", err)
				}
				return c
			}
		},
		Features: streamtest.Features{RebalanceTimeout: 15 * time.Second},
	})
}

func TestNewRejectsBadURLs(t *testing.T) {
	tests := []struct {
		url  string
		want string // "" means accepted
	}{
		{"http://localhost:8080", ""},
		{"https://arus.example:443/", ""},
		{"localhost:8080", ""},
		{"ftp://localhost", "ftp://localhost"},
		{"http://", "http://"},
		{"http://host:8080/api", "http://host:8080/api"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := client.New(tt.url, "")
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New(%q) = %v, want no error", tt.url, err)
			case tt.want != "" && err == nil:
				t.Fatalf("New(%q) = nil error, want one naming %q", tt.url, tt.want)
			case tt.want != "" && !errors.Is(err, stream.ErrInvalid):
				t.Fatalf("New(%q) = %v, want ErrInvalid", tt.url, err)
			case tt.want != "" && !bytes.Contains([]byte(err.Error()), []byte(tt.want)):
				t.Fatalf("New(%q) = %v, want it to name %q", tt.url, err, tt.want)
			}
		})
	}
}

// Binary keys, values and headers survive the JSON API byte for byte.
func TestBinaryRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, serve(t, stream.Options{}))
	in := []*stream.Record{
		{Topic: "bin", Key: []byte{0xff, 0x00, 0x01}, Value: []byte{0x80, 0x81, 0x82, 0}, Headers: []stream.Header{{Key: "h", Value: []byte{0xfe}}}},
		{Topic: "bin", Key: []byte("text"), Value: []byte(`{"json":"<&>"}`), Headers: []stream.Header{{Key: "a", Value: []byte("1")}, {Key: "a", Value: []byte("2")}}},
		{Topic: "bin", Value: nil},
	}
	if err := c.Produce(ctx, in...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	for i, r := range in {
		if r.ID() == "" {
			t.Errorf("record %d has no id after Produce", i)
		}
	}
	var got []*stream.Record
	info, err := c.DescribeTopic(ctx, "bin")
	if err != nil {
		t.Fatalf("DescribeTopic: %v", err)
	}
	for _, p := range info.Offsets {
		recs, err := c.Read(ctx, "bin", p.Partition, 0, 100)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		got = append(got, recs...)
	}
	if len(got) != len(in) {
		t.Fatalf("read %d records, want %d", len(got), len(in))
	}
	byID := map[string]*stream.Record{}
	for _, r := range got {
		byID[r.ID()] = r
	}
	for i, want := range in {
		g, ok := byID[want.ID()]
		if !ok {
			t.Errorf("record %d (id %s) not read back", i, want.ID())
			continue
		}
		if !g.Equal(want) {
			t.Errorf("record %d: got key %q value %q headers %v, want key %q value %q headers %v",
				i, g.Key, g.Value, g.Headers, want.Key, want.Value, want.Headers)
		}
		if g.Partition != want.Partition || g.Offset != want.Offset {
			t.Errorf("record %d: read at %d/%d, Produce said %d/%d", i, g.Partition, g.Offset, want.Partition, want.Offset)
		}
	}
}

// Errors unwrap to the sentinel the server saw, and keep its detail.
func TestErrorsMapToSentinels(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, serve(t, stream.Options{MaxRecordBytes: 1000}))
	if err := c.CreateTopic(ctx, stream.Topic{Name: "exists", Partitions: 1}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	if err := c.Produce(ctx, &stream.Record{Topic: "exists", Value: []byte("x")}); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	tests := []struct {
		name string
		call func() error
		want error
		text string
	}{
		{"unknown topic", func() error { _, err := c.DescribeTopic(ctx, "nope"); return err }, stream.ErrTopicNotFound, "nope"},
		{"topic exists", func() error { return c.CreateTopic(ctx, stream.Topic{Name: "exists", Partitions: 1}) }, stream.ErrTopicExists, "exists"},
		{"unknown group", func() error { _, err := c.DescribeGroup(ctx, "ghosts"); return err }, stream.ErrGroupNotFound, "ghosts"},
		{"offset beyond end", func() error { _, err := c.Read(ctx, "exists", 0, 99, 10); return err }, stream.ErrOffsetOutOfRange, "99"},
		{"record too large", func() error {
			return c.Produce(ctx, &stream.Record{Topic: "exists", Value: bytes.Repeat([]byte("x"), 2000)})
		}, stream.ErrRecordTooLarge, "1000"},
		{"invalid topic name", func() error { _, err := c.DescribeTopic(ctx, "bad name"); return err }, stream.ErrInvalid, "bad name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tt.text)) {
				t.Fatalf("got %q, want it to name %q", err, tt.text)
			}
		})
	}
	var pe *stream.ProduceError
	err := c.Produce(ctx, &stream.Record{Topic: "exists", Value: []byte("ok")}, &stream.Record{Topic: "exists", Value: bytes.Repeat([]byte("x"), 2000)})
	if !errors.As(err, &pe) || len(pe.Failed) != 2 {
		t.Fatalf("Produce with one record too large = %v, want a ProduceError failing both records", err)
	}
}

func TestUnreachableServer(t *testing.T) {
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	c := newClient(t, url)
	err := c.Ping(context.Background())
	if !errors.Is(err, stream.ErrUnavailable) {
		t.Fatalf("Ping of a closed server = %v, want ErrUnavailable", err)
	}
	var pe *stream.ProduceError
	err = c.Produce(context.Background(), &stream.Record{Topic: "t", Value: []byte("v")})
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || !errors.Is(err, stream.ErrUnavailable) {
		t.Fatalf("Produce to a closed server = %v, want a ProduceError wrapping ErrUnavailable", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := c.ListTopics(context.Background()); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("ListTopics after Close = %v, want ErrClosed", err)
	}
}

// A consumer whose handler fails part of a batch sees the rest again, and
// the group commits exactly what was processed.
func TestConsumeAcknowledgesWhatWasProcessed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newClient(t, serve(t, stream.Options{}))
	if err := c.CreateTopic(ctx, stream.Topic{Name: "acks", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var in []*stream.Record
	for i := range 10 {
		in = append(in, &stream.Record{Topic: "acks", Value: []byte{byte('0' + i)}})
	}
	if err := c.Produce(ctx, in...); err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		seen   []int64
		failed bool
	)
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	cfg := stream.ConsumerConfig{Group: "g", Topics: []string{"acks"}, MaxBatch: 10, RetryBackoff: 10 * time.Millisecond}
	go func() {
		done <- c.Consume(cctx, cfg, func(ctx context.Context, batch []*stream.Record) error {
			mu.Lock()
			defer mu.Unlock()
			for i, r := range batch {
				if r.Offset == 6 && !failed {
					failed = true
					return &stream.PartialError{N: i, Err: errors.New("not now")}
				}
				seen = append(seen, r.Offset)
			}
			if len(seen) >= 10 {
				stop()
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Consume: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Consume did not see all records in time")
	}
	want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if len(seen) != len(want) {
		t.Fatalf("handled offsets %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("handled offsets %v, want %v", seen, want)
		}
	}
	g, err := c.DescribeGroup(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Offsets) != 1 || g.Offsets[0].Committed != 10 {
		t.Fatalf("group offsets after Consume returned: %+v, want committed 10", g.Offsets)
	}
}
