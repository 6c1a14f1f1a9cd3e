package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
)

func TestPartitionsAgree(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	ctx := context.Background()
	const topic = "agree"
	if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 7}); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	var records []*stream.Record
	for i := range 200 {
		records = append(records, &stream.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte("v")})
	}
	// An empty key is a key: hashed, not spread.
	for range 5 {
		records = append(records, &stream.Record{Topic: topic, Key: []byte{}, Value: []byte("v")})
	}
	if err := b.Produce(ctx, records...); err != nil {
		t.Fatalf("Produce: %v", err)
	}

	// franz-go's default partitioner, as used by other Kafka clients.
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for i, r := range records {
		if want := stream.Partition(r.Key, 7); r.Partition != want {
			t.Errorf("record %d key %q: got partition %d, want stream.Partition %d", i, r.Key, r.Partition, want)
		}
		kr := &kgo.Record{Topic: topic, Key: r.Key}
		if err := raw.ProduceSync(ctx, kr).FirstErr(); err != nil {
			t.Fatalf("raw produce: %v", err)
		}
		if kr.Partition != r.Partition {
			t.Errorf("record %d key %q: Arus chose partition %d, franz-go's default partitioner %d", i, r.Key, r.Partition, kr.Partition)
		}
	}
}

func TestProduceSetsOffsets(t *testing.T) {
	c := newCluster(t)
	b := openBroker(t, testConfig(c))
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "one", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var records []*stream.Record
	for i := range 10 {
		records = append(records, &stream.Record{Topic: "one", Value: []byte{byte(i)}})
	}
	if err := b.Produce(ctx, records...); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	for i, r := range records {
		if r.Partition != 0 || r.Offset != int64(i) {
			t.Errorf("record %d: got partition %d offset %d, want 0 and %d", i, r.Partition, r.Offset, i)
		}
		if r.ID() == "" {
			t.Errorf("record %d: no %s header", i, stream.HeaderID)
		}
	}
	got, err := b.Read(ctx, "one", 0, 3, 4)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(got) != 4 {
		t.Fatalf("Read: got %d records, want 4", len(got))
	}
	for i, r := range got {
		if want := records[3+i]; r.Offset != want.Offset || !r.Equal(want) {
			t.Errorf("Read record %d: got offset %d value %v, want offset %d value %v", i, r.Offset, r.Value, want.Offset, want.Value)
		}
	}
}

func TestProduceErrorIndexes(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	cfg.Strict = true
	b := openBroker(t, cfg)
	ctx := context.Background()
	if err := b.CreateTopic(ctx, stream.Topic{Name: "exists", Partitions: 2}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		records []*stream.Record
		want    []int
		is      error
	}{
		{
			name:    "unknown topic in strict mode fails all",
			records: []*stream.Record{{Topic: "exists"}, {Topic: "missing"}, {Topic: "exists"}},
			want:    []int{0, 1, 2},
			is:      stream.ErrTopicNotFound,
		},
		{
			name:    "invalid topic name fails all",
			records: []*stream.Record{{Topic: "exists"}, {Topic: "bad name"}},
			want:    []int{0, 1},
			is:      stream.ErrInvalid,
		},
		{
			name:    "record over the size limit fails all",
			records: []*stream.Record{{Topic: "exists"}, {Topic: "exists", Value: make([]byte, stream.DefaultMaxRecordBytes+1)}},
			want:    []int{0, 1},
			is:      stream.ErrRecordTooLarge,
		},
		{
			name:    "nil record fails all",
			records: []*stream.Record{{Topic: "exists"}, nil},
			want:    []int{0, 1},
			is:      stream.ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Produce(ctx, tt.records...)
			var pe *stream.ProduceError
			if !errors.As(err, &pe) {
				t.Fatalf("got error %v, want a *stream.ProduceError", err)
			}
			if fmt.Sprint(pe.Failed) != fmt.Sprint(tt.want) {
				t.Errorf("got Failed %v, want %v", pe.Failed, tt.want)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("got error %v, want one wrapping %v", err, tt.is)
			}
		})
	}
}

// TestProduceErrorPartial fails the produce requests of one partition at the
// broker and checks that exactly the records of that partition are
// reported, and that the others are stored.
func TestProduceErrorPartial(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	b := openBroker(t, cfg)
	ctx := context.Background()
	const topic = "partial"
	if err := b.CreateTopic(ctx, stream.Topic{Name: topic, Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	// Lead the failing partition from broker 0 alone, and fail every
	// produce request that broker receives.
	const bad = int32(2)
	for p := range int32(4) {
		node := int32(1)
		if p == bad {
			node = 0
		}
		if err := c.MoveTopicPartition(topic, p, node); err != nil {
			t.Fatal(err)
		}
	}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if c.CurrentNode() != 0 {
			return nil, nil, false
		}
		return failProduce(req.(*kmsg.ProduceRequest)), nil, true
	})

	var records []*stream.Record
	var want []int
	for i := range 40 {
		key := []byte(fmt.Sprintf("k%d", i))
		records = append(records, &stream.Record{Topic: topic, Key: key, Value: []byte("v")})
		if stream.Partition(key, 4) == bad {
			want = append(want, i)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := b.Produce(pctx, records...)
	var pe *stream.ProduceError
	if !errors.As(err, &pe) {
		t.Fatalf("got error %v, want a *stream.ProduceError", err)
	}
	if fmt.Sprint(pe.Failed) != fmt.Sprint(want) {
		t.Errorf("got Failed %v, want %v", pe.Failed, want)
	}
	failed := make(map[int]bool)
	for _, i := range pe.Failed {
		failed[i] = true
	}
	stored := make(map[int32]int)
	for i, r := range records {
		if failed[i] {
			continue
		}
		stored[r.Partition]++
		if r.Partition == bad {
			t.Errorf("record %d reported stored on the failing partition %d", i, bad)
		}
	}
	c.DropControl()
	info, err := b.DescribeTopic(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range info.Offsets {
		if got, want := p.End-p.Start, int64(stored[p.Partition]); got != want {
			t.Errorf("partition %d holds %d records, want %d", p.Partition, got, want)
		}
	}
}

// failProduce answers a produce request with an error for every partition.
func failProduce(req *kmsg.ProduceRequest) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = kerr.InvalidRecord.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
