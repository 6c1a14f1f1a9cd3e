package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/stream"
)

// A backup taken while producers write holds every record acknowledged
// before it began; restored into a fresh directory, a server on it serves
// those records, the group offsets and the API keys of the original.
func TestBackupUnderLoadRestores(t *testing.T) { backupUnderLoad(t, false) }

// The same, the backup taken from the running server over its API with
// arus backup --server; a key without backup.read gets no backup and leaves
// no file, and --server does not go with --data.
func TestBackupFromServerUnderLoadRestores(t *testing.T) { backupUnderLoad(t, true) }

func backupUnderLoad(t *testing.T, remote bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := t.TempDir()
	scopes := []string{"topics.read", "topics.write", "records.produce", "records.read", "groups.read", "groups.reset"}
	key := mustKey(t, data, append(scopes, "backup.read")...)
	narrow := mustKey(t, data, permsExcept("backup.read")...)
	url, stop := serve(t, map[string]string{"ARUS_DATA": data})
	c := newTestClient(t, url, key)
	const topic, group = "orders", "billing"
	if err := c.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 4}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	produce := func(ctx context.Context, prefix string, n int) ([]string, error) {
		recs := make([]*stream.Record, n)
		values := make([]string, n)
		for i := range recs {
			values[i] = fmt.Sprintf("%s-%d", prefix, i)
			recs[i] = &stream.Record{Topic: topic, Key: []byte(values[i]), Value: []byte(values[i])}
		}
		return values, c.Produce(ctx, recs...)
	}
	first, err := produce(ctx, "before", 200)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	if _, err := c.ResetOffsets(ctx, group, topic, stream.Reset{To: stream.ResetLatest}); err != nil {
		t.Fatalf("ResetOffsets: %v", err)
	}

	// Producers keep writing while the backup runs.
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		sent  = map[string]bool{} // acknowledged or in flight
	)
	for _, v := range first {
		acked[v], sent[v] = true, true
	}
	var batches atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				prefix := fmt.Sprintf("load%d-%d", p, i)
				mu.Lock()
				for j := range 20 {
					sent[fmt.Sprintf("%s-%d", prefix, j)] = true
				}
				mu.Unlock()
				values, err := produce(loadCtx, prefix, 20)
				if err != nil {
					return
				}
				mu.Lock()
				for _, v := range values {
					acked[v] = true
				}
				mu.Unlock()
				batches.Add(1)
			}
		}()
	}
	waitFor(t, func() bool { return batches.Load() >= 5 })
	mu.Lock()
	before := make([]string, 0, len(acked))
	for v := range acked {
		before = append(before, v)
	}
	mu.Unlock()
	during := batches.Load()
	file := filepath.Join(t.TempDir(), "arus.backup")
	var r result
	if remote {
		env := map[string]string{"ARUS_API_KEY": narrow}
		refused := arus(t, env, "", "backup", "--server", url, "--out", file)
		if refused.err == nil || !strings.Contains(refused.err.Error(), "backup.read") {
			t.Errorf("backup --server with a key of every scope but backup.read: %v, want an error naming backup.read", refused.err)
		}
		for _, f := range []string{file, file + ".partial"} {
			if _, err := os.Stat(f); !os.IsNotExist(err) {
				t.Errorf("a refused backup left %s (%v)", f, err)
			}
		}
		both := arus(t, env, "", "backup", "--server", url, "--data", data, "--out", file)
		if both.err == nil || !strings.Contains(both.err.Error(), "--data or --server") {
			t.Errorf("backup --server --data: %v, want an error naming both flags", both.err)
		}
		r = must(t, map[string]string{"ARUS_API_KEY": key, "ARUS_DATA": data}, "", "backup", "--server", url, "--out", file)
		if !strings.Contains(r.stderr, "of "+url+" to "+file) {
			t.Errorf("backup --server says %q, want the summary naming the server and the file", r.stderr)
		}
	} else {
		r = must(t, nil, "", "backup", "--data", data, "--out", file)
	}
	during = batches.Load() - during
	stopLoad()
	wg.Wait()
	t.Logf("%s; %d batches of 20 acknowledged while it ran", strings.TrimSpace(r.stderr), during)
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	must(t, nil, "", "restore", "--in", file, "--data", restored)
	for _, name := range []string{"secret.key", "stream.db", "auth.db"} {
		if _, err := os.Stat(filepath.Join(restored, name)); err != nil {
			t.Errorf("restored directory: %v", err)
		}
	}
	wantKey, _ := os.ReadFile(filepath.Join(data, "secret.key"))
	if gotKey, _ := os.ReadFile(filepath.Join(restored, "secret.key")); !bytes.Equal(gotKey, wantKey) || len(wantKey) == 0 {
		t.Errorf("restored secret.key differs from the original")
	}

	// The original API key works on a server over the restored directory.
	url2, _ := serve(t, map[string]string{"ARUS_DATA": restored})
	c2 := newTestClient(t, url2, key)
	info, err := c2.DescribeTopic(ctx, topic)
	if err != nil {
		t.Fatalf("DescribeTopic on the restored server: %v", err)
	}
	got := map[string]int{}
	for _, po := range info.Offsets {
		for off := po.Start; off < po.End; {
			recs, err := c2.Read(ctx, topic, po.Partition, off, 5000)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(recs) == 0 {
				t.Fatalf("Read %d/%d returned nothing before the end %d", po.Partition, off, po.End)
			}
			for _, rec := range recs {
				got[string(rec.Value)]++
				off = rec.Offset + 1
			}
		}
	}
	for _, v := range before {
		if got[v] != 1 {
			t.Errorf("record %s, acknowledged before the backup began: %d copies restored, want 1", v, got[v])
		}
	}
	for v, n := range got {
		if !sent[v] || n != 1 {
			t.Errorf("restored record %s: %d copies, produced %v; want 1 copy of a produced record", v, n, sent[v])
		}
	}
	g, err := c2.DescribeGroup(ctx, group)
	if err != nil {
		t.Fatalf("DescribeGroup: %v", err)
	}
	if n := committedTotal(g); n != int64(len(first)) {
		t.Errorf("group %s committed %d records on the restored server, want %d", group, n, len(first))
	}
	t.Logf("restored %d records; %d acknowledged before the backup began", len(got), len(before))

	// A second restore into the now non-empty directory is refused.
	if r := arus(t, nil, "", "restore", "--in", file, "--data", restored); r.err == nil || !strings.Contains(r.err.Error(), "not empty") {
		t.Errorf("restore into a non-empty directory: %v, want an error saying it is not empty", r.err)
	}
}

// permsExcept is every permission but the ones named.
func permsExcept(names ...string) []string {
	var out []string
	for _, p := range auth.Permissions() {
		if !slices.Contains(names, string(p)) {
			out = append(out, string(p))
		}
	}
	return out
}
