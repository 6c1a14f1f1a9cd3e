package kafka

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
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

func TestPartitionsAgree(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	ctx := context.Background()
	const topic = "agree"
	if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 7}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	var records []*stream.Record
	for i := range 200 {
		records = append(records, &stream.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte("v")})
	}
	if err := b.Produce(ctx, records...); err != nil {
		t.Fatalf("Produce: %v", err)
	}

	// franz-go's default partitioner, as used by other Kafka clients.
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for i, r := range records {
		if want := stream.Partition(r.Key, 7); r.Partition != want {
			t.Errorf("record %d key %q: got partition %d, want stream.Partition %d", i, r.Key, r.Partition, want)
		}
		kr := &kgo.Record{Topic: topic, Key: r.Key}
		if err := raw.ProduceSync(ctx, kr).FirstErr(); err != nil {
			t.Fatalf("raw produce: %v", err)
		}
		if kr.Partition != r.Partition {
			t.Errorf("record %d key %q: Arus chose partition %d, franz-go's default partitioner %d", i, r.Key, r.Partition, kr.Partition)
		}
	}
}

func TestProduceSetsOffsets(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "one", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var records []*stream.Record
	for i := range 10 {
		records = append(records, &stream.Record{Topic: "one", Value: []byte{byte(i)}})
	}
	if err := b.Produce(ctx, records...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	for i, r := range records {
		if r.Partition != 0 || r.Offset != int64(i) {
			t.Errorf("record %d: got partition %d offset %d, want 0 and %d", i, r.Partition, r.Offset, i)
		}
		if r.ID() == "" {
			t.Errorf("record %d: no %s header", i, stream.HeaderID)
		}
	}
	got, err := b.Read(ctx, "one", 0, 3, 4)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(got) != 4 {
		t.Fatalf("Read: got %d records, want 4", len(got))
	}
	for i, r := range got {
		if want := records[3+i]; r.Offset != want.Offset || !r.Equal(want) {
			t.Errorf("Read record %d: got offset %d value %v, want offset %d value %v", i, r.Offset, r.Value, want.Offset, want.Value)
		}
	}
}

func TestProduceErrorIndexes(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cfg.Strict = true
	b := openBroker(t, cfg)
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "exists", Partitions: 2}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		records []*stream.Record
		want    []int
		is      error
	}{
		{
			name:    "unknown topic in strict mode fails all",
			records: []*stream.Record{{Topic: "exists"}, {Topic: "missing"}, {Topic: "exists"}},
			want:    []int{0, 1, 2},
			is:      stream.ErrTopicNotFound,
		},
		{
			name:    "invalid topic name fails all",
			records: []*stream.Record{{Topic: "exists"}, {Topic: "bad name"}},
			want:    []int{0, 1},
			is:      stream.ErrInvalid,
		},
		{
			name:    "record over the size limit fails all",
			records: []*stream.Record{{Topic: "exists"}, {Topic: "exists", Value: make([]byte, stream.DefaultMaxRecordBytes+1)}},
			want:    []int{0, 1},
			is:      stream.ErrRecordTooLarge,
		},
		{
			name:    "nil record fails all",
			records: []*stream.Record{{Topic: "exists"}, nil},
			want:    []int{0, 1},
			is:      stream.ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Produce(ctx, tt.records...)
			var pe *stream.ProduceError
			if !errors.As(err, &pe) {
				t.Fatalf("got error %v, want a *stream.ProduceError", err)
			}
			if fmt.Sprint(pe.Failed) != fmt.Sprint(tt.want) {
				t.Errorf("got Failed %v, want %v", pe.Failed, tt.want)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("got error %v, want one wrapping %v", err, tt.is)
			}
		})
	}
}

