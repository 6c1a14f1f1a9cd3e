package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/internal/cli"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
)

// result is what one run of the command line gave.
type result struct {
	stdout, stderr string
	err            error
}

// arus runs the command line in-process with environment env and standard
// input stdin.
func arus(t testing.TB, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := cli.Run(ctx, append([]string{"arus"}, args...), getenv, strings.NewReader(stdin), &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}

// must runs the command line and fails the test on an error.
func must(t testing.TB, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	r := arus(t, env, stdin, args...)
	if r.err != nil {
		t.Fatalf("arus %s: %v\nstderr: %s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

// apiServer starts the HTTP API over an embedded broker in a fresh
// directory and returns its URL.
func apiServer(t *testing.T) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	b, err := embedded.New(context.Background(), embedded.Config{Dir: t.TempDir(), Options: stream.Options{Logger: log}})
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	s, err := api.New(b, api.Config{Logger: log})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.CloseStreams()
		srv.Close()
		_ = b.Close()
	})
	return srv.URL
}

// modes returns the two ways a command reaches the stream: a server (given
// by ARUS_SERVER) and the embedded broker opened directly (ARUS_DATA).
func modes(t *testing.T) map[string]map[string]string {
	return map[string]map[string]string{
		"server": {"ARUS_SERVER": apiServer(t)},
		"direct": {"ARUS_DATA": t.TempDir()},
	}
}

func TestHelp(t *testing.T) {
	tests := [][]string{
		{"help"},
		{"--help"},
		{"serve", "--help"},
		{"topics", "--help"},
		{"topics", "create", "-h"},
		{"produce", "--help"},
		{"consume", "--help"},
		{"groups", "reset", "--help"},
		{"help", "version"},
		{"relay", "--help"},
		{"relay", "destinations", "-h"},
		{"relay", "routes", "create", "--help"},
		{"help", "relay"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := arus(t, nil, "", args...)
			if r.err != nil {
				t.Fatalf("got %v, want no error", r.err)
			}
			if !strings.Contains(r.stdout, "Usage") && !strings.Contains(r.stdout, "arus") {
				t.Fatalf("stdout %q has no usage", r.stdout)
			}
		})
	}
	r := must(t, nil, "", "serve", "--help")
	for _, want := range []string{"--data", "ARUS_DATA", "--listen", "ARUS_LISTEN", "--broker", "ARUS_BROKER", "--db", "ARUS_DB", "--components", "ARUS_COMPONENTS"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

// Bad command lines fail with a usage error (exit status 2) that names the
// value and the rule, after printing the command's usage.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "no command"},
		{[]string{"fly"}, nil, `unknown command "fly"`},
		{[]string{"topics"}, nil, "no action"},
		{[]string{"topics", "rename"}, nil, `unknown action "rename"`},
		{[]string{"topics", "create"}, nil, "no topic given"},
		{[]string{"topics", "create", "bad name"}, nil, `"bad name"`},
		{[]string{"topics", "create", "t", "--partitions", "0"}, nil, "--partitions 0 is out of range; use 1 to 10000"},
		{[]string{"topics", "create", "t", "--partitions", "10001"}, nil, "10001"},
		{[]string{"topics", "create", "t", "--retention", "soon"}, nil, `"soon"`},
		{[]string{"topics", "create", "t", "--bogus"}, nil, "bogus"},
		{[]string{"topics", "describe", "a", "b"}, nil, "one topic at a time"},
		{[]string{"produce"}, nil, "no topic given"},
		{[]string{"produce", "--topic", "t", "--key", "k", "--key-separator", ":"}, nil, "either --key or --key-separator"},
		{[]string{"produce", "--topic", "t", "--header", "novalue"}, nil, `"novalue"`},
		{[]string{"produce", "--topic", "t", "--batch-size", "0"}, nil, "--batch-size 0"},
		{[]string{"consume", "--topic", "t", "--format", "xml"}, nil, `"xml"`},
		{[]string{"consume", "--topic", "a/b"}, nil, `"a/b"`},
		{[]string{"consume", "--topic", "t", "--group", "g\ng"}, nil, `"g\ng"`},
		{[]string{"consume", "--topic", "t", "--max", "-1"}, nil, "--max -1"},
		{[]string{"groups", "reset", "g", "--topic", "t"}, nil, "exactly one of"},
		{[]string{"groups", "reset", "g", "--topic", "t", "--to-earliest", "--to-latest"}, nil, "exactly one of"},
		{[]string{"groups", "reset", "g", "--topic", "t", "--to-datetime", "yesterday"}, nil, `"yesterday"`},
		{[]string{"groups", "reset", "g", "--topic", "t", "--to-offset", "-3"}, nil, "-3"},
		{[]string{"groups", "reset", "g", "--topic", "t", "--to-earliest", "--partitions", "0,x"}, nil, `"x"`},
		{[]string{"groups", "describe"}, nil, "no group given"},
		{[]string{"serve", "--components", "relay,payroll"}, nil, `unknown component "payroll"`},
		{[]string{"serve", "--broker", "nats://host:4222"}, nil, `"nats://host:4222"`},
		{[]string{"serve", "--broker", "kafka://"}, nil, "no broker"},
		{[]string{"serve", "--default-partitions", "0"}, nil, "--default-partitions 0"},
		{[]string{"serve", "extra"}, nil, `unexpected argument "extra"`},
		{[]string{"serve"}, map[string]string{"ARUS_LOG_LEVEL": "loud"}, `"loud"`},
		{[]string{"serve"}, map[string]string{"ARUS_DEFAULT_PARTITIONS": "many"}, "ARUS_DEFAULT_PARTITIONS"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := arus(t, tt.env, "", tt.args...)
			var ue *cli.UsageError
			if !errors.As(r.err, &ue) {
				t.Fatalf("got %v, want a usage error", r.err)
			}
			if got := cli.ExitCode(r.err); got != 2 {
				t.Errorf("exit code %d, want 2", got)
			}
			if !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", r.err, tt.want)
			}
			if !strings.Contains(r.stderr, "Usage") {
				t.Errorf("stderr does not show the usage: %q", r.stderr)
			}
		})
	}
}

