package kafkawire

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
)

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// A record produced by franz-go is the log's record, at the log's offset,
// and reads back over Kafka with its key, value, headers and timestamp.
func TestFranzRoundTrip(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t)
	cl := newClient(t, s.addr, kgo.DefaultProduceTopic("orders"), kgo.AllowAutoTopicCreation())
	ts := time.UnixMilli(1_700_000_000_123)
	var sent []*kgo.Record
	for i := range 50 {
		sent = append(sent, &kgo.Record{
			Key: []byte(fmt.Sprintf("k%d", i%5)), Value: []byte(fmt.Sprintf("v%d", i)), Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{byte(i)}}},
		})
	}
	if err := cl.ProduceSync(ctx, sent...).FirstErr(); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
	// The log holds them, at the offsets the client was told.
	for _, r := range sent {
		got, err := s.broker().Read(ctx, "orders", r.Partition, r.Offset, 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("log Read(%d, %d) = %d records, %v; want 1", r.Partition, r.Offset, len(got), err)
		}
		if !bytes.Equal(got[0].Value, r.Value) || !bytes.Equal(got[0].Key, r.Key) {
			t.Errorf("log record at %d/%d = %q=%q, want %q=%q", r.Partition, r.Offset, got[0].Key, got[0].Value, r.Key, r.Value)
		}
		if !got[0].Timestamp.Equal(r.Timestamp) {
			t.Errorf("log timestamp %v, want %v", got[0].Timestamp, r.Timestamp)
		}
	}
	// Murmur2 partitioning agrees with the log's own.
	var p stream.Partitioner
	for _, r := range sent {
		if want := p.Partition(r.Key, 4); r.Partition != want {
			t.Errorf("key %q went to partition %d, the log's partitioner says %d", r.Key, r.Partition, want)
		}
	}

	cons := newClient(t, s.addr, kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]*kgo.Record{}
	for len(got) < len(sent) {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), len(sent), err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = r })
	}
	for _, r := range sent {
		g := got[string(r.Value)]
		if g == nil {
			t.Fatalf("record %q not consumed", r.Value)
		}
		if g.Offset != r.Offset || g.Partition != r.Partition || !bytes.Equal(g.Key, r.Key) || !g.Timestamp.Equal(r.Timestamp) {
			t.Errorf("consumed %q at %d/%d key %q ts %v, want %d/%d key %q ts %v", g.Value, g.Partition, g.Offset, g.Key, g.Timestamp,
				r.Partition, r.Offset, r.Key, r.Timestamp)
		}
		if i := slices.IndexFunc(g.Headers, func(h kgo.RecordHeader) bool { return h.Key == "h" }); i < 0 || !bytes.Equal(g.Headers[i].Value, r.Headers[0].Value) {
			t.Errorf("record %q headers %v, want h=%v", g.Value, g.Headers, r.Headers[0].Value)
		}
	}
}

