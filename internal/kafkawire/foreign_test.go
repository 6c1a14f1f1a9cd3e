package kafkawire

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/testenv"
	"github.com/arus-platform/arus/stream"
)

func TestKcat(t *testing.T) {
	kcat := testenv.Kcat(t)
	ctx := testContext(t)
	s := startServer(t)

	// Produce keyed records with each codec, then consume them all back.
	var want []string
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		var in strings.Builder
		for i := range 20 {
			line := fmt.Sprintf("%s-%d:%s value %d %s", codec, i, codec, i, strings.Repeat("x", i*10))
			in.WriteString(line + "\n")
			k, v, _ := strings.Cut(line, ":")
			want = append(want, k+"="+v)
		}
		testenv.Output(t, ctx, in.String(), kcat, "-b", s.addr, "-t", "tes", "-P", "-K:", "-z", codec)
	}
	out := testenv.Output(t, ctx, "", kcat, "-b", s.addr, "-t", "tes", "-C", "-o", "beginning", "-e", "-q", "-f", "%k=%s\n")
	got := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("kcat consumed %d records, want %d:\n%s", len(got), len(want), out)
	}
	// They are the log's records.
	info, err := s.broker().DescribeTopic(ctx, "tes")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, o := range info.Offsets {
		n += o.End - o.Start
	}
	if n != int64(len(want)) {
		t.Errorf("the log holds %d records of tes, want %d", n, len(want))
	}

	md := testenv.Output(t, ctx, "", kcat, "-b", s.addr, "-L")
	for _, w := range []string{"1 brokers:", "broker 0 at " + s.addr, `topic "tes" with 4 partitions`} {
		if !strings.Contains(md, w) {
			t.Errorf("kcat -L output lacks %q:\n%s", w, md)
		}
	}

	// A balanced consumer group reads everything and commits into the log.
	out = testenv.Output(t, ctx, "", kcat, "-b", s.addr, "-G", "kcat-group", "-o", "beginning", "-c", fmt.Sprint(len(want)), "-q", "-f", "%k=%s\n", "tes")
	got = strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("kcat -G consumed %d records, want %d:\n%s", len(got), len(want), out)
	}
	g, err := s.broker().DescribeGroup(ctx, "kcat-group")
	if err != nil {
		t.Fatalf("DescribeGroup: %v", err)
	}
	var committed int64
	for _, o := range g.Offsets {
		committed += o.Committed
	}
	if committed != int64(len(want)) || g.Lag() != 0 {
		t.Errorf("group kcat-group committed %d records with lag %d, want %d and 0: %+v", committed, g.Lag(), len(want), g.Offsets)
	}
}

// requests returns how many requests of one API the listener has answered.
func requests(t *testing.T, reg *prometheus.Registry, api string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "arus_kafka_requests_seconds" {
			continue
		}
		for _, m := range mf.Metric {
			if slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == "api" && l.GetValue() == api }) {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

// The original deployment document's Python producer and consumer run
// unchanged but for the address; a consumer in a group commits into the
// log.
func TestKafkaPython(t *testing.T) {
	python := testenv.PythonKafka(t)
	ctx := testContext(t)
	reg := prometheus.NewRegistry()
	s := startServer(t, func(c *Config) { c.Metrics = reg })
	script := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), name)
		src := strings.ReplaceAll(string(b), "192.168.43.123:9092", s.addr)
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if err := s.broker().CreateTopic(ctx, stream.Topic{Name: "tes", Partitions: 1}); err != nil {
		t.Fatal(err)
	}

	// The consumer starts at the end of the topic: wait until it has asked
	// for its position and fetched once, so it waits for what comes next.
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	consumer := exec.CommandContext(cctx, python, "-u", script("consumer.py"))
	stdout, err := consumer.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	consumer.Stderr = &stderr
	if err := consumer.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stop(); _ = consumer.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for requests(t, reg, "ListOffsets") == 0 || requests(t, reg, "Fetch") == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("the consumer never fetched: %s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	out := testenv.Output(t, ctx, "", python, "-u", script("producer.py"))
	if !strings.Contains(out, "kafka connected") || strings.Count(out, "message sent") != 10 || strings.Contains(out, "kafka error") {
		t.Fatalf("producer output:\n%s", out)
	}
	received := 0
	for received < 10 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("consumer ended after %d records: %s", received, stderr.String())
			}
			if strings.HasPrefix(line, "tes:0:") {
				if !strings.HasSuffix(line, "key=None value=b'raw_bytes'") {
					t.Errorf("consumer printed %q, want key=None value=b'raw_bytes'", line)
				}
				received++
			}
		case <-ctx.Done():
			t.Fatalf("consumer received %d of 10 records", received)
		}
	}

	// A consumer in a group, as kafka-python documents it, commits.
	group := `from kafka import KafkaConsumer
consumer = KafkaConsumer('tes', bootstrap_servers='` + s.addr + `', group_id='tes-readers',
                         auto_offset_reset='earliest', consumer_timeout_ms=3000)
n = 0
for message in consumer:
    n += 1
consumer.commit()
consumer.close()
print(n)
`
	if got := strings.TrimSpace(testenv.Output(t, ctx, group, python, "-u", "-")); got != "10" {
		t.Errorf("the group consumer read %s records, want 10", got)
	}
	committed := s.broker().Committed("tes-readers")[stream.TopicPartition{Topic: "tes", Partition: 0}]
	if committed != 10 {
		t.Errorf("group tes-readers committed offset %d, want 10", committed)
	}
}

// keys is an Authenticator of fixed keys.
type keys map[string]auth.APIKey

func (k keys) VerifyAPIKey(_ context.Context, presented string) (auth.APIKey, error) {
	key, ok := k[presented]
	if !ok {
		return auth.APIKey{}, auth.ErrInvalidCredentials
	}
	return key, nil
}

// kcat authenticates with SASL/PLAIN and an API key, and may do what the
// key's scopes allow.
func TestKcatSASL(t *testing.T) {
	kcat := testenv.Kcat(t)
	ctx := testContext(t)
	s := startServer(t, func(c *Config) {
		c.Auth = keys{"arus_good_secret": {Prefix: "good", Scopes: []string{"records.produce:orders", "records.read:orders", "topics.read:orders"}}}
	})
	sasl := func(password string) []string {
		return []string{"-b", s.addr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
			"-X", "sasl.username=app", "-X", "sasl.password=" + password}
	}
	testenv.Output(t, ctx, "k:v\n", kcat, append(sasl("arus_good_secret"), "-t", "orders", "-P", "-K:")...)
	out := testenv.Output(t, ctx, "", kcat, append(sasl("arus_good_secret"), "-t", "orders", "-C", "-o", "beginning", "-e", "-q", "-f", "%k=%s\n")...)
	if strings.TrimSpace(out) != "k=v" {
		t.Errorf("consumed %q, want k=v", out)
	}
	// A topic outside the scopes is refused; a wrong key is refused.
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"topic outside the scopes", append(sasl("arus_good_secret"), "-t", "payments", "-P")},
		{"wrong key", append(sasl("arus_bad_secret"), "-t", "orders", "-P", "-m", "5")},
	} {
		cmd := exec.CommandContext(ctx, kcat, tc.args...)
		cmd.Stdin = strings.NewReader("x\n")
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("%s: kcat succeeded:\n%s", tc.name, out)
		}
	}
	if info, err := s.broker().DescribeTopic(ctx, "payments"); err == nil {
		t.Errorf("topic payments exists after a refused produce: %+v", info)
	}
}
