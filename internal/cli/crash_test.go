package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/client"
	"github.com/arus-platform/arus/stream"
)

// TestCrashLosesNothingAcknowledged builds the real binary, runs arus serve
// under load from concurrent HTTP producers and a consumer group, kills it
// with SIGKILL mid-load, restarts it on the same data directory and checks
// that every acknowledged record is there exactly once, that records keep
// their order per partition, and that the group resumes without skipping.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it under load; skipped with -short")
	}
	bin := buildArus(t)
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	key := createKey(t, bin, data)
	first := startArus(t, bin, data)
	c := newTestClient(t, first.url, key)
	const topic, group, partitions = "crash", "crash-group", 4
	if err := c.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: partitions}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}

	// The consumer group processes records while the load runs.
	var (
		mu        sync.Mutex
		processed = map[string]bool{} // record ids the handler finished
	)
	consumeCtx, stopConsume := context.WithCancel(ctx)
	defer stopConsume()
	consumerDone := make(chan error, 1)
	go func() {
		cfg := stream.ConsumerConfig{Group: group, Topics: []string{topic}, MaxBatch: 200}
		consumerDone <- c.Consume(consumeCtx, cfg, func(_ context.Context, batch []*stream.Record) error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range batch {
				processed[r.ID()] = true
			}
			return nil
		})
	}()

	// Producers: each writes batches of records under its own keys, with a
	// sequence number per key, and records what was acknowledged.
	const producers, keysPerProducer, batch = 4, 8, 25
	acked := make([][]*stream.Record, producers)
	var ackedCount atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc := newTestClient(t, first.url, key)
			seq := make([]int, keysPerProducer)
			for loadCtx.Err() == nil {
				recs := make([]*stream.Record, batch)
				for i := range recs {
					k := (i + len(acked[p])) % keysPerProducer
					seq[k]++
					recs[i] = &stream.Record{
						Topic: topic,
						Key:   []byte(fmt.Sprintf("p%d-k%d", p, k)),
						Value: []byte(fmt.Sprintf("p%d-k%d-%d", p, k, seq[k])),
					}
				}
				if err := pc.Produce(loadCtx, recs...); err != nil {
					return // the server is gone: these records are not acknowledged
				}
				acked[p] = append(acked[p], recs...)
				ackedCount.Add(batch)
			}
		}()
	}

	// Kill the server once the load has run for a while and the group has
	// committed part of the stream, at a random moment after that.
	loadStart := time.Now()
	deadline := loadStart.Add(30 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("the load did not get going: %d acknowledged\n%s", ackedCount.Load(), first.log())
		}
		if ackedCount.Load() >= 3000 && time.Since(loadStart) > 2*time.Second {
			if g, err := c.DescribeGroup(ctx, group); err == nil && committedTotal(g) >= 500 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.Int64N(int64(500 * time.Millisecond))))
	first.kill(t)
	wg.Wait()
	stopLoad()
	<-consumerDone // fails: the connection broke
	mu.Lock()
	before := processed
	processed = nil
	mu.Unlock()
	var ackedTotal int
	for _, a := range acked {
		ackedTotal += len(a)
	}
	t.Logf("killed with %d records acknowledged and %d processed by the group", ackedTotal, len(before))

	// Restart on the same data and read every partition by position.
	second := startArus(t, bin, data)
	c2 := newTestClient(t, second.url, key)
	info, err := c2.DescribeTopic(ctx, topic)
	if err != nil {
		t.Fatalf("DescribeTopic after restart: %v\n%s", err, second.log())
	}
	stored := map[string]*stream.Record{}
	for _, po := range info.Offsets {
		lastSeq := map[string]int{}
		for off := po.Start; off < po.End; {
			recs, err := c2.Read(ctx, topic, po.Partition, off, 5000)
			if err != nil {
				t.Fatalf("Read partition %d at %d: %v", po.Partition, off, err)
			}
			for _, r := range recs {
				if r.Offset != off {
					t.Fatalf("partition %d: offset %d after %d; offsets must be dense", po.Partition, r.Offset, off-1)
				}
				off++
				if _, dup := stored[r.ID()]; dup {
					t.Fatalf("record %s (%s) is stored twice", r.ID(), r.Value)
				}
				stored[r.ID()] = r
				var p, k, s int
				if _, err := fmt.Sscanf(string(r.Value), "p%d-k%d-%d", &p, &k, &s); err != nil {
					t.Fatalf("record %s has value %q: %v", r.ID(), r.Value, err)
				}
				if want := stream.Partition(r.Key, partitions); want != po.Partition {
					t.Errorf("key %s stored on partition %d, want %d", r.Key, po.Partition, want)
				}
				if s <= lastSeq[string(r.Key)] {
					t.Fatalf("partition %d: key %s has sequence %d after %d; order lost", po.Partition, r.Key, s, lastSeq[string(r.Key)])
				}
				lastSeq[string(r.Key)] = s
			}
		}
	}
	for p, recs := range acked {
		for _, r := range recs {
			got, ok := stored[r.ID()]
			if !ok {
				t.Fatalf("producer %d: acknowledged record %s (%s) is lost", p, r.ID(), r.Value)
			}
			if got.Partition != r.Partition || got.Offset != r.Offset || string(got.Value) != string(r.Value) {
				t.Fatalf("acknowledged record %s: stored at %d/%d as %q, acknowledged at %d/%d as %q",
					r.ID(), got.Partition, got.Offset, got.Value, r.Partition, r.Offset, r.Value)
			}
		}
	}

	// The group resumes at its committed offsets, and everything below them
	// was processed before the kill: nothing is skipped.
	g, err := c2.DescribeGroup(ctx, group)
	if err != nil {
		t.Fatalf("DescribeGroup after restart: %v", err)
	}
	committed := map[int32]int64{}
	for _, o := range g.Offsets {
		committed[o.Partition] = o.Committed
	}
	if committedTotal(g) == 0 {
		t.Fatalf("the group's commits before the kill are lost: %+v", g.Offsets)
	}
	remaining := 0
	for _, r := range stored {
		if r.Offset < committed[r.Partition] {
			if !before[r.ID()] {
				t.Fatalf("record %d/%d is below the committed offset %d but was never processed: skipped",
					r.Partition, r.Offset, committed[r.Partition])
			}
		} else {
			remaining++
		}
	}
	var (
		after    = map[string]bool{}
		firstOff = map[int32]int64{}
	)
	resumeCtx, stopResume := context.WithTimeout(ctx, 30*time.Second)
	defer stopResume()
	cfg := stream.ConsumerConfig{Group: group, Topics: []string{topic}}
	err = c2.Consume(resumeCtx, cfg, func(_ context.Context, batch []*stream.Record) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range batch {
			if _, ok := firstOff[r.Partition]; !ok {
				firstOff[r.Partition] = r.Offset
			}
			after[r.ID()] = true
		}
		if len(after) >= remaining {
			stopResume()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Consume after restart: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(after) < remaining {
		t.Fatalf("after restart the group got %d of the %d records at or above its offsets", len(after), remaining)
	}
	for p, off := range firstOff {
		if off != committed[p] {
			t.Errorf("partition %d resumed at offset %d, want the committed %d", p, off, committed[p])
		}
	}
	for _, recs := range acked {
		for _, r := range recs {
			if !before[r.ID()] && !after[r.ID()] {
				t.Fatalf("acknowledged record %d/%d never reached the group", r.Partition, r.Offset)
			}
		}
	}
	t.Logf("after restart: %d records stored, group resumed at %v and received %d", len(stored), committed, len(after))
}

func committedTotal(g stream.GroupInfo) int64 {
	var n int64
	for _, o := range g.Offsets {
		n += o.Committed
	}
	return n
}

func newTestClient(t *testing.T, url, key string) *client.Client {
	t.Helper()
	c, err := client.New(url, key)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// createKey makes an API key for the test with arus keys create, as an
// operator would before the first start.
func createKey(t *testing.T, bin, data string) string {
	t.Helper()
	args := []string{"keys", "create", "--data", data, "--name", "crash-test"}
	for _, s := range []string{"topics.read", "topics.write", "records.produce", "records.read", "groups.read", "groups.reset"} {
		args = append(args, "--scope", s)
	}
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("arus keys create: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// buildArus builds cmd/arus into a temporary directory.
func buildArus(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "arus")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/arus-platform/arus/cmd/arus").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// arusProcess is a running arus serve.
type arusProcess struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	tail []string // the last lines of its log
	done chan struct{}
}

func (p *arusProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// kill ends the process with SIGKILL and waits for it.
func (p *arusProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-p.done
}

// startArus runs arus serve on data and a free port, and stops it (SIGTERM,
// then SIGKILL) when the test ends.
func startArus(t *testing.T, bin, data string, extra ...string) *arusProcess {
	t.Helper()
	args := []string{"serve", "--data", data, "--listen", "127.0.0.1:0"}
	if !slices.Contains(extra, "--components") {
		args = append(args, "--components", "backbone")
	}
	cmd := exec.Command(bin, append(args, extra...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &arusProcess{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
			if strings.Contains(line, "http request") && (strings.Contains(line, "status=200") || strings.Contains(line, "status=202")) {
				continue
			}
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 50 {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.done:
		t.Fatalf("arus serve exited before listening:\n%s", p.log())
	case <-time.After(10 * time.Second):
		t.Fatalf("arus serve did not listen within 10s:\n%s", p.log())
	}
	return p
}
