package embedded

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/streamtest"
)

func TestConformance(t *testing.T) {
	streamtest.Run(t, streamtest.Backend{
		Open: func(t *testing.T) func() stream.Broker {
			dir := t.TempDir()
			logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
			return func() stream.Broker {
				b, err := New(context.Background(), Config{Dir: dir, Options: stream.Options{Logger: logger}})
				if err != nil {
					t.Fatalf("New(%s): %v", dir, err)
				}
				return b
			}
		},
		Features: streamtest.Features{Retention: true, RebalanceTimeout: 10 * time.Second},
	})
}

// testWriter sends a broker's logs to the test's log, shown when it fails.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// open opens a broker on dir, closed when the test ends.
func open(t *testing.T, cfg Config) *Broker {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.RetentionInterval == 0 {
		cfg.RetentionInterval = -1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func readAll(t *testing.T, b *Broker, topic string, partition int32) []*stream.Record {
	t.Helper()
	var all []*stream.Record
	var off int64
	for {
		recs, err := b.Read(context.Background(), topic, partition, off, 1000)
		if err != nil {
			t.Fatalf("Read(%s, %d, %d): %v", topic, partition, off, err)
		}
		if len(recs) == 0 {
			return all
		}
		all = append(all, recs...)
		off = recs[len(recs)-1].Offset + 1
	}
}

func TestGroupCommit(t *testing.T) {
	b := open(t, Config{})
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "gc", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	const producers, calls = 16, 100
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Go(func() {
			for c := range calls {
				n := 1 + c%3
				recs := make([]*stream.Record, n)
				for i := range recs {
					recs[i] = &stream.Record{Topic: "gc", Key: fmt.Appendf(nil, "k%d", p), Value: fmt.Appendf(nil, "%d:%d:%d", p, c, i)}
				}
				if err := b.Produce(ctx, recs...); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Produce: %v", err)
	}
	seen := make(map[string]int)
	var total int
	for part := range int32(3) {
		last := make(map[string]int) // producer -> last sequence seen
		for i, r := range readAll(t, b, "gc", part) {
			if r.Offset != int64(i) {
				t.Fatalf("partition %d: record %d has offset %d, want %d", part, i, r.Offset, i)
			}
			if got, want := r.Partition, stream.Partition(r.Key, 3); got != want {
				t.Errorf("record %s in partition %d, want %d", r.Value, got, want)
			}
			seen[string(r.Value)]++
			var p, c, k int
			fmt.Sscanf(string(r.Value), "%d:%d:%d", &p, &c, &k)
			seq := c*10 + k
			if prev, ok := last[string(r.Key)]; ok && seq <= prev {
				t.Errorf("partition %d: %s after sequence %d: out of order", part, r.Value, prev)
			}
			last[string(r.Key)] = seq
			total++
		}
	}
	want := 0
	for c := range calls {
		want += 1 + c%3
	}
	want *= producers
	if total != want {
		t.Errorf("read %d records, want %d", total, want)
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("record %s read %d times, want once", v, n)
		}
	}
}

func TestDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	b, err := New(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), Config{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second New on %s: got %v, want an error naming the directory as in use", dir, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2, err := New(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	b2.Close()
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{}, "Dir"},
		{"question mark in dir", Config{Dir: "data?x"}, "Dir"},
		{"bad synchronous", Config{Dir: "x", Synchronous: "OFF"}, "Synchronous"},
		{"negative cap", Config{Dir: "x", HardCapBytes: -1}, "HardCapBytes"},
		{"bad partitions", Config{Dir: "x", Options: stream.Options{DefaultPartitions: -2}}, "partition"},
		{"negative record size", Config{Dir: "x", Options: stream.Options{MaxRecordBytes: -1}}, "max record bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, stream.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: got %v, want an invalid-argument error naming %q", err, tc.want)
			}
			if _, err := New(context.Background(), tc.cfg); !errors.Is(err, stream.ErrInvalid) {
				t.Errorf("New: got %v, want ErrInvalid", err)
			}
		})
	}
	cfg := Config{Dir: "x"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Synchronous != SyncFull || cfg.RetentionInterval != DefaultRetentionInterval || cfg.DefaultPartitions != 4 {
		t.Errorf("defaults: got %+v", cfg)
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := New(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := b.Produce(ctx, &stream.Record{Topic: "d", Key: []byte("k"), Value: fmt.Appendf(nil, "v%d", i),
			Headers: []stream.Header{{Key: "h", Value: []byte("x")}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.ResetOffsets(ctx, "g", "d", stream.Reset{To: stream.ResetOffset, Offset: 4, Partitions: []int32{stream.Partition([]byte("k"), 4)}}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := b.Produce(ctx, &stream.Record{Topic: "d"}); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Produce after Close: got %v, want ErrClosed", err)
	}

	b = open(t, Config{Dir: dir})
	part := stream.Partition([]byte("k"), 4)
	recs := readAll(t, b, "d", part)
	if len(recs) != 10 {
		t.Fatalf("after reopen: %d records, want 10", len(recs))
	}
	for i, r := range recs {
		if got, want := string(r.Value), fmt.Sprintf("v%d", i); got != want {
			t.Errorf("record %d: got %q, want %q", i, got, want)
		}
		if h, _ := r.Header("h"); string(h) != "x" || r.ID() == "" {
			t.Errorf("record %d headers: got %v", i, r.Headers)
		}
	}
	g, err := b.DescribeGroup(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Offsets) != 1 || g.Offsets[0].Committed != 4 || g.Offsets[0].Lag != 6 || g.Offsets[0].Oldest.IsZero() {
		t.Errorf("group after reopen: got %+v, want committed 4, lag 6", g.Offsets)
	}
	if err := b.Produce(ctx, &stream.Record{Topic: "d", Key: []byte("k")}); err != nil {
		t.Fatal(err)
	}
	if recs := readAll(t, b, "d", part); recs[len(recs)-1].Offset != 10 {
		t.Errorf("next offset after reopen: got %d, want 10", recs[len(recs)-1].Offset)
	}
}

func TestRetentionKeepsUnconsumed(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		topic     stream.Topic
		committed int64 // -1: no group
		want      int64 // start offset after retention
		oneCall   bool  // produce the 10 records in one call (one chunk)
	}{
		{"time, group at 4, one chunk", stream.Topic{Partitions: 1, RetentionTime: time.Millisecond}, 4, 4, true},
		{"bytes, no group, one chunk", stream.Topic{Partitions: 1, RetentionBytes: 100}, -1, 9, true},
		{"time, no group", stream.Topic{Partitions: 1, RetentionTime: time.Millisecond}, -1, 10, false},
		{"time, group at 4", stream.Topic{Partitions: 1, RetentionTime: time.Millisecond}, 4, 4, false},
		{"time, group at 0", stream.Topic{Partitions: 1, RetentionTime: time.Millisecond}, 0, 0, false},
		{"bytes, no group", stream.Topic{Partitions: 1, RetentionBytes: 1}, -1, 10, false},
		{"bytes, group at 3", stream.Topic{Partitions: 1, RetentionBytes: 1}, 3, 3, false},
		{"time, recent records", stream.Topic{Partitions: 1, RetentionTime: time.Hour}, -1, 0, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := open(t, Config{})
			tc.topic.Name = fmt.Sprintf("r%d", i)
			if err := b.CreateTopic(ctx, tc.topic); err != nil {
				t.Fatal(err)
			}
			var recs []*stream.Record
			for j := range 10 {
				recs = append(recs, &stream.Record{Topic: tc.topic.Name, Value: fmt.Appendf(nil, "%d", j),
					Headers: []stream.Header{{Key: stream.HeaderID, Value: make([]byte, 36)}}})
			}
			if tc.oneCall {
				if err := b.Produce(ctx, recs...); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range recs {
				if tc.oneCall {
					break
				}
				if err := b.Produce(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if tc.committed >= 0 {
				if _, err := b.ResetOffsets(ctx, "g", tc.topic.Name, stream.Reset{To: stream.ResetOffset, Offset: tc.committed}); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(5 * time.Millisecond)
			if _, err := b.EnforceRetention(ctx); err != nil {
				t.Fatal(err)
			}
			info, err := b.DescribeTopic(ctx, tc.topic.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Offsets[0]; got.Start != tc.want || got.End != 10 {
				t.Errorf("after retention: got start %d end %d, want start %d end 10", got.Start, got.End, tc.want)
			}
			recs = readAll(t, b, tc.topic.Name, 0)
			if len(recs) != int(10-tc.want) || (len(recs) > 0 && (recs[0].Offset != tc.want || string(recs[0].Value) != fmt.Sprint(tc.want))) {
				t.Errorf("after retention: read %d records, want %d from offset %d", len(recs), 10-tc.want, tc.want)
			}
			if b.Stats().ForcedDeletes != 0 {
				t.Errorf("forced deletes: got %d, want 0", b.Stats().ForcedDeletes)
			}
		})
	}
}

func TestHardCap(t *testing.T) {
	ctx := context.Background()
	b := open(t, Config{HardCapBytes: 4000})
	if err := b.CreateTopic(ctx, stream.Topic{Name: "cap", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ResetOffsets(ctx, "g", "cap", stream.Reset{To: stream.ResetEarliest}); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := b.Produce(ctx, &stream.Record{Topic: "cap", Value: make([]byte, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := b.EnforceRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := b.DescribeTopic(ctx, "cap")
	var bytes int64
	t1, _ := b.topic(ctx, "cap", false)
	for _, p := range t1.parts {
		bytes += p.bytes.Load()
	}
	if bytes > 4000 || n == 0 || b.Stats().ForcedDeletes != n {
		t.Errorf("hard cap: got %d bytes left, %d deleted, %d forced; want at most 4000 bytes, forced = deleted > 0", bytes, n, b.Stats().ForcedDeletes)
	}
	if got := info.Records(); got != 100-n {
		t.Errorf("records left: got %d, want %d", got, 100-n)
	}
}

// TestKill9 kills a process while concurrent producers and a consumer group
// are running and checks that every record and offset commit it had
// acknowledged is in the log, with dense offsets and no duplicates, and that
// the log goes on from there.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("ARUS_EMBEDDED_KILL_DIR"); dir != "" {
		killHelper(dir)
		return
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "ARUS_EMBEDDED_KILL_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := make(map[string]int) // producer -> records acknowledged
	committed := make(map[int32]int64)
	total := 0
	sc := bufio.NewScanner(out)
	for total < 4000 && sc.Scan() {
		var who string
		var n int64
		if _, err := fmt.Sscanf(sc.Text(), "ack %s %d", &who, &n); err == nil {
			total += int(n) - acked[who]
			acked[who] = int(n)
		}
		var p int32
		if _, err := fmt.Sscanf(sc.Text(), "commit %d %d", &p, &n); err == nil {
			committed[p] = n
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if total == 0 {
		t.Fatal("helper acknowledged nothing")
	}
	b := open(t, Config{Dir: dir})
	got := make(map[string]int)
	for part := range int32(4) {
		for i, r := range readAll(t, b, "kill", part) {
			if r.Offset != int64(i) {
				t.Fatalf("partition %d: record %d has offset %d", part, i, r.Offset)
			}
			got[string(r.Value)]++
		}
	}
	for who, n := range acked {
		for i := range n {
			v := fmt.Sprintf("%s-%d", who, i)
			if got[v] != 1 {
				t.Fatalf("acknowledged record %s found %d times after kill -9, want once", v, got[v])
			}
		}
	}
	g, err := b.DescribeGroup(context.Background(), "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) == 0 {
		t.Error("the consumer in the killed process reported no commit")
	}
	for _, o := range g.Offsets {
		if o.Committed < committed[o.Partition] {
			t.Errorf("partition %d: committed %d after kill -9, but %d was acknowledged", o.Partition, o.Committed, committed[o.Partition])
		}
	}
	r := &stream.Record{Topic: "kill", Value: []byte("after")}
	if err := b.Produce(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	info, _ := b.DescribeTopic(context.Background(), "kill")
	if r.Offset != info.Offsets[r.Partition].End-1 {
		t.Errorf("record produced after restart got offset %d, want %d", r.Offset, info.Offsets[r.Partition].End-1)
	}
}

// killHelper runs in the process that TestKill9 kills: four producers print
// what was acknowledged, a consumer prints the offsets it committed.
func killHelper(dir string) {
	b, err := New(context.Background(), Config{Dir: dir})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Printf(format+"\n", args...)
		mu.Unlock()
	}
	var prevMu sync.Mutex
	prev := make(map[int32]int64)
	go b.Consume(context.Background(), stream.ConsumerConfig{Group: "g", Topics: []string{"kill"}, MaxBatch: 7},
		func(ctx context.Context, batch []*stream.Record) error {
			// A worker sends a batch's commit after its handler returned
			// and waits for it before sending the next one; so when this
			// batch arrives, the commit up to the previous batch's start
			// is durable.
			p := batch[0].Partition
			prevMu.Lock()
			off, ok := prev[p]
			prev[p] = batch[0].Offset
			prevMu.Unlock()
			if ok {
				say("commit %d %d", p, off)
			}
			return nil
		})
	for w := range 4 {
		go func() {
			for i := 0; ; i += 5 {
				recs := make([]*stream.Record, 5)
				for j := range recs {
					recs[j] = &stream.Record{Topic: "kill", Value: fmt.Appendf(nil, "p%d-%d", w, i+j)}
				}
				if err := b.Produce(context.Background(), recs...); err != nil {
					say("error %v", err)
					os.Exit(1)
				}
				say("ack p%d %d", w, i+5)
			}
		}()
	}
	select {}
}

func TestOffsetForTime(t *testing.T) {
	ctx := context.Background()
	b := open(t, Config{})
	if err := b.CreateTopic(ctx, stream.Topic{Name: "time", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Timestamps out of order, produced in calls of varying size so that
	// they span several chunks.
	secs := []int{10, 20, 15, 30, 25, 40, 40, 35, 50, 60, 55, 70, 80, 75, 90}
	sizes := []int{1, 3, 2, 1, 4, 1, 3}
	i := 0
	for _, n := range sizes {
		var recs []*stream.Record
		for ; n > 0 && i < len(secs); n-- {
			recs = append(recs, &stream.Record{Topic: "time", Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(secs[i]) * time.Second)})
			i++
		}
		if err := b.Produce(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}
	for q := 0; q <= 95; q += 5 {
		want := int64(len(secs))
		for j, s := range secs {
			if s >= q {
				want = int64(j)
				break
			}
		}
		got, err := b.OffsetForTime(ctx, "time", 0, base.Add(time.Duration(q)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("OffsetForTime(%ds): got %d, want %d", q, got, want)
		}
	}
}

func TestStrict(t *testing.T) {
	ctx := context.Background()
	b := open(t, Config{Options: stream.Options{Strict: true}})
	if err := b.Produce(ctx, &stream.Record{Topic: "missing"}); !errors.Is(err, stream.ErrTopicNotFound) {
		t.Errorf("Produce to a missing topic in strict mode: got %v, want ErrTopicNotFound", err)
	}
	err := b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"missing"}}, func(context.Context, []*stream.Record) error { return nil })
	if !errors.Is(err, stream.ErrTopicNotFound) {
		t.Errorf("Consume of a missing topic in strict mode: got %v, want ErrTopicNotFound", err)
	}
	if topics, _ := b.ListTopics(ctx); len(topics) != 0 {
		t.Errorf("strict mode created topics %v", topics)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	b, err := New(ctx, Config{Dir: t.TempDir(), Synchronous: SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateTopic(ctx, stream.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	calls := map[string]func() error{
		"Produce": func() error { return b.Produce(ctx, &stream.Record{Topic: "t"}) },
		"Consume": func() error {
			return b.Consume(ctx, stream.ConsumerConfig{Group: "g", Topics: []string{"t"}}, func(context.Context, []*stream.Record) error { return nil })
		},
		"Read":          func() error { _, err := b.Read(ctx, "t", 0, 0, 1); return err },
		"OffsetForTime": func() error { _, err := b.OffsetForTime(ctx, "t", 0, time.Now()); return err },
		"CreateTopic":   func() error { return b.CreateTopic(ctx, stream.Topic{Name: "u", Partitions: 1}) },
		"DeleteTopic":   func() error { return b.DeleteTopic(ctx, "t") },
		"ListTopics":    func() error { _, err := b.ListTopics(ctx); return err },
		"DescribeTopic": func() error { _, err := b.DescribeTopic(ctx, "t"); return err },
		"ListGroups":    func() error { _, err := b.ListGroups(ctx); return err },
		"DescribeGroup": func() error { _, err := b.DescribeGroup(ctx, "g"); return err },
		"ResetOffsets": func() error {
			_, err := b.ResetOffsets(ctx, "g", "t", stream.Reset{To: stream.ResetEarliest})
			return err
		},
		"DeleteGroup":      func() error { return b.DeleteGroup(ctx, "g") },
		"EnforceRetention": func() error { _, err := b.EnforceRetention(ctx); return err },
		"Ping":             func() error { return b.Ping(ctx) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, stream.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", name, err)
		}
	}
}

// TestReopenAfterRetention checks that a partition emptied by retention keeps
// its end offset across a restart.
func TestReopenAfterRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := open(t, Config{Dir: dir})
	if err := b.CreateTopic(ctx, stream.Topic{Name: "e", Partitions: 1, RetentionTime: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := b.Produce(ctx, &stream.Record{Topic: "e", Timestamp: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.EnforceRetention(ctx); err != nil || n != 5 {
		t.Fatalf("EnforceRetention = %d, %v; want 5 deleted", n, err)
	}
	b.Close()
	b = open(t, Config{Dir: dir})
	info, err := b.DescribeTopic(ctx, "e")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Offsets[0]; got.Start != 5 || got.End != 5 {
		t.Errorf("after reopen: start %d end %d, want 5 and 5", got.Start, got.End)
	}
	r := &stream.Record{Topic: "e"}
	if err := b.Produce(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.Offset != 5 {
		t.Errorf("next offset after reopen: got %d, want 5", r.Offset)
	}
}

// TestDeleteTopicFreesRecords checks that the records of a deleted topic are
// deleted in the background, also after a restart, and that a topic created
// again under the same name starts empty.
func TestDeleteTopicFreesRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := open(t, Config{Dir: dir})
	for i := range 200 {
		if err := b.Produce(ctx, &stream.Record{Topic: "big", Value: fmt.Appendf(nil, "%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	chunks := func(b *Broker) (n int64) {
		t.Helper()
		err := b.readers.with(ctx, func(c *dbConn) error {
			var err error
			n, _, err = c.queryInt(`SELECT count(*) FROM chunks`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := chunks(b); n != 200 {
		t.Fatalf("%d chunks before delete, want 200", n)
	}
	if err := b.DeleteTopic(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	if err := b.Produce(ctx, &stream.Record{Topic: "big", Value: []byte("new")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return chunks(b) == 1 })
	var recs []*stream.Record
	for p := range int32(4) {
		recs = append(recs, readAll(t, b, "big", p)...)
	}
	if len(recs) != 1 || string(recs[0].Value) != "new" || recs[0].Offset != 0 {
		t.Errorf("topic created again holds %d records, want only the new one at offset 0", len(recs))
	}

	// A purge cut short by a restart resumes when the log opens again.
	recs = recs[:0]
	for i := range 300 {
		recs = append(recs, &stream.Record{Topic: "big", Value: make([]byte, 60<<10), Key: fmt.Appendf(nil, "%d", i)})
	}
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteTopic(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b = open(t, Config{Dir: dir})
	waitFor(t, func() bool { return chunks(b) == 0 })
}
