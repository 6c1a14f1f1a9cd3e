package outbox_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/outbox"
	"github.com/arus-platform/arus/store"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// crashDirEnv names the data directory of the helper process; set, it
// makes TestHelperProcess run the pipeline instead of skipping.
const crashDirEnv = "ARUS_OUTBOX_CRASH_DIR"

// pipeline is a service's outbox ("orders") forwarded to an embedded
// broker and consumed by another service ("billing") whose effects go
// through an inbox: everything in one data directory, as `arus serve`
// lays it out.
type pipeline struct {
	orders  *store.DB
	out     *outbox.Outbox
	billing *store.DB
	in      *outbox.Inbox
	broker  *embedded.Broker
}

func openPipeline(ctx context.Context, dir string) (*pipeline, error) {
	p := &pipeline{}
	var err error
	if p.orders, err = store.Open(ctx, store.Config{Dir: dir, Component: "orders"}); err != nil {
		return nil, err
	}
	if p.out, err = outbox.Open(ctx, p.orders, outbox.Config{}); err != nil {
		return nil, err
	}
	if p.billing, err = store.Open(ctx, store.Config{Dir: dir, Component: "billing"}); err != nil {
		return nil, err
	}
	if p.in, err = outbox.OpenInbox(ctx, p.billing, outbox.InboxConfig{}); err != nil {
		return nil, err
	}
	if _, err := p.billing.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS billing_effects (
		seq INTEGER PRIMARY KEY, record_id TEXT NOT NULL, key TEXT NOT NULL, value INTEGER NOT NULL)`); err != nil {
		return nil, err
	}
	p.broker, err = embedded.New(ctx, embedded.Config{Dir: filepath.Join(dir, "broker"), RetentionInterval: -1,
		Options: stream.Options{Logger: quiet}})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *pipeline) close() {
	p.broker.Close()
	p.billing.Close()
	p.orders.Close()
}

// run forwards the outbox through prod and consumes the topic with the
// inbox until ctx is done.
func (p *pipeline) run(ctx context.Context, prod stream.Producer) error {
	f, err := outbox.NewForwarder(p.out, prod, outbox.ForwarderConfig{BatchSize: 50, PollInterval: 10 * time.Millisecond, Logger: quiet})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = f.Run(ctx) })
	wg.Go(func() {
		errs[1] = p.broker.Consume(ctx, stream.ConsumerConfig{Group: "billing", Topics: []string{"orders"}, MaxBatch: 20,
			RetryBackoff: 20 * time.Millisecond}, stream.Single(p.handle))
	})
	wg.Wait()
	return errors.Join(errs...)
}

// handle is the billing service's handler: one effect row per record.
func (p *pipeline) handle(ctx context.Context, r *stream.Record) error {
	_, err := p.in.Handle(ctx, r.ID(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO billing_effects (record_id, key, value) VALUES (?, ?, ?)`,
			r.ID(), string(r.Key), string(r.Value))
		return err
	})
	return err
}

// announcingProducer prints how many records it has published after each
// acknowledged produce call, then dawdles before returning, so that a kill
// that follows the line lands between publishing a batch and marking it
// sent: the batch is then published again after the restart.
type announcingProducer struct {
	stream.Producer
	w         io.Writer
	published int
}

func (p *announcingProducer) Produce(ctx context.Context, recs ...*stream.Record) error {
	if err := p.Producer.Produce(ctx, recs...); err != nil {
		return err
	}
	p.published += len(recs)
	fmt.Fprintf(p.w, "published %d\n", p.published)
	time.Sleep(3 * time.Millisecond)
	return nil
}

// TestHelperProcess is the process TestCrashDuringForwarding kills; it is
// skipped in a normal run.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the helper process of TestCrashDuringForwarding")
	}
	// Should the parent die without killing it, it stops on its own.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := openPipeline(ctx, dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if err := p.run(ctx, &announcingProducer{Producer: p.broker, w: os.Stdout}); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestCrashDuringForwarding kills (SIGKILL) a process that forwards an