// TestProduceErrorPartial fails the produce requests of one partition at the
// broker and checks that exactly the records of that partition are
// reported, and that the others are stored.
func TestProduceErrorPartial(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	b := openBroker(t, cfg)
	ctx := context.Background()
	const topic = "partial"
	if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	// Lead the failing partition from broker 0 alone, and fail every
	// produce request that broker receives.
	const bad = int32(2)
	for p := range int32(4) {
		node := int32(1)
		if p == bad {
			node = 0
		}
		if err := c.MoveTopicPartition(topic, p, node); err != nil {
			t.Fatal(err)
		}
	}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if c.CurrentNode() != 0 {
			return nil, nil, false
		}
		return failProduce(req.(*kmsg.ProduceRequest)), nil, true
	})

	var records []*stream.Record
	var want []int
	for i := range 40 {
		key := []byte(fmt.Sprintf("k%d", i))
		records = append(records, &stream.Record{Topic: topic, Key: key, Value: []byte("v")})
		if stream.Partition(key, 4) == bad {
			want = append(want, i)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := b.Produce(pctx, records...)
	var pe *stream.ProduceError
	if !errors.As(err, &pe) {
		t.Fatalf("got error %v, want a *stream.ProduceError", err)
	}
	if fmt.Sprint(pe.Failed) != fmt.Sprint(want) {
		t.Errorf("got Failed %v, want %v", pe.Failed, want)
	}
	failed := make(map[int]bool)
	for _, i := range pe.Failed {
		failed[i] = true
	}
	stored := make(map[int32]int)
	for i, r := range records {
		if failed[i] {
			continue
		}
		stored[r.Partition]++
		if r.Partition == bad {
			t.Errorf("record %d reported stored on the failing partition %d", i, bad)
		}
	}
	c.DropControl()
	info, err := b.DescribeTopic(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range info.Offsets {
		if got, want := p.End-p.Start, int64(stored[p.Partition]); got != want {
			t.Errorf("partition %d holds %d records, want %d", p.Partition, got, want)
		}
	}
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

// TestBackpressure checks that a blocked handler stops fetching: the
// records held in memory stay bounded while many more wait in the topic.
func TestBackpressure(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const topic, n = "slow", 200000
	if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	for range n / 10000 {
		batch := make([]*stream.Record, 10000)
		for i := range batch {
			v := make([]byte, 100)
			_, _ = rand.Read(v) // incompressible, so that fetch sizes are what they seem
			batch[i] = &stream.Record{Topic: topic, Value: v}
		}
		if err := b.Produce(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
	release := make(chan struct{})
	var handled atomic.Int64
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{topic}, MaxBatch: 100},
			func(ctx context.Context, rs []*stream.Record) error {
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				handled.Add(int64(len(rs)))
				return nil
			})
	}()
	// Wait for the worker to fill up, then look at what it holds.
	time.Sleep(2 * time.Second)
	held := heldRecords(b)
	// The bound is the worker's limit plus one fetch (about 1 MiB).
	if limit := minBufferedRecords + 2*(1<<20)/100; held > limit {
		t.Errorf("a blocked handler's partition holds %d records, want at most %d", held, limit)
	}
	close(release)
	deadline := time.Now().Add(20 * time.Second)
	for handled.Load() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	wg.Wait()
	if got := handled.Load(); got != n {
		t.Errorf("handled %d records, want %d", got, n)
	}
}

// failProduce answers a produce request with an error for every partition.
func failProduce(req *kmsg.ProduceRequest) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = kerr.InvalidRecord.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// heldRecords counts the records the partition workers of b's running
// Consume calls hold.
func heldRecords(b *Broker) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for c := range b.running {
		c.mu.Lock()
		for _, w := range c.workers {
			w.mu.Lock()
			n += len(w.queue)
			w.mu.Unlock()
		}
		c.mu.Unlock()
	}
	return n
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

func TestConsumeStops(t *testing.T) {
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	noop := func(context.Context, []*stream.Record) error { return nil }

	t.Run("unknown topic in strict mode", func(t *testing.T) {
		cfg := testConfig(c)
		cfg.Strict = true
		b := openBroker(t, cfg)
		err := b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"absent"}}, noop)
		if !errors.Is(err, stream.ErrTopicNotFound) || !strings.Contains(err.Error(), "absent") {
			t.Errorf("got %v, want ErrTopicNotFound naming the topic", err)
		}
	})
	t.Run("broker closed while consuming", func(t *testing.T) {
		b := openBroker(t, testConfig(c))
		if err := b.Produce(ctx, &stream.Record{Topic: "closing", Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		handled := make(chan struct{}, 1)
		done := make(chan error, 1)
		go func() {
			done <- b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"closing"}},
				func(context.Context, []*stream.Record) error {
					select {
					case handled <- struct{}{}:
					default:
					}
					return nil
				})
		}()
		<-handled
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, stream.ErrClosed) {
				t.Errorf("Consume after Close: got %v, want ErrClosed", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Consume did not return after Close")
		}
		// What the handler finished was committed before Consume returned.
		b2 := openBroker(t, testConfig(c))
		g, err := b2.DescribeGroup(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Offsets) == 0 || g.Lag() != 0 {
			t.Errorf("after Close: got offsets %+v, want the record committed", g.Offsets)
		}
	})
}

// TestSlowPartitionDoesNotBlockOthers fills two partitions whose handler
// is stuck and checks that a third partition keeps flowing.
func TestSlowPartitionDoesNotBlockOthers(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "skewed"
	if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	keyFor := func(p int32) []byte {
		for i := 0; ; i++ {
			if k := []byte(fmt.Sprintf("k%d", i)); stream.Partition(k, 3) == p {
				return k
			}
		}
	}
	produce := func(p int32, n int) {
		t.Helper()
		key := keyFor(p)
		for done := 0; done < n; done += 5000 {
			batch := make([]*stream.Record, min(5000, n-done))
			for i := range batch {
				v := make([]byte, 100)
				_, _ = rand.Read(v)
				batch[i] = &stream.Record{Topic: topic, Key: key, Value: v}
			}
			if err := b.Produce(ctx, batch...); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 40000)
	produce(1, 40000)

	release := make(chan struct{})
	var fast atomic.Int64
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{topic}},
			func(ctx context.Context, rs []*stream.Record) error {
				if rs[0].Partition == 2 {
					fast.Add(int64(len(rs)))
					return nil
				}
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
	}()
	defer func() {
		close(release)
		stop()
		wg.Wait()
	}()
	time.Sleep(time.Second) // the stuck partitions fill up and pause
	produce(2, 1000)
	deadline := time.Now().Add(10 * time.Second)
	for fast.Load() < 1000 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := fast.Load(); got != 1000 {
		t.Errorf("the free partition handled %d of 1000 records while two others were stuck", got)
	}
	if held := heldRecords(b); held > 2*(minBufferedRecords+2*(1<<20)/100) {
		t.Errorf("the stuck partitions hold %d records, want them bounded", held)
	}
}
