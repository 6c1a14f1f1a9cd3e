package kafkainterop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/arus-platform/arus/internal/testenv"
	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/kafka"
)

const partitions = 3

// cluster starts an in-process Kafka cluster and an Arus broker on it with
// short group timeouts.
func cluster(t *testing.T) (addr string, b *kafka.Broker) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err = kafka.New(ctx, kafka.Config{
		Brokers: c.ListenAddrs(), SessionTimeout: 6 * time.Second, HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout: 10 * time.Second, Options: stream.Options{Logger: slog.New(slog.DiscardHandler)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return c.ListenAddrs()[0], b
}

// consumeAll consumes n records of topic in a new group and returns them.
func consumeAll(t *testing.T, ctx context.Context, b *kafka.Broker, topic string, n int) []*stream.Record {
	t.Helper()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu  sync.Mutex
		got []*stream.Record
	)
	err := b.Consume(cctx, stream.ConsumerConfig{Group: "arus-" + topic, Topics: []string{topic}}, func(_ context.Context, batch []*stream.Record) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, batch...)
		if len(got) >= n {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("consume %s: %v", topic, err)
	}
	if len(got) != n {
		t.Fatalf("consumed %d records of %s, want %d (the test timed out?)", len(got), topic, n)
	}
	return got
}

// checkForeign checks what a foreign client produced, as Arus consumed it:
// every key on murmur2's partition, the value and the header intact.
func checkForeign(t *testing.T, client string, got []*stream.Record, n int) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range got {
		if r.Key == nil {
			t.Errorf("%s record %q lost its key", client, r.Value)
			continue
		}
		if want := stream.Partition(r.Key, partitions); r.Partition != want {
			t.Errorf("%s put key %q on partition %d; Arus puts it on %d", client, r.Key, r.Partition, want)
		}
		if want := "value-of-" + string(r.Key); string(r.Value) != want {
			t.Errorf("%s key %q: value %q, want %q", client, r.Key, r.Value, want)
		}
		if v, ok := r.Header("src"); !ok || string(v) != client {
			t.Errorf("%s key %q: header src=%q, want %q", client, r.Key, v, client)
		}
		seen[string(r.Key)] = true
	}
	if len(seen) != n {
		t.Errorf("%s: Arus consumed %d distinct keys, want %d", client, len(seen), n)
	}
}

// produced are the records Arus produces for the foreign clients to read:
// keyed ones, one with an empty key and one without a key.
func produced(t *testing.T, ctx context.Context, b *kafka.Broker, topic string) []*stream.Record {
	t.Helper()
	var recs []*stream.Record
	for i := range 20 {
		recs = append(recs, &stream.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte(fmt.Sprintf("value-%d", i)),
			Headers: []stream.Header{{Key: "src", Value: []byte("arus")}}})
	}
	recs = append(recs,
		&stream.Record{Topic: topic, Key: []byte{}, Value: []byte("empty-key"), Headers: []stream.Header{{Key: "src", Value: []byte("arus")}}},
		&stream.Record{Topic: topic, Value: []byte("no-key"), Headers: []stream.Header{{Key: "src", Value: []byte("arus")}}})
	if err := b.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	return recs
}

// foreignRecord is a record as a foreign client saw it; Key is nil for a
// record without a key.
type foreignRecord struct {
	Partition int32
	Key       *string
	Value     string
	Headers   map[string]string
}

// checkSeen compares what a foreign client consumed with what Arus
// produced. kcat prints an empty key as NULL under -Z as it does a missing
// one, so for it an empty key may show as none.
func checkSeen(t *testing.T, client string, want []*stream.Record, got []foreignRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s consumed %d records, want %d: %+v", client, len(got), len(want), got)
	}
	byValue := map[string]foreignRecord{}
	for _, r := range got {
		byValue[r.Value] = r
	}
	for _, w := range want {
		r, ok := byValue[string(w.Value)]
		if !ok {
			t.Errorf("%s did not consume %q", client, w.Value)
			continue
		}
		if r.Partition != w.Partition {
			t.Errorf("%s saw %q on partition %d, Arus stored it on %d", client, w.Value, r.Partition, w.Partition)
		}
		emptyAsNull := client == "kcat" && w.Key != nil && len(w.Key) == 0 && r.Key == nil
		if !emptyAsNull && ((r.Key == nil) != (w.Key == nil) || r.Key != nil && *r.Key != string(w.Key)) {
			t.Errorf("%s saw %q with key %v, Arus produced %q (nil: %v)", client, w.Value, r.Key, w.Key, w.Key == nil)
		}
		if r.Headers["src"] != "arus" || r.Headers[stream.HeaderID] != w.ID() {
			t.Errorf("%s saw %q with headers %v, want src=arus and %s=%s", client, w.Value, r.Headers, stream.HeaderID, w.ID())
		}
	}
	if empty := want[len(want)-2]; stream.Partition([]byte{}, partitions) != empty.Partition {
		t.Errorf("Arus put the empty key on partition %d, not murmur2's %d", empty.Partition, stream.Partition([]byte{}, partitions))
	}
}