func TestTopicsCommands(t *testing.T) {
	for mode, env := range modes(t) {
		t.Run(mode, func(t *testing.T) {
			r := must(t, env, "", "topics", "create", "orders", "--partitions", "3", "--retention", "7d")
			if !strings.Contains(r.stdout, "Created topic orders") {
				t.Errorf("create printed %q", r.stdout)
			}
			must(t, env, "", "topics", "create", "--topic", "audit", "--retention-bytes", "1000")
			must(t, env, "", "topics", "create", "audit", "--if-not-exists")
			r = arus(t, env, "", "topics", "create", "audit")
			if !errors.Is(r.err, stream.ErrTopicExists) || cli.ExitCode(r.err) != 1 {
				t.Errorf("creating an existing topic: %v (exit %d), want ErrTopicExists, exit 1", r.err, cli.ExitCode(r.err))
			}

			r = must(t, env, "", "topics", "list")
			want := regexp.MustCompile(`(?m)^audit\s+4\s+0\s+forever\s+1000\s*\n^orders\s+3\s+0\s+7d\s+none\s*$`)
			if !want.MatchString(r.stdout) {
				t.Errorf("list printed:\n%s", r.stdout)
			}
			r = must(t, env, "", "topics", "describe", "orders")
			if !strings.Contains(r.stdout, "Partitions: 3") || strings.Count(r.stdout, "\n") != 5 {
				t.Errorf("describe printed:\n%s", r.stdout)
			}
			r = arus(t, env, "", "topics", "describe", "missing")
			if !errors.Is(r.err, stream.ErrTopicNotFound) || !strings.Contains(r.err.Error(), "missing") {
				t.Errorf("describing a missing topic: %v, want ErrTopicNotFound naming it", r.err)
			}
			must(t, env, "", "topics", "delete", "--topic", "audit")
			r = must(t, env, "", "topics", "list")
			if strings.Contains(r.stdout, "audit") {
				t.Errorf("list after delete still shows audit:\n%s", r.stdout)
			}
		})
	}
}

