package cli_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// freePort returns a loopback address with a port free right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestKafkaProtocolCrashLosesNothingAcknowledged runs arus serve with the
// Kafka listener under franz-go producers (acks=all, idempotent) and a
// consumer group that commits what it processed, kills the server with
// SIGKILL mid-load, starts it again on the same data and port, and checks
// that every acknowledged record is stored once at the offset it was
// acknowledged with, and that the group resumes at its commits.
func TestKafkaProtocolCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it under load; skipped with -short")
	}
	bin := buildArus(t)
	data := t.TempDir()
	kafkaAddr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first := startArus(t, bin, data, "--kafka-listen", kafkaAddr)

	const topic, group = "kcrash", "kcrash-group"
	admin := kafkaClient(t, kafkaAddr)
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, topic); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}

	type ack struct {
		partition int32
		offset    int64
	}
	var (
		mu        sync.Mutex
		acked     = map[string]ack{}  // value → where it was acknowledged
		processed = map[string]bool{} // values the group processed before the kill
	)

	// The group: processes, then commits what it processed.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	cons := kafkaClient(t, kafkaAddr, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var consWG sync.WaitGroup
	consWG.Add(1)
	go func() {
		defer consWG.Done()
		for loadCtx.Err() == nil {
			fs := cons.PollFetches(loadCtx)
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { processed[string(r.Value)] = true })
			mu.Unlock()
			if err := cons.CommitUncommittedOffsets(loadCtx); err != nil {
				return
			}
		}
	}()

	// Producers: each its own client, keyed records with a sequence per key.
	const producers, batch = 4, 50
	var ackedCount atomic.Int64
	var prodWG sync.WaitGroup
	clients := make([]*kgo.Client, producers)
	for p := range producers {
		clients[p] = kafkaClient(t, kafkaAddr, kgo.RequiredAcks(kgo.AllISRAcks()))
		prodWG.Add(1)
		go func() {
			defer prodWG.Done()
			cl := clients[p]
			for i := 0; loadCtx.Err() == nil; i++ {
				recs := make([]*kgo.Record, batch)
				for j := range recs {
					recs[j] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("p%d-k%d", p, j%8)), Value: []byte(fmt.Sprintf("p%d-%d-%d", p, i, j))}
				}
				res := cl.ProduceSync(loadCtx, recs...)
				mu.Lock()
				for _, r := range res {
					if r.Err == nil {
						acked[string(r.Record.Value)] = ack{r.Record.Partition, r.Record.Offset}
						ackedCount.Add(1)
					}
				}
				mu.Unlock()
				if res.FirstErr() != nil {
					return
				}
			}
		}()
	}

	committed := func(ctx context.Context) (int64, kadm.OffsetResponses) {
		resp, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return 0, nil
		}
		var n int64
		resp.Each(func(o kadm.OffsetResponse) { n += o.At })
		return n, resp
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("the load did not get going: %d acknowledged\n%s", ackedCount.Load(), first.log())
		}
		if n, _ := committed(ctx); ackedCount.Load() >= 5000 && n >= 1000 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.Int64N(int64(300 * time.Millisecond))))
	first.kill(t)
	stopLoad()
	// Closing a client fails the records it still holds: those were never
	// acknowledged.
	for _, cl := range clients {
		cl.Close()
	}
	prodWG.Wait()
	cons.Close()
	consWG.Wait()
	mu.Lock()
	before := processed
	processed = map[string]bool{}
	ackedTotal := len(acked)
	mu.Unlock()
	t.Logf("killed with %d records acknowledged and %d processed by the group", ackedTotal, len(before))

	// Restart on the same data and port; read everything by position.
	second := startArus(t, bin, data, "--kafka-listen", kafkaAddr)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListEndOffsets after restart: %v\n%s", err, second.log())
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })
	reader := kafkaClient(t, kafkaAddr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {
		0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart(), 3: kgo.NewOffset().AtStart(),
	}}))
	stored := map[string]ack{}
	read := map[int32]int64{}
	for done := false; !done; {
		fs := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading back: %v (read %v of %v)", ctx.Err(), read, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, dup := stored[string(r.Value)]; dup {
				t.Errorf("record %s is stored twice", r.Value)
			}
			stored[string(r.Value)] = ack{r.Partition, r.Offset}
			read[r.Partition] = r.Offset + 1
		})
		done = true
		for p, end := range want {
			if read[p] < end {
				done = false
			}
		}
	}
	for v, a := range acked {
		got, ok := stored[v]
		if !ok {
			t.Fatalf("acknowledged record %s (%d/%d) is lost", v, a.partition, a.offset)
		}
		if got != a {
			t.Fatalf("acknowledged record %s: stored at %d/%d, acknowledged at %d/%d", v, got.partition, got.offset, a.partition, a.offset)
		}
	}

	// The group's commits survived, everything below them was processed,
	// and a member starting now resumes exactly there.
	n, offs := committed(ctx)
	if n == 0 {
		t.Fatalf("the group's commits are lost")
	}
	at := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) { at[o.Partition] = o.At })
	remaining := map[string]bool{}
	for v, a := range stored {
		if a.offset < at[a.partition] {
			if !before[v] {
				t.Fatalf("record %s at %d/%d is below the committed %d but was never processed", v, a.partition, a.offset, at[a.partition])
			}
		} else {
			remaining[v] = true
		}
	}
	resumed := kafkaClient(t, kafkaAddr, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit())
	firstOff := map[int32]int64{}
	for len(remaining) > 0 {
		fs := resumed.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("after restart the group still misses %d records", len(remaining))
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := firstOff[r.Partition]; !ok {
				firstOff[r.Partition] = r.Offset
			}
			delete(remaining, string(r.Value))
		})
	}
	for p, off := range firstOff {
		if off != at[p] {
			t.Errorf("partition %d resumed at %d, want the committed %d", p, off, at[p])
		}
	}
	t.Logf("after restart: %d records stored, the group resumed at %v", len(stored), at)
}

func kafkaClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
