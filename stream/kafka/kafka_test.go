package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/streamtest"
)

// newCluster starts an in-process three-broker Kafka cluster that ends with
// the test.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{
		kfake.NumBrokers(3),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// testConfig returns a configuration for a cluster with short group
// timeouts, so that rebalances take milliseconds rather than seconds.
func testConfig(c *kfake.Cluster) Config {
	return Config{
		Brokers:           c.ListenAddrs(),
		SessionTimeout:    3 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout:  5 * time.Second,
		Options:           stream.Options{Logger: testLogger()},
	}
}

// testLogger discards logs unless ARUS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("ARUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func openBroker(t testing.TB, cfg Config) *Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	var engines sync.Map // *testing.T → *engine
	streamtest.Run(t, streamtest.Backend{
		Open: func(t *testing.T) func() stream.Broker {
			e := startEngine(t)
			engines.Store(t, e)
			return func() stream.Broker {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				b, err := New(ctx, testConfig(e.cluster()))
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return b
			}
		},
		Features: streamtest.Features{
			Retention: false,
			RestartEngine: func(t *testing.T) {
				e, ok := engines.Load(t)
				if !ok {
					t.Fatal("RestartEngine: no cluster was opened for this test")
				}
				e.(*engine).restart(t)
			},
			RebalanceTimeout: 20 * time.Second,
		},
	})
}

// engine is a kfake cluster that keeps its data in a directory, so that it
// can be stopped and started again on the same ports and data, as a real
// cluster restarts.
type engine struct {
	dir   string
	ports []int

	mu sync.Mutex
	c  *kfake.Cluster
}

func startEngine(t *testing.T) *engine {
	t.Helper()
	e := &engine{dir: t.TempDir()}
	e.c = newCluster(t, kfake.DataDir(e.dir))
	for _, addr := range e.c.ListenAddrs() {
		_, port, _ := strings.Cut(addr[strings.LastIndex(addr, ":"):], ":")
		n, err := strconv.Atoi(port)
		if err != nil {
			t.Fatalf("cluster address %q: %v", addr, err)
		}
		e.ports = append(e.ports, n)
	}
	t.Cleanup(func() { e.cluster().Close() })
	return e
}

func (e *engine) cluster() *kfake.Cluster {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.c
}

// restart stops the cluster, which writes its state to disk, and starts it
// again on the same ports from that state.
func (e *engine) restart(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.c.Close()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		e.c, err = kfake.NewCluster(kfake.Ports(e.ports...), kfake.DataDir(e.dir),
			kfake.GroupMinSessionTimeout(100*time.Millisecond))
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the ports may take a moment to free
	}
	t.Fatalf("restart kfake cluster on ports %v: %v", e.ports, err)
}

func TestCloseThenCalls(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	checks := []struct {
		name string
		err  error
	}{
		{"Ping", b.Ping(ctx)},
		{"Produce", b.Produce(ctx, &stream.Record{Topic: "t"})},
		{"Consume", b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"t"}}, func(context.Context, []*stream.Record) error { return nil })},
		{"CreateTopic", b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1})},
		{"DescribeGroup", func() error { _, err := b.DescribeGroup(ctx, "g"); return err }()},
	}
	for _, c := range checks {
		if !errors.Is(c.err, stream.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", c.name, c.err)
		}
	}
}

func TestNewUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := New(ctx, Config{Brokers: []string{"127.0.0.1:1"}, Options: stream.Options{Logger: testLogger()}})
	if !errors.Is(err, stream.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
}

func TestRetentionRisks(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	ctx := context.Background()
	const topic = "short-lived"
	if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 2, RetentionTime: 10 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Two keys on different partitions.
	a, other := []byte("a"), []byte("b")
	for i := 0; stream.Partition(other, 2) == stream.Partition(a, 2); i++ {
		other = []byte(fmt.Sprintf("b%d", i))
	}
	now := time.Now()
	records := []*stream.Record{
		{Topic: topic, Key: a, Timestamp: now.Add(-9 * time.Hour)}, // 90% of retention used
		{Topic: topic, Key: a, Timestamp: now},
		{Topic: topic, Key: other, Timestamp: now.Add(-time.Hour)}, // 10%
	}
	if err := b.Produce(ctx, records...); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ResetOffsets(ctx, "late", topic, stream.Reset{To: stream.ResetEarliest}); err != nil {
		t.Fatal(err)
	}
	risks, err := b.RetentionRisks(ctx, "late")
	if err != nil {
		t.Fatalf("RetentionRisks: %v", err)
	}
	if len(risks) != 1 {
		t.Fatalf("got %d risks (%+v), want 1 on the partition of key a", len(risks), risks)
	}
	r := risks[0]
	if r.Partition != records[0].Partition || r.Retention != 10*time.Hour || r.Age < 9*time.Hour || r.Lag != 2 {
		t.Errorf("got %+v, want partition %d, retention 10h, age over 9h and lag 2", r, records[0].Partition)
	}
	if _, err := b.RetentionRisks(ctx, "nobody"); !errors.Is(err, stream.ErrGroupNotFound) {
		t.Errorf("RetentionRisks of an unknown group: got %v, want ErrGroupNotFound", err)
	}
}

// TestCreateTopicKeepsBrokerRetention checks that a topic created without a
// retention gets no retention override, so the broker's default applies,
// and that one created with a retention gets exactly that.
func TestCreateTopicKeepsBrokerRetention(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "default", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateTopic(ctx, stream.Topic{Name: "told", Partitions: 1, RetentionTime: time.Hour, RetentionBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	rcs, err := b.adm.DescribeTopicConfigs(ctx, "default", "told")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, rc := range rcs {
		for _, cf := range rc.Configs {
			if cf.Key != configRetentionMs && cf.Key != configRetentionBytes {
				continue
			}
			seen++
			override := cf.Source == kmsg.ConfigSourceDynamicTopicConfig
			if rc.Name == "default" && override {
				t.Errorf("topic created without retention has %s=%v set on the topic; want the broker's default", cf.Key, cf.MaybeValue())
			}
			if rc.Name == "told" && (!override || cf.MaybeValue() != map[string]string{configRetentionMs: "3600000", configRetentionBytes: "1048576"}[cf.Key]) {
				t.Errorf("topic created with retention has %s=%q (source %v); want it set on the topic", cf.Key, cf.MaybeValue(), cf.Source)
			}
		}
	}
	if seen != 4 {
		t.Errorf("saw %d retention configs, want retention.ms and retention.bytes of both topics", seen)
	}
}