func TestProduceConsumeGroups(t *testing.T) {
	for mode, env := range modes(t) {
		t.Run(mode, func(t *testing.T) {
			must(t, env, "", "topics", "create", "orders", "--partitions", "2")
			input := "a:1\nb:2\na:3\nc:4\nb:5\n"
			r := must(t, env, input, "produce", "--topic", "orders", "--key-separator", ":", "--header", "source=test", "--header", "v=1")
			if !strings.Contains(r.stderr, "Produced 5 record(s)") {
				t.Errorf("produce summary %q", r.stderr)
			}
			must(t, env, "x\ny\n", "produce", "orders", "--key", "fixed")

			r = must(t, env, "", "consume", "--topic", "orders", "--from-beginning", "--timeout", "300ms", "--format", "json")
			var recs []api.Record
			sc := bufio.NewScanner(strings.NewReader(r.stdout))
			for sc.Scan() {
				var rec api.Record
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				recs = append(recs, rec)
			}
			if len(recs) != 7 {
				t.Fatalf("consumed %d records, want 7:\n%s", len(recs), r.stdout)
			}
			perKey := map[string][]string{}
			for _, rec := range recs {
				if rec.Key == nil {
					t.Fatalf("record %+v has no key", rec)
				}
				perKey[*rec.Key] = append(perKey[*rec.Key], *rec.Value)
				if *rec.Key != "fixed" && !hasHeader(rec, "source", "test") {
					t.Errorf("record %+v lacks header source=test", rec)
				}
				if wantP := stream.Partition([]byte(*rec.Key), 2); rec.Partition != wantP {
					t.Errorf("key %q on partition %d, want %d", *rec.Key, rec.Partition, wantP)
				}
			}
			wantKeys := map[string]string{"a": "1,3", "b": "2,5", "c": "4", "fixed": "x,y"}
			for k, v := range wantKeys {
				if got := strings.Join(perKey[k], ","); got != v {
					t.Errorf("key %q values %q, want %q", k, got, v)
				}
			}

			// A group reads 3, commits them, and goes on from there.
			r = must(t, env, "", "consume", "--topic", "orders", "--group", "billing", "--max", "3")
			if n := strings.Count(r.stdout, "\n"); n != 3 {
				t.Fatalf("consume --max 3 printed %d lines", n)
			}
			r = must(t, env, "", "groups", "describe", "billing")
			if !strings.Contains(r.stdout, "Lag: 4") {
				t.Errorf("describe after 3 of 7:\n%s", r.stdout)
			}
			r = must(t, env, "", "consume", "--topic", "orders", "--group", "billing", "--timeout", "500ms")
			if n := strings.Count(r.stdout, "\n"); n != 4 {
				t.Errorf("the group resumed with %d records, want the other 4:\n%s", n, r.stdout)
			}
			r = must(t, env, "", "groups", "list")
			if !regexp.MustCompile(`(?m)^billing\s+0\s+orders\s+0\s*$`).MatchString(r.stdout) {
				t.Errorf("groups list:\n%s", r.stdout)
			}

			// Reset to the start of partition 0 only, then to the earliest everywhere.
			r = must(t, env, "", "groups", "reset", "--group", "billing", "--topic", "orders", "--to-offset", "0", "--partitions", "0")
			if !regexp.MustCompile(`(?m)^billing\s+orders\s+0\s+0\s+`).MatchString(r.stdout) || strings.Count(r.stdout, "\n") != 2 {
				t.Errorf("reset partition 0:\n%s", r.stdout)
			}
			must(t, env, "", "groups", "reset", "billing", "--topic", "orders", "--to-earliest")
			r = must(t, env, "", "consume", "--topic", "orders", "--group", "billing", "--timeout", "500ms")
			if n := strings.Count(r.stdout, "\n"); n != 7 {
				t.Errorf("after reset to earliest the group read %d records, want 7", n)
			}
			must(t, env, "", "groups", "reset", "billing", "--topic", "orders", "--to-datetime", "2000-01-01")
			r = must(t, env, "", "groups", "describe", "billing")
			if !strings.Contains(r.stdout, "Lag: 7") {
				t.Errorf("after reset to 2000-01-01:\n%s", r.stdout)
			}
			r = arus(t, env, "", "groups", "describe", "nobody")
			if !errors.Is(r.err, stream.ErrGroupNotFound) {
				t.Errorf("describe of an unknown group: %v, want ErrGroupNotFound", r.err)
			}
			must(t, env, "", "groups", "delete", "billing")
		})
	}
}

