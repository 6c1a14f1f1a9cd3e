package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// When one partition cannot be written, exactly its records are reported
// failed, and the others are stored.
func TestProduceReportsExactlyTheFailedRecords(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	// Partition 1's key holds a string, so XADD to it fails.
	if err := b.client.Set(ctx, b.k.partition("t", 1), "in the way", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var recs []*stream.Record
	var want []int
	for i := range 40 {
		key := fmt.Appendf(nil, "key-%d", i)
		recs = append(recs, &stream.Record{Topic: "t", Key: key, Value: []byte("v")})
		if stream.Partition(key, 3) == 1 {
			want = append(want, i)
		}
	}
	err := b.Produce(ctx, recs...)
	var pe *stream.ProduceError
	if !errors.As(err, &pe) {
		t.Fatalf("Produce: got %v, want a *stream.ProduceError", err)
	}
	if !slices.Equal(pe.Failed, want) {
		t.Errorf("failed indexes %v, want %v", pe.Failed, want)
	}
	if !strings.Contains(err.Error(), "partition 1") {
		t.Errorf("error %q does not name the partition", err)
	}
	for p := range int32(3) {
		got, err := b.Read(ctx, "t", p, 0, 100)
		if p == 1 {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range got {
			if !recs[slices.IndexFunc(recs, func(x *stream.Record) bool { return bytes.Equal(x.Key, r.Key) })].Equal(r) {
				t.Errorf("stored record %+v differs from the one produced", r)
			}
		}
	}
}

func TestProduceValidatesFirst(t *testing.T) {
	ctx := testContext(t)
	cfg := testConfig(t)
	cfg.MaxRecordBytes = 100
	b := openBroker(t, cfg)
	tests := []struct {
		name string
		recs []*stream.Record
		want error
	}{
		{"too large", []*stream.Record{{Topic: "t", Value: []byte("ok")}, {Topic: "t", Value: make([]byte, 101)}}, stream.ErrRecordTooLarge},
		{"bad topic", []*stream.Record{{Topic: "t", Value: []byte("ok")}, {Topic: "a b", Value: []byte("x")}}, stream.ErrInvalid},
		{"nil record", []*stream.Record{{Topic: "t"}, nil}, stream.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Produce(ctx, tt.recs...)
			var pe *stream.ProduceError
			if !errors.As(err, &pe) || !errors.Is(err, tt.want) || len(pe.Failed) != len(tt.recs) {
				t.Fatalf("got %v, want a ProduceError failing all records with %v", err, tt.want)
			}
		})
	}
	if n, err := b.client.Exists(ctx, b.k.meta("t")).Result(); err != nil || n != 0 {
		t.Errorf("topic t exists after only invalid produce calls (%d, %v)", n, err)
	}
}

func TestProduceStrict(t *testing.T) {
	ctx := testContext(t)
	cfg := testConfig(t)
	cfg.Strict = true
	b := openBroker(t, cfg)
	if err := b.CreateTopic(ctx, stream.Topic{Name: "known", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	err := b.Produce(ctx, &stream.Record{Topic: "known", Value: []byte("a")}, &stream.Record{Topic: "unknown", Value: []byte("b")})
	var pe *stream.ProduceError
	if !errors.As(err, &pe) || !errors.Is(err, stream.ErrTopicNotFound) || !slices.Equal(pe.Failed, []int{0, 1}) {
		t.Fatalf("got %v, want ErrTopicNotFound failing both records", err)
	}
	if !strings.Contains(err.Error(), `"unknown"`) {
		t.Errorf("error %q does not name the topic", err)
	}
	if info, err := b.DescribeTopic(ctx, "known"); err != nil || info.Records() != 0 {
		t.Errorf("known topic holds %d records (%v), want 0: nothing is stored when a topic is unknown", info.Records(), err)
	}
	err = b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"unknown"}}, func(context.Context, []*stream.Record) error { return nil })
	if !errors.Is(err, stream.ErrTopicNotFound) {
		t.Errorf("Consume of an unknown topic in strict mode: got %v, want ErrTopicNotFound", err)
	}
}

// A producer whose cached partition count is stale (the topic was deleted
// and created again elsewhere) routes by the new count.
func TestProduceAfterTopicRecreated(t *testing.T) {
	ctx := testContext(t)
	cfg := testConfig(t)
	b1 := openBroker(t, cfg)
	b2 := openBroker(t, cfg)
	if err := b1.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	if err := b1.Produce(ctx, &stream.Record{Topic: "t", Key: []byte("k"), Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := b2.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := b2.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 5}); err != nil {
		t.Fatal(err)
	}
	var recs []*stream.Record
	for i := range 20 {
		recs = append(recs, &stream.Record{Topic: "t", Key: fmt.Appendf(nil, "k%d", i), Value: []byte("2")})
	}
	if err := b1.Produce(ctx, recs...); err != nil {
		t.Fatalf("Produce after the topic was recreated: %v", err)
	}
	for _, r := range recs {
		if want := stream.Partition(r.Key, 5); r.Partition != want {
			t.Errorf("key %s went to partition %d, want %d of 5", r.Key, r.Partition, want)
		}
	}
	info, err := b2.DescribeTopic(ctx, "t")
	if err != nil || info.Records() != 20 {
		t.Errorf("recreated topic holds %d records (%v), want 20", info.Records(), err)
	}
	// And without a topic at all, the stale producer creates it again.
	if err := b2.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := b1.Produce(ctx, recs[0]); err != nil || recs[0].Offset != 0 {
		t.Errorf("Produce after the topic was deleted: offset %d, %v; want a new topic", recs[0].Offset, err)
	}
}

