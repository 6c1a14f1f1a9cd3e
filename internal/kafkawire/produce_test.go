package kafkawire

import (
	"hash/crc32"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
)

// idempotentBatch encodes values as one batch of an idempotent producer.
func idempotentBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	var body, scratch []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(v)}
		scratch = r.AppendTo(scratch[:0])
		body = kbin.AppendVarint(body, int32(len(scratch)-1))
		body = append(body, scratch[1:]...)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(len(values)), Records: body}
	enc := b.AppendTo(nil)
	n := uint32(len(enc) - 12)
	enc[8], enc[9], enc[10], enc[11] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	crc := crc32.Checksum(enc[21:], crc32c)
	enc[17], enc[18], enc[19], enc[20] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return enc
}

// A batch an idempotent producer sends again (its answer was lost) is
// answered with the offset it was stored at and not stored twice; a gap in
// the sequence is refused.
func TestIdempotentProducerDedupe(t *testing.T) {
	ctx := testContext(t)
	s := startServer(t)
	if err := s.broker().CreateTopic(ctx, stream.Topic{Name: "idem", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, s.addr)
	ipid, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if err != nil || ipid.ErrorCode != 0 {
		t.Fatalf("InitProducerID: %v, error %d", err, ipid.ErrorCode)
	}
	produce := func(seq int32, values ...string) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "idem"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = idempotentBatch(ipid.ProducerID, ipid.ProducerEpoch, seq, values...)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("produce: %v", err)
		}
		return resp.Topics[0].Partitions[0]
	}
	cases := []struct {
		name     string
		seq      int32
		values   []string
		wantCode int16
		wantBase int64
	}{
		{"first batch", 0, []string{"a", "b"}, 0, 0},
		{"second batch", 2, []string{"c"}, 0, 2},
		{"first batch again", 0, []string{"a", "b"}, 0, 0},
		{"second batch again", 2, []string{"c"}, 0, 2},
		{"a gap in the sequence", 5, []string{"x"}, kerr.OutOfOrderSequenceNumber.Code, -1},
		{"the next batch", 3, []string{"d"}, 0, 3},
	}
	for _, c := range cases {
		got := produce(c.seq, c.values...)
		if got.ErrorCode != c.wantCode || got.BaseOffset != c.wantBase {
			t.Errorf("%s: error %d at base offset %d, want error %d at %d", c.name, got.ErrorCode, got.BaseOffset, c.wantCode, c.wantBase)
		}
	}
	recs, err := s.broker().Read(ctx, "idem", 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, r := range recs {
		values = append(values, string(r.Value))
	}
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(values, want) {
		t.Errorf("the log holds %q, want %q", values, want)
	}
}