// A record the log's own producer stores is fetched over Kafka, and one
// fetch waits for an append instead of returning empty.
func TestFetchWaitsForAppend(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t)
	if err := s.broker().CreateTopic(ctx, stream.Topic{Name: "waits", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, s.addr)
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 20000, 1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "waits"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	type result struct {
		resp *kmsg.FetchResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := req.RequestWith(ctx, cl)
		done <- result{resp, err}
	}()
	if err := s.broker().Produce(ctx, &stream.Record{Topic: "waits", Value: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("fetch: %v", res.err)
	}
	p := res.resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.HighWatermark != 1 {
		t.Fatalf("fetch: error %d, %d bytes, high watermark %d; want the record and 1", p.ErrorCode, len(p.RecordBatches), p.HighWatermark)
	}
}

// ApiVersions advertises only what is implemented, and a request the
// listener does not serve gets UNSUPPORTED_VERSION on a connection that
// stays open.
func TestUnsupportedRequestKeepsConnection(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t)
	cl := newClient(t, s.addr)
	av, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	for _, k := range av.ApiKeys {
		if lo, hi, ok := supported(k.ApiKey); !ok || lo != k.MinVersion || hi != k.MaxVersion {
			t.Errorf("advertised %s %d-%d, implemented %d-%d (%v)", kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion, lo, hi, ok)
		}
	}
	// DescribeCluster is not served; kgo would not send it, so it goes over
	// a raw connection, followed by a Metadata request on the same one.
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.Version = 0
	var resp kmsg.DescribeClusterResponse
	resp.Version = 0
	roundTrip(t, nc, 1, dc, &resp)
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("DescribeCluster error %d, want UNSUPPORTED_VERSION (%d)", resp.ErrorCode, kerr.UnsupportedVersion.Code)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 1
	var mresp kmsg.MetadataResponse
	mresp.Version = 1
	roundTrip(t, nc, 2, md, &mresp)
	if len(mresp.Brokers) != 1 {
		t.Errorf("Metadata after an unsupported request: %d brokers, want 1", len(mresp.Brokers))
	}
	if _, err := kadm.NewClient(cl).ListTopics(ctx); err != nil {
		t.Errorf("ListTopics after an unsupported request: %v", err)
	}
}

