package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const benchAbout = `
Drives load at a running server and reports throughput and latency.

  arus bench relay --dataset cars --concurrency 64 --duration 10s
  arus bench relay --dataset cars --mode batch --batch 100

"relay" posts generated records of a cars dataset ({id, car_name,
stock, price, category, type}) to POST /api/v1/datasets/{dataset}/records
with the application's API key (ARUS_API_KEY or --api-key-file): one record per
request (--mode single) or --batch records per request (--mode batch). Every
request must be answered 202, which the server sends only once the records
are durable.`

func runBench(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "bench", benchAbout,
		action{"relay", benchRelay},
	)
}

func benchRelay(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "bench relay", "arus bench relay --dataset NAME [flags]", benchAbout)
	server := f.String("server", defaultServer, "`URL` of the server")
	f.twin("server", "ARUS_SERVER")
	apiKey := new(string)
	addAPIKey(f, apiKey)
	dataset := f.String("dataset", "", "`name` of the dataset to post to")
	mode := f.String("mode", "single", "single (one record per request) or batch")
	batch := f.Int("batch", 100, "records per request in batch mode")
	conc := f.Int("concurrency", 64, "concurrent `clients`")
	dur := f.Duration("duration", 10*time.Second, "how long to run")
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return f.fail("unexpected argument %q", rest[0])
	case *dataset == "":
		return f.fail("--dataset is required")
	case *mode != "single" && *mode != "batch":
		return f.fail("--mode %q: use single or batch", *mode)
	case *batch < 1 || *batch > 10000:
		return f.fail("--batch %d: use 1 to 10000", *batch)
	case *conc < 1 || *conc > 4096:
		return f.fail("--concurrency %d: use 1 to 4096", *conc)
	case *dur <= 0:
		return f.fail("--duration %s: use a positive duration", *dur)
	case *apiKey == "":
		return f.fail("an API key is required: the application's key, in ARUS_API_KEY or --api-key-file")
	}
	per := 1
	if *mode == "batch" {
		per = *batch
	}
	url := strings.TrimRight(*server, "/") + "/api/v1/datasets/" + *dataset + "/records"
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: *conc, MaxIdleConnsPerHost: *conc}, Timeout: 30 * time.Second}
	res := runLoad(ctx, client, url, *apiKey, *conc, per, *dur)
	res.print(e.stdout, *mode, per, *conc)
	if res.ok == 0 {
		return fmt.Errorf("bench: no request succeeded; first error: %s", res.firstErr)
	}
	return nil
}

type loadResult struct {
	elapsed   time.Duration
	ok, fail  int64
	latencies []time.Duration
	statuses  map[int]int64
	firstErr  string
}

func runLoad(ctx context.Context, client *http.Client, url, key string, conc, per int, dur time.Duration) *loadResult {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var (
		mu      sync.Mutex
		res     = &loadResult{statuses: map[int]int64{}}
		nextID  atomic.Int64
		wg      sync.WaitGroup
		started = time.Now()
	)
	for c := 0; c < conc; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var body bytes.Buffer
			for ctx.Err() == nil {
				body.Reset()
				writeCars(&body, per, &nextID)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body.Bytes()))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if ctx.Err() != nil {
					break // the run ended during the request: not counted
				}
				status := 0
				if err == nil {
					status = resp.StatusCode
					msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
					resp.Body.Close()
					if status != http.StatusAccepted {
						err = fmt.Errorf("%d %s", status, bytes.TrimSpace(msg))
					}
				}
				mu.Lock()
				res.statuses[status]++
				if err != nil {
					res.fail++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
				} else {
					res.ok++
				}
				mu.Unlock()
				if err == nil {
					lat = append(lat, time.Since(t0))
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(started)
	slices.Sort(res.latencies)
	return res
}

var (
	carNames   = []string{"Avanza", "Xenia", "Pajero", "Fortuner", "Jazz", "Brio", "Ertiga", "Innova"}
	categories = []string{"mpv", "suv", "hatchback", "sedan"}
	types      = []string{"manual", "automatic"}
)

// writeCars writes n generated records of the cars dataset as a JSON
// array (or one object when n is 1).
func writeCars(b *bytes.Buffer, n int, next *atomic.Int64) {
	if n > 1 {
		b.WriteByte('[')
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		id := next.Add(1)
		fmt.Fprintf(b, `{"id":%d,"car_name":%q,"stock":%d,"price":%d,"category":%q,"type":%q}`,
			id, carNames[rand.IntN(len(carNames))], rand.IntN(50), 150_000_000+rand.IntN(500)*1_000_000,
			categories[rand.IntN(len(categories))], types[rand.IntN(len(types))])
	}
	if n > 1 {
		b.WriteByte(']')
	}
}

func (r *loadResult) print(w io.Writer, mode string, per, conc int) {
	secs := r.elapsed.Seconds()
	fmt.Fprintf(w, "mode %s, %d record(s) per request, %d clients, %.1fs\n", mode, per, conc, secs)
	fmt.Fprintf(w, "requests: %d accepted, %d failed  (%.0f requests/s)\n", r.ok, r.fail, float64(r.ok)/secs)
	fmt.Fprintf(w, "records:  %d accepted  (%.0f records/s)\n", r.ok*int64(per), float64(r.ok*int64(per))/secs)
	if n := len(r.latencies); n > 0 {
		q := func(p float64) time.Duration { return r.latencies[min(n-1, int(p*float64(n)))] }
		fmt.Fprintf(w, "latency:  p50 %s  p90 %s  p99 %s  max %s\n", q(0.50).Round(10*time.Microsecond),
			q(0.90).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), r.latencies[n-1].Round(10*time.Microsecond))
	}
	if r.fail > 0 {
		fmt.Fprintf(w, "statuses: %v; first error: %s\n", r.statuses, r.firstErr)
	}
}
