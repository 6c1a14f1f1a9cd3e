package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const benchAbout = `
Drives load at a running server and reports throughput and latency.

  arus bench relay --dataset cars --concurrency 64 --duration 10s
  arus bench relay --dataset cars --mode batch --batch 100
  arus bench relay --dataset cars --wait-delivered --read-key-file admin.key

"relay" posts generated records of a cars dataset ({id, car_name,
stock, price, category, type}) to POST /api/v1/datasets/{dataset}/records
with the application's API key (ARUS_API_KEY or --api-key-file): one record
per request (--mode single) or --batch records per request (--mode batch).
Every request must be answered 202, which the server sends only once the
records are durable. At the end of --duration no new request is sent, and
the requests still in flight are waited for and counted. The run stops at
once, with the server's answer, when its first answers are all refusals
(401, 403, 404, 400, 413, 422) and none was accepted.

--wait-delivered then waits until every enabled route of the dataset has
delivered all it holds (its consumer group's lag is 0), polling the API
with a key of relay.read, topics.read and groups.read (ARUS_READ_KEY or
--read-key-file), and reports how long after the last accepted request
that was.
` + benchTicketsAbout

func runBench(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, args, "bench", benchAbout,
		action{"relay", benchRelay},
		action{"tickets", benchTickets},
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
	dur := f.Duration("duration", 10*time.Second, "how long to send requests")
	waitDelivered := f.Bool("wait-delivered", false, "then wait until the dataset's routes have delivered everything, and report when")
	readKey := f.String("read-key", "", "API `key` with relay.read, topics.read and groups.read, for --wait-delivered; avoid it on the command line: use ARUS_READ_KEY or --read-key-file")
	f.twin("read-key", "ARUS_READ_KEY")
	f.secret("read-key")
	waitTimeout := f.Duration("wait-timeout", 5*time.Minute, "how long --wait-delivered waits at most")
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
	case *waitDelivered && *readKey == "":
		return f.fail("--wait-delivered needs a read key (ARUS_READ_KEY or --read-key-file): a key with relay.read, topics.read and groups.read")
	case *waitTimeout <= 0:
		return f.fail("--wait-timeout %s: use a positive duration", *waitTimeout)
	}
	per := 1
	if *mode == "batch" {
		per = *batch
	}
	base := strings.TrimRight(*server, "/")
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: *conc, MaxIdleConnsPerHost: *conc}, Timeout: 30 * time.Second}
	var dl delivery
	if *waitDelivered {
		// Before the load, so that a wrong key or dataset stops it early.
		if dl, err = routeGroups(ctx, client, base, *readKey, *dataset); err != nil {
			return err
		}
	}
	res := runLoad(ctx, client, base+"/api/v1/datasets/"+*dataset+"/records", *apiKey, *conc, per, *dur)
	res.print(e.stdout, *mode, per, *conc)
	if res.refused != "" {
		return fmt.Errorf("bench: the server refused the requests, so the run stopped: %s", res.refused)
	}
	if res.ok == 0 {
		return fmt.Errorf("bench: no request succeeded; first error: %s", res.firstErr)
	}
	if !*waitDelivered {
		return nil
	}
	took, err := dl.wait(ctx, client, base, *readKey, res.lastOK, *waitTimeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "delivered: all %d route(s) of %s caught up %s after the last accepted request\n",
		len(dl.groups), *dataset, took.Round(time.Millisecond))
	return nil
}

func (r *loadResult) print(w io.Writer, mode string, per, conc int) {
	secs := r.elapsed.Seconds()
	fmt.Fprintf(w, "mode %s, %d record(s) per request, %d clients, %.1fs (requests in flight at the end waited for)\n", mode, per, conc, secs)
	fmt.Fprintf(w, "requests: %s accepted, %s failed  (%s requests/s)\n", thousands(r.ok), thousands(r.fail), thousands(int64(float64(r.ok)/secs)))
	fmt.Fprintf(w, "records:  %s accepted  (%s records/s)\n", thousands(r.ok*int64(per)), thousands(int64(float64(r.ok*int64(per))/secs)))
	if n := len(r.latencies); n > 0 {
		q := func(p float64) time.Duration { return r.latencies[min(n-1, int(p*float64(n)))] }
		fmt.Fprintf(w, "latency:  p50 %s  p90 %s  p99 %s  max %s\n", q(0.50).Round(10*time.Microsecond),
			q(0.90).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), r.latencies[n-1].Round(10*time.Microsecond))
	}
	if r.fail > 0 {
		fmt.Fprintf(w, "statuses: %s\nfirst error: %s\n", statusWords(r.statuses), r.firstErr)
	}
}

// statusWords lists the answers by status, in words: "202 Accepted:
// 1,204; 403 Forbidden: 101,993"; 0 stands for requests that got no
// answer.
func statusWords(statuses map[int]int64) string {
	codes := make([]int, 0, len(statuses))
	for c := range statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		name := "no answer"
		if c != 0 {
			name = strconv.Itoa(c) + " " + http.StatusText(c)
		}
		parts[i] = name + ": " + thousands(statuses[c])
	}
	return strings.Join(parts, "; ")
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

var errNoRoutes = errors.New("bench: the dataset has no enabled route to wait for")