// Concurrent producers get dense, distinct offsets.
func TestProduceConcurrentOffsetsDense(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	offsets := map[int32][]int64{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				var recs []*stream.Record
				for j := range 7 {
					recs = append(recs, &stream.Record{Topic: "t", Key: fmt.Appendf(nil, "%d-%d-%d", g, i, j)})
				}
				if err := b.Produce(ctx, recs...); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, r := range recs {
					offsets[r.Partition] = append(offsets[r.Partition], r.Offset)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	total := 0
	for p, offs := range offsets {
		slices.Sort(offs)
		for i, o := range offs {
			if o != int64(i) {
				t.Fatalf("partition %d: offsets not dense from 0: %d at position %d", p, o, i)
			}
		}
		total += len(offs)
	}
	if total != 8*20*7 {
		t.Errorf("%d records, want %d", total, 8*20*7)
	}
}

func TestPersistenceWarning(t *testing.T) {
	cfg := testConfig(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	b := openBroker(t, cfg)
	ctx := testContext(t)
	save, err1 := b.client.ConfigGet(ctx, "save").Result()
	aof, err2 := b.client.ConfigGet(ctx, "appendonly").Result()
	if err1 != nil || err2 != nil {
		missing(t, "CONFIG GET is not allowed on this server: %v %v", err1, err2)
	}
	mu.Lock()
	defer mu.Unlock()
	warned := strings.Contains(buf.String(), "keeps nothing on disk")
	if want := strings.TrimSpace(save["save"]) == "" && aof["appendonly"] != "yes"; warned != want {
		t.Errorf("warning logged %v, want %v (save %q, appendonly %q); log: %s", warned, want, save["save"], aof["appendonly"], buf.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestClose(t *testing.T) {
	ctx := testContext(t)
	b := openBroker(t, testConfig(t))
	// A record the consumer handles shows that it is running.
	if err := b.Produce(ctx, &stream.Record{Topic: "t", Value: []byte("v")}); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	handled := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"t"}}, func(context.Context, []*stream.Record) error {
			select {
			case handled <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	select {
	case <-handled:
	case err := <-done:
		t.Fatalf("Consume returned %v before handling a record", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Consume handled no record within 10s")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, stream.ErrClosed) {
			t.Errorf("running Consume returned %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Consume still running after Close")
	}
	calls := map[string]error{
		"Ping":    b.Ping(ctx),
		"Produce": b.Produce(ctx, &stream.Record{Topic: "t"}),
		"Consume": b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"t"}}, func(context.Context, []*stream.Record) error { return nil }),
		"Read":    func() error { _, err := b.Read(ctx, "t", 0, 0, 1); return err }(),
		"Topics":  func() error { _, err := b.ListTopics(ctx); return err }(),
		"Retain":  func() error { _, err := b.EnforceRetention(ctx); return err }(),
	}
	for name, err := range calls {
		if !errors.Is(err, stream.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", name, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := New(ctx, Config{Addr: "127.0.0.1:1", DialTimeout: 500 * time.Millisecond, Options: stream.Options{Logger: quietLogger()}})
	if !errors.Is(err, stream.ErrUnavailable) {
		t.Errorf("New against a closed port: got %v, want ErrUnavailable", err)
	}
	_, err = New(ctx, Config{KeyPrefix: "bad prefix"})
	if !errors.Is(err, stream.ErrInvalid) {
		t.Errorf("New with a bad prefix: got %v, want ErrInvalid", err)
	}
}

// A topic described while records are produced to it never shows a
// partition starting before offset 0: its end and its length are read
// together.
func TestDescribeWhileProducing(t *testing.T) {
	ctx := context.Background()
	b := openBroker(t, testConfig(t))
	if err := b.CreateTopic(ctx, stream.Topic{Name: "busy", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			if err := b.Produce(ctx, &stream.Record{Topic: "busy", Value: []byte("x")}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for described := 0; ; described++ {
		select {
		case <-done:
			if described == 0 {
				t.Error("described the topic no time while producing")
			}
			return
		default:
		}
		info, err := b.DescribeTopic(ctx, "busy")
		if err != nil {
			t.Fatal(err)
		}
		if p := info.Offsets[0]; p.Start != 0 || p.End < 0 {
			t.Fatalf("partition described as %+v while records are produced; want start 0", p)
		}
	}
}