func hasHeader(r api.Record, k, v string) bool {
	for _, h := range r.Headers {
		if h.Key == k && h.Value != nil && *h.Value == v {
			return true
		}
	}
	return false
}

// A line without the key separator stops produce with an error naming the
// line; the lines before it are produced.
func TestProduceMissingSeparator(t *testing.T) {
	env := map[string]string{"ARUS_SERVER": apiServer(t)}
	r := arus(t, env, "a:1\nb:2\nno separator\nc:3\n", "produce", "--topic", "t", "--key-separator", ":")
	if r.err == nil || !strings.Contains(r.err.Error(), `line 3 has no key separator ":"`) {
		t.Fatalf("got %v, want an error naming line 3", r.err)
	}
	r = must(t, env, "", "consume", "--topic", "t", "--from-beginning", "--timeout", "300ms")
	if n := strings.Count(r.stdout, "\n"); n != 2 {
		t.Fatalf("after the failed produce the topic holds %d records, want the 2 before line 3", n)
	}
}

// The acceptance round trip: 100,000 keyed lines produced through the API
// come back from consume --from-beginning, all of them, in order per key.
func TestRoundTrip100k(t *testing.T) {
	const n, keys = 100000, 100
	env := map[string]string{"ARUS_SERVER": apiServer(t)}
	must(t, env, "", "topics", "create", "bulk", "--partitions", "8")
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "key-%d|%d\n", i%keys, i)
	}
	start := time.Now()
	r := must(t, env, in.String(), "produce", "--topic", "bulk", "--key-separator", "|")
	produced := time.Since(start)
	if !strings.Contains(r.stderr, fmt.Sprintf("Produced %d record(s)", n)) {
		t.Fatalf("produce summary %q", r.stderr)
	}
	start = time.Now()
	r = must(t, env, "", "consume", "--topic", "bulk", "--from-beginning", "--format", "json", "--timeout", "1s")
	consumed := time.Since(start)
	t.Logf("100,000 lines: produce %s, consume %s (with a 1s idle timeout)", produced.Round(time.Millisecond), consumed.Round(time.Millisecond))

	last := map[string]int{}
	seen := make([]bool, n)
	count := 0
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var rec api.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		i, err := strconv.Atoi(*rec.Value)
		if err != nil || rec.Key == nil || *rec.Key != fmt.Sprintf("key-%d", i%keys) {
			t.Fatalf("record %+v does not match its line", rec)
		}
		if seen[i] {
			t.Fatalf("line %d consumed twice", i)
		}
		seen[i] = true
		count++
		if prev, ok := last[*rec.Key]; ok && prev > i {
			t.Fatalf("key %s: line %d after line %d; order per key lost", *rec.Key, i, prev)
		}
		last[*rec.Key] = i
	}
	if count != n {
		t.Fatalf("consumed %d records, want %d", count, n)
	}
}

