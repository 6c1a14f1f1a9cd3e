//go:build soak

package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
)

// TestSoak runs the real binary under a steady load for a long time — a
// producer at a fixed rate, a consumer group, console and API reads — and
// records its memory, goroutines, open files and produce latency over
// time. It fails when any of them grows: the last quarter of the run is
// compared with the first (after a warm-up minute).
//
// It runs on demand, not in every CI run:
//
//	ARUS_SOAK_DURATION=30m go test -tags soak -run TestSoak -timeout 40m -v ./internal/cli/
//
// ARUS_SOAK_RATE sets the records per second (default 500); ARUS_SOAK_OUT
// names a CSV file for the samples.
func TestSoak(t *testing.T) {
	duration := envDuration(t, "ARUS_SOAK_DURATION", 30*time.Minute)
	interval := envDuration(t, "ARUS_SOAK_INTERVAL", 10*time.Second)
	rate := 500
	if v := os.Getenv("ARUS_SOAK_RATE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			t.Fatalf("ARUS_SOAK_RATE=%q: want 1 to 100000", v)
		}
		rate = n
	}
	bin := buildArus(t)
	data := t.TempDir()
	key := createKey(t, bin, data)
	p := startArus(t, bin, data)
	c := newTestClient(t, p.url, key)
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	if err := c.CreateTopic(ctx, stream.Topic{Name: "soak", Partitions: 4}); err != nil {
		t.Fatal(err)
	}

	// The load: batches of 10 records at the rate, one consumer group, and a
	// read of a partition and of the group every second.
	var produced, consumed, failures atomic.Int64
	var latMu sync.Mutex
	var latencies []time.Duration
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second * 10 / time.Duration(rate))
		defer tick.Stop()
		value := []byte(strings.Repeat("x", 200))
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			batch := make([]*stream.Record, 10)
			for i := range batch {
				batch[i] = &stream.Record{Topic: "soak", Key: []byte(strconv.Itoa(n*10 + i)), Value: value}
			}
			start := time.Now()
			if err := c.Produce(ctx, batch...); err != nil {
				if ctx.Err() == nil {
					failures.Add(1)
				}
				continue
			}
			latMu.Lock()
			latencies = append(latencies, time.Since(start))
			latMu.Unlock()
			produced.Add(10)
		}
	}()
	go func() {
		defer wg.Done()
		_ = c.Consume(ctx, stream.ConsumerConfig{Group: "soak", Topics: []string{"soak"}}, func(_ context.Context, b []*stream.Record) error {
			consumed.Add(int64(len(b)))
			return nil
		})
	}()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			_, _ = c.Read(ctx, "soak", 0, max(0, produced.Load()/4-100), 100)
			_, _ = c.DescribeGroup(ctx, "soak")
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()

	type sample struct {
		at                          time.Duration
		rss, heap, goroutines, fds  float64
		p99                         time.Duration
		produced, consumed, failing int64
	}
	var samples []sample
	begin := time.Now()
	tick := time.NewTicker(interval)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		m := scrape(t, p.url+"/metrics")
		latMu.Lock()
		lat := latencies
		latencies = nil
		latMu.Unlock()
		slices.Sort(lat)
		var p99 time.Duration
		if len(lat) > 0 {
			p99 = lat[len(lat)*99/100]
		}
		samples = append(samples, sample{at: time.Since(begin).Round(time.Second), rss: m["process_resident_memory_bytes"],
			heap: m["go_memstats_heap_inuse_bytes"], goroutines: m["go_goroutines"], fds: m["process_open_fds"], p99: p99,
			produced: produced.Load(), consumed: consumed.Load(), failing: failures.Load()})
	}
	tick.Stop()
	wg.Wait()

	var csv strings.Builder
	csv.WriteString("seconds,rss_bytes,heap_inuse_bytes,goroutines,open_fds,produce_p99_ms,produced,consumed,failed_batches\n")
	for _, s := range samples {
		fmt.Fprintf(&csv, "%d,%.0f,%.0f,%.0f,%.0f,%.2f,%d,%d,%d\n", int(s.at.Seconds()), s.rss, s.heap, s.goroutines, s.fds,
			float64(s.p99.Microseconds())/1000, s.produced, s.consumed, s.failing)
	}
	out := os.Getenv("ARUS_SOAK_OUT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "soak.csv")
	}
	if err := os.WriteFile(out, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("samples in %s:\n%s", out, csv.String())

	// Compare the last quarter with the first, after a warm-up minute.
	var steady []sample
	for _, s := range samples {
		if s.at >= time.Minute {
			steady = append(steady, s)
		}
	}
	if len(steady) < 8 {
		t.Fatalf("only %d samples after the warm-up; run longer than %v", len(steady), duration)
	}
	q := len(steady) / 4
	first, last := steady[:q], steady[len(steady)-q:]
	median := func(ss []sample, f func(sample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	for _, c := range []struct {
		name       string
		f          func(sample) float64
		ratio, add float64
	}{
		{"resident memory", func(s sample) float64 { return s.rss }, 1.5, 32 << 20},
		{"heap in use", func(s sample) float64 { return s.heap }, 1.5, 16 << 20},
		{"goroutines", func(s sample) float64 { return s.goroutines }, 1.25, 10},
		{"open files", func(s sample) float64 { return s.fds }, 1.2, 10},
		{"produce p99 (ms)", func(s sample) float64 { return float64(s.p99.Microseconds()) / 1000 }, 2, 5},
	} {
		a, b := median(first, c.f), median(last, c.f)
		t.Logf("%-18s first quarter %12.1f   last quarter %12.1f", c.name, a, b)
		if b > a*c.ratio+c.add {
			t.Errorf("%s grew from %.1f to %.1f (more than ×%.2f + %.0f)", c.name, a, b, c.ratio, c.add)
		}
	}
	final := samples[len(samples)-1]
	if final.failing > 0 {
		t.Errorf("%d produce batches failed", final.failing)
	}
	if final.consumed < final.produced*9/10 {
		t.Errorf("the group consumed %d of %d records", final.consumed, final.produced)
	}
}

// scrape reads the gauges of a Prometheus text exposition.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			m[name] = v
		}
	}
	return m
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}