func TestKcat(t *testing.T) {
	kcat := testenv.Kcat(t)
	addr, b := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, topic := range []string{"from-kcat", "from-arus"} {
		if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: partitions}); err != nil {
			t.Fatal(err)
		}
	}

	// kcat produces with librdkafka's Java-compatible partitioner.
	var in strings.Builder
	for i := range 30 {
		fmt.Fprintf(&in, "kcat-%d:value-of-kcat-%d\n", i, i)
	}
	testenv.Output(t, ctx, in.String(), kcat, "-b", addr, "-t", "from-kcat", "-P", "-K:", "-H", "src=kcat",
		"-X", "topic.partitioner=murmur2_random")
	checkForeign(t, "kcat", consumeAll(t, ctx, b, "from-kcat", 30), 30)

	// kcat consumes what Arus produced; -Z shows a missing key as NULL.
	want := produced(t, ctx, b, "from-arus")
	out := testenv.Output(t, ctx, "", kcat, "-b", addr, "-t", "from-arus", "-C", "-o", "beginning", "-e", "-q", "-Z",
		"-f", "%p\t%k\t%s\t%h\n")
	var got []foreignRecord
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("kcat printed %q", line)
		}
		var r foreignRecord
		if _, err := fmt.Sscan(f[0], &r.Partition); err != nil {
			t.Fatalf("kcat printed partition %q", f[0])
		}
		if f[1] != "NULL" {
			r.Key = &f[1]
		}
		r.Value, r.Headers = f[2], map[string]string{}
		for _, h := range strings.Split(f[3], ",") {
			k, v, _ := strings.Cut(h, "=")
			r.Headers[k] = v
		}
		got = append(got, r)
	}
	checkSeen(t, "kcat", want, got)
}

// pythonOut runs a kafka-python script and decodes the JSON line it prints
// per record.
func pythonOut(t *testing.T, ctx context.Context, python, script string) []foreignRecord {
	t.Helper()
	var got []foreignRecord
	sc := bufio.NewScanner(strings.NewReader(testenv.Output(t, ctx, script, python, "-u", "-")))
	for sc.Scan() {
		var r foreignRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("python printed %q: %v", sc.Text(), err)
		}
		got = append(got, r)
	}
	return got
}

const pyRecord = `
import json, sys
def show(m):
    print(json.dumps({"Partition": m.partition, "Key": None if m.key is None else m.key.decode(),
                      "Value": m.value.decode(), "Headers": {k: v.decode() for k, v in m.headers}}))
`

func TestKafkaPython(t *testing.T) {
	python := testenv.PythonKafka(t)
	addr, b := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, topic := range []string{"from-python", "from-arus"} {
		if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: partitions}); err != nil {
			t.Fatal(err)
		}
	}
	// kafka-python's default partitioner is Java's murmur2.
	testenv.Output(t, ctx, `
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers='`+addr+`')
for i in range(30):
    k = 'python-%d' % i
    p.send('from-python', key=k.encode(), value=('value-of-' + k).encode(), headers=[('src', b'python')])
p.flush()
p.close()
`, python, "-u", "-")
	checkForeign(t, "python", consumeAll(t, ctx, b, "from-python", 30), 30)

	want := produced(t, ctx, b, "from-arus")
	got := pythonOut(t, ctx, python, pyRecord+`
from kafka import KafkaConsumer
c = KafkaConsumer('from-arus', bootstrap_servers='`+addr+`', auto_offset_reset='earliest', consumer_timeout_ms=3000)
for m in c:
    show(m)
c.close()
`)
	checkSeen(t, "python", want, got)
}