// syncBuffer is a buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenRE = regexp.MustCompile(`msg="arus listening" addr=(\S+)`)

// mustKey creates an API key in the auth store of data with arus keys
// create and returns it.
func mustKey(t testing.TB, data string, scopes ...string) string {
	t.Helper()
	args := []string{"keys", "create", "--data", data, "--name", "test"}
	for _, s := range scopes {
		args = append(args, "--scope", s)
	}
	r := arus(t, nil, "", args...)
	if r.err != nil {
		t.Fatalf("arus keys create: %v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.stderr, "shown only this once") {
		t.Errorf("keys create does not warn that the key is shown once: %s", r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// serve starts arus serve in-process and returns its URL and a function
// that stops it and returns its error.
func serve(t testing.TB, env map[string]string, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() {
		done <- cli.Run(ctx, append([]string{"arus", "serve", "--listen", "127.0.0.1:0"}, args...), getenv, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(stderr.String()); m != nil {
			stop := sync.OnceValue(func() error {
				cancel()
				select {
				case err := <-done:
					return err
				case <-time.After(30 * time.Second):
					return errors.New("serve did not stop within 30s")
				}
			})
			t.Cleanup(func() { _ = stop() })
			t.Cleanup(func() {
				if t.Failed() {
					for _, l := range strings.Split(stderr.String(), "\n") {
						if strings.Contains(l, "level=ERROR") {
							t.Log(l)
						}
					}
				}
			})
			return "http://" + m[1], stop
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended before listening: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log its address within 10s:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serve runs the API, answers the other commands, and shuts down cleanly,
// draining a consumer that streams over HTTP.
func TestServe(t *testing.T) {
	data := t.TempDir()
	key := mustKey(t, data, "topics.read", "topics.write", "records.produce", "records.read", "groups.read", "groups.reset")
	url, stop := serve(t, map[string]string{"ARUS_DATA": data, "ARUS_COMPONENTS": "backbone"})
	// Without a key the API refuses; with one it serves.
	if r := arus(t, map[string]string{"ARUS_SERVER": url}, "", "topics", "list"); r.err == nil || !strings.Contains(r.err.Error(), "no credentials") {
		t.Errorf("topics list without a key: %v, want a no-credentials error", r.err)
	}
	env := map[string]string{"ARUS_SERVER": url, "ARUS_API_KEY": key}
	must(t, env, "1\n2\n3\n", "produce", "--topic", "live")

	// A consumer in a group keeps a stream open while the server stops.
	consumed := make(chan result, 1)
	go func() { consumed <- arus(t, env, "", "consume", "--topic", "live", "--group", "tail") }()
	// Done when the group has offsets on all four partitions and no lag:
	// while it joins, it may show only some of them.
	waitFor(t, func() bool {
		r := arus(t, env, "", "groups", "describe", "tail")
		return r.err == nil && strings.Contains(r.stdout, "Lag: 0") && strings.Count(r.stdout, "\nlive ") == 4
	})
	if err := stop(); err != nil {
		t.Fatalf("serve stopped with %v, want nil", err)
	}
	select {
	case r := <-consumed:
		if got := strings.Count(r.stdout, "\n"); got != 3 {
			t.Errorf("the consumer printed %d records, want 3", got)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the consumer did not end when the server stopped")
	}

	// The data directory keeps the records and the group's offsets.
	denv := map[string]string{"ARUS_DATA": data}
	r := must(t, denv, "", "groups", "describe", "tail")
	if !strings.Contains(r.stdout, "Lag: 0") {
		t.Errorf("after restart the group lost its offsets:\n%s", r.stdout)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestVersion(t *testing.T) {
	r := must(t, nil, "", "version")
	if !strings.HasPrefix(r.stdout, "arus ") {
		t.Fatalf("version printed %q", r.stdout)
	}
}