// roundTrip writes one request on a raw connection and reads its response.
func roundTrip(t *testing.T, nc net.Conn, corr int32, req kmsg.Request, resp kmsg.Response) {
	t.Helper()
	buf := []byte{0, 0, 0, 0}
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.GetVersion()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(corr))
	buf = binary.BigEndian.AppendUint16(buf, 4)
	buf = append(buf, "test"...)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	if _, err := nc.Write(buf); err != nil {
		t.Fatalf("write %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		t.Fatalf("read %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatalf("read %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		t.Fatalf("response correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	if resp.IsFlexible() {
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("parse %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
}

// fetchOnce fetches one partition from offset with a byte limit and returns
// the values fetched.
func fetchOnce(t *testing.T, cl *kgo.Client, topic string, offset int64, limit int32) []string {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 100, 1, limit
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = offset, limit
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("fetch %s at %d: error %d", topic, offset, p.ErrorCode)
	}
	var out []string
	for data := p.RecordBatches; len(data) > 0; {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(data); err != nil {
			t.Fatalf("batch: %v", err)
		}
		data = data[12+b.Length:]
		recs := b.Records
		for range b.NumRecords {
			var r kmsg.Record
			if err := r.ReadFrom(recs); err != nil {
				t.Fatal(err)
			}
			out = append(out, string(r.Value))
			recs = recs[len(r.AppendTo(nil)):]
		}
	}
	return out
}

// A batch read ahead for a consumer is not served once its topic was
// deleted and made again: the fetch returns the new records.
func TestReadAheadNotStale(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t)
	fill := func(prefix string) {
		t.Helper()
		if err := s.broker().CreateTopic(ctx, stream.Topic{Name: "again", Partitions: 1}); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			if err := s.broker().Produce(ctx, &stream.Record{Topic: "again", Value: fmt.Appendf(nil, "%s-%02d", prefix, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill("old")
	cl := newClient(t, s.addr)
	first := fetchOnce(t, cl, "again", 0, 300)
	if len(first) == 0 || len(first) >= 20 || first[0] != "old-00" {
		t.Fatalf("first fetch = %v, want a few old records from old-00", first)
	}
	if err := s.broker().DeleteTopic(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	fill("new")
	next := int64(len(first))
	got := fetchOnce(t, cl, "again", next, 300)
	if want := fmt.Sprintf("new-%02d", next); len(got) == 0 || got[0] != want {
		t.Fatalf("fetch after the topic was made again = %v, want it to start with %s", got, want)
	}
	// And without such a change, the batch read ahead is the right one.
	after := fetchOnce(t, cl, "again", next+int64(len(got)), 300)
	if want := fmt.Sprintf("new-%02d", next+int64(len(got))); len(after) == 0 || after[0] != want {
		t.Fatalf("next fetch = %v, want it to start with %s", after, want)
	}
}

// A client of the version 0 SASL handshake sends its PLAIN token as a bare
// frame and gets an empty frame back before its requests are served.
func TestSASLHandshakeV0(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.Auth = keys{"arus_good_secret": {Prefix: "good", Scopes: []string{"topics.read"}}}
	})
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 0, "PLAIN"
	var hresp kmsg.SASLHandshakeResponse
	roundTrip(t, nc, 1, hs, &hresp)
	if hresp.ErrorCode != 0 {
		t.Fatalf("handshake error %d", hresp.ErrorCode)
	}
	token := []byte("\x00app\x00arus_good_secret")
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(token)))
	if _, err := nc.Write(append(frame, token...)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil || binary.BigEndian.Uint32(size[:]) != 0 {
		t.Fatalf("answer to the token: %v %v, want an empty frame", size, err)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 1
	var mresp kmsg.MetadataResponse
	mresp.Version = 1
	roundTrip(t, nc, 2, md, &mresp)
	if len(mresp.Brokers) != 1 {
		t.Errorf("Metadata after SASL: %d brokers, want 1", len(mresp.Brokers))
	}
}

// A Kafka client's null key, value (a tombstone) or header value is nil in
// the log and null again when fetched; an empty one stays empty both ways.
func TestNullAndEmptyOverKafka(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t)
	if err := s.broker().CreateTopic(ctx, stream.Topic{Name: "nulls", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, s.addr, kgo.DefaultProduceTopic("nulls"))
	var sent []*kgo.Record
	for _, key := range [][]byte{nil, {}, []byte("k")} {
		for _, value := range [][]byte{nil, {}, []byte("v")} {
			sent = append(sent, &kgo.Record{Key: key, Value: value, Headers: []kgo.RecordHeader{
				{Key: "null", Value: nil}, {Key: "empty", Value: []byte{}}, {Key: "n", Value: []byte{byte(len(sent))}}}})
		}
	}
	if err := cl.ProduceSync(ctx, sent...).FirstErr(); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
	same := func(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
	show := func(b []byte) string {
		if b == nil {
			return "null"
		}
		return fmt.Sprintf("%q", b)
	}
	logged, err := s.broker().Read(ctx, "nulls", 0, 0, 100)
	if err != nil || len(logged) != len(sent) {
		t.Fatalf("log Read = %d records, %v; want %d", len(logged), err, len(sent))
	}
	for i, r := range logged {
		want := sent[i]
		if !same(r.Key, want.Key) || !same(r.Value, want.Value) {
			t.Errorf("log record %d: key %s value %s, want key %s value %s", i, show(r.Key), show(r.Value), show(want.Key), show(want.Value))
		}
		for _, h := range want.Headers {
			if v, ok := r.Header(h.Key); !ok || !same(v, h.Value) {
				t.Errorf("log record %d header %q = %s, want %s", i, h.Key, show(v), show(h.Value))
			}
		}
	}

	cons := newClient(t, s.addr, kgo.ConsumeTopics("nulls"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []*kgo.Record
	for len(got) < len(sent) {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), len(sent), err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	for i, r := range got {
		want := sent[i]
		if !same(r.Key, want.Key) || !same(r.Value, want.Value) {
			t.Errorf("fetched record %d: key %s value %s, want key %s value %s", i, show(r.Key), show(r.Value), show(want.Key), show(want.Value))
		}
		for _, h := range want.Headers {
			j := slices.IndexFunc(r.Headers, func(g kgo.RecordHeader) bool { return g.Key == h.Key })
			if j < 0 || !same(r.Headers[j].Value, h.Value) {
				t.Errorf("fetched record %d header %q: got %v, want %s", i, h.Key, r.Headers, show(h.Value))
			}
		}
	}
}