// TestGroupSharedWithPython shares one group between an Arus consumer and a
// kafka-python consumer with its default assignors (range, roundrobin):
// they split the partitions, and when the Python consumer leaves, Arus
// takes its partitions over from what it committed, so every record is
// handled exactly once.
func TestGroupSharedWithPython(t *testing.T) {
	python := testenv.PythonKafka(t)
	addr, b := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const topic, group = "shared", "svc:shared/v1"
	if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	batch := func(round int) []string {
		var recs []*stream.Record
		var values []string
		for i := range 40 {
			v := fmt.Sprintf("r%d-%d", round, i)
			recs = append(recs, &stream.Record{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(v)})
			values = append(values, v)
		}
		if err := b.Produce(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		return values
	}

	// Arus consumes alone first.
	var (
		mu   sync.Mutex
		arus = map[string]int{}
	)
	count := func(values []string, in map[string]int) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, v := range values {
			if in[v] > 0 {
				n++
			}
		}
		return n
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s", what)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	consumed := make(chan error, 1)
	go func() {
		consumed <- b.Consume(cctx, stream.ConsumerConfig{Group: group, Topics: []string{topic}, Member: "arus-member"},
			func(_ context.Context, batch []*stream.Record) error {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range batch {
					arus[string(r.Value)]++
				}
				return nil
			})
	}()
	first := batch(1)
	waitFor("Arus to consume the first round", func() bool { return count(first, arus) == len(first) })

	// The Python consumer joins: it says when it has partitions, then
	// reads until idle, commits and leaves.
	py := exec.CommandContext(ctx, python, "-u", "-")
	py.Stdin = strings.NewReader(pyRecord + `
from kafka import KafkaConsumer
c = KafkaConsumer('` + topic + `', bootstrap_servers='` + addr + `', group_id='` + group + `',
                  enable_auto_commit=False, auto_offset_reset='earliest', heartbeat_interval_ms=100,
                  session_timeout_ms=6000, max_poll_interval_ms=30000)
while not c.assignment():
    c.poll(timeout_ms=100)
print("assigned " + ",".join(str(tp.partition) for tp in c.assignment()), flush=True)
idle, got = 0, 0
while idle < 30 or got == 0:
    recs = c.poll(timeout_ms=100)
    if not recs:
        idle += 1
        continue
    idle = 0
    for tp, ms in recs.items():
        for m in ms:
            got += 1
            show(m)
c.commit()
c.close()
`)
	stdout, err := py.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	py.Stderr = &stderr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(stdout)
	line, err := lines.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "assigned ") {
		t.Fatalf("python consumer: %q %v\n%s", line, err, stderr.String())
	}
	mine := strings.Fields(line)[1]
	if strings.Contains(mine, ",") {
		t.Fatalf("python consumer got partitions %s, want one of the two: the group is not shared", mine)
	}
	waitFor("Arus to own the other partition", func() bool {
		g, err := b.DescribeGroup(ctx, group)
		if err != nil || len(g.Members) != 2 {
			return false
		}
		for _, m := range g.Members {
			if m.ClientID == "arus-member" && len(m.Partitions) == 1 {
				return true
			}
		}
		return false
	})
	second := batch(2)
	rest, err := io.ReadAll(lines)
	if err != nil {
		t.Fatal(err)
	}
	if err := py.Wait(); err != nil {
		t.Fatalf("python consumer: %v\n%s", err, stderr.String())
	}
	pyGot := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(rest)), "\n") {
		var r foreignRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("python printed %q: %v", l, err)
		}
		if fmt.Sprint(r.Partition) != mine {
			t.Errorf("python consumed %q from partition %d, not its own %s", r.Value, r.Partition, mine)
		}
		pyGot[r.Value]++
	}
	if len(pyGot) == 0 {
		t.Fatal("python consumed nothing")
	}

	// Python has left: Arus takes its partition over from its commit.
	third := batch(3)
	waitFor("Arus to consume the third round on both partitions", func() bool { return count(third, arus) == len(third) })
	waitFor("Arus and python to share the second round", func() bool { return count(second, arus)+count(second, pyGot) >= len(second) })
	mu.Lock()
	for _, v := range slices.Concat(first, second, third) {
		if n := arus[v] + pyGot[v]; n != 1 {
			t.Errorf("record %q handled %d times (Arus %d, python %d), want once", v, n, arus[v], pyGot[v])
		}
	}
	mu.Unlock()
	stop()
	if err := <-consumed; err != nil {
		t.Errorf("Arus consumer: %v", err)
	}
}