// outbox to an embedded broker and consumes it through an inbox, three
// times at different points, then restarts the pipeline and checks that
// every outbox record was published at least once, with one id, and had
// exactly one effect, in order per key.
func TestCrashDuringForwarding(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped in short mode")
	}
	const keys, perKey = 20, 200
	ctx := context.Background()
	dir := t.TempDir()

	p, err := openPipeline(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.broker.CreateTopic(ctx, stream.Topic{Name: "orders", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	for i := range perKey / 5 {
		var recs []*stream.Record
		for k := range keys {
			for j := range 5 {
				recs = append(recs, seqRecord("orders", fmt.Sprintf("k%d", k), i*5+j))
			}
		}
		write(t, p.orders, p.out, recs...)
	}
	p.close()

	for round, killAt := range []int{500, 650, 800} {
		crashOnce(t, dir, round, killAt)
	}

	p, err = openPipeline(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- p.run(runCtx, p.broker) }()
	waitFor(t, "every record published and handled", 30*time.Second, func() bool {
		return pending(t, p.out) == 0 && countRows(t, p.billing, "billing_effects") >= keys*perKey
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after restart: %v", err)
	}

	// Each outbox record is in the log at least once, under its one id.
	written := map[string]string{} // record_id -> key:value
	rows, err := p.orders.Query(`SELECT record_id, key, value FROM orders_outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			t.Fatal(err)
		}
		written[id] = k + ":" + v
	}
	rows.Close()
	if got, want := len(written), keys*perKey; got != want {
		t.Fatalf("outbox holds %d records, want %d", got, want)
	}
	inLog := map[string]int{}
	info, err := p.broker.DescribeTopic(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	for _, po := range info.Offsets {
		for off := po.Start; off < po.End; {
			recs, err := p.broker.Read(ctx, "orders", po.Partition, off, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if want, ok := written[r.ID()]; !ok || want != string(r.Key)+":"+string(r.Value) {
					t.Fatalf("log holds record_id %s as %s:%s, outbox has %q", r.ID(), r.Key, r.Value, want)
				}
				inLog[r.ID()]++
			}
			off += int64(len(recs))
		}
	}
	dups := 0
	for id := range written {
		switch n := inLog[id]; {
		case n == 0:
			t.Errorf("record_id %s (%s) was never published", id, written[id])
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("%d records, %d published again after a kill", len(written), dups)

	// Each record had one effect, and a key's effects came in order.
	rows, err = p.billing.Query(`SELECT record_id, key, value FROM billing_effects ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	effects := map[string]int{}
	next := map[string]int{}
	for rows.Next() {
		var id, k string
		var v int
		if err := rows.Scan(&id, &k, &v); err != nil {
			t.Fatal(err)
		}
		effects[id]++
		if v != next[k] {
			t.Errorf("key %s: effect for value %d, want %d", k, v, next[k])
		}
		next[k] = v + 1
	}
	for id := range written {
		if effects[id] != 1 {
			t.Errorf("record_id %s (%s) had %d effects, want 1", id, written[id], effects[id])
		}
	}
}

// crashOnce runs the helper process until it has published killAt records,
// then kills it with SIGKILL.
func crashOnce(t *testing.T, dir string, round, killAt int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	published := 0
	var lines []string
	sc := bufio.NewScanner(out)
	for published < killAt && sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "published "); ok {
			published, _ = strconv.Atoi(n)
		} else {
			lines = append(lines, line)
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatalf("round %d: kill: %v", round, err)
	}
	_ = cmd.Wait()
	if published < killAt {
		t.Fatalf("round %d: the helper stopped after publishing %d records, before the kill at %d\nstdout: %s\nstderr: %s",
			round, published, killAt, strings.Join(lines, "\n"), stderr.String())
	}
}
