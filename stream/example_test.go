package stream_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/arus-platform/arus/stream"
)

// A key lands on the partition Kafka's default partitioner picks for it,
// whichever engine stores it.
func ExamplePartition() {
	for _, key := range []string{"order-1", "order-2", "order-1"} {
		fmt.Println(key, stream.Partition([]byte(key), 6))
	}
	// Output:
	// order-1 4
	// order-2 3
	// order-1 4
}

func ExampleRecord_Header() {
	r := &stream.Record{Topic: "orders", Key: []byte("order-1"), Value: []byte(`{"total":42}`)}
	r.SetHeader("content-type", []byte("application/json"))
	r.SetHeader("content-type", []byte("application/vnd.shop.order+json")) // replaces the first
	v, ok := r.Header("content-type")
	fmt.Println(string(v), ok, len(r.Headers))
	_, ok = r.Header("traceparent")
	fmt.Println(ok)
	// Output:
	// application/vnd.shop.order+json true 1
	// false
}

func ExampleTopic_Validate() {
	for _, t := range []stream.Topic{
		{Name: "orders.placed", Partitions: 6},
		{Name: "orders placed", Partitions: 6},
	} {
		err := t.Validate()
		fmt.Println(t.Name, errors.Is(err, stream.ErrInvalid))
	}
	// Output:
	// orders.placed false
	// orders placed true
}

// Single adapts a handler of one record to the batch handler a broker
// calls; it stops at the first error, so the records before it are
// committed and the failed one is delivered again.
func ExampleSingle() {
	h := stream.Single(func(ctx context.Context, r *stream.Record) error {
		if string(r.Value) == "bad" {
			return errors.New("cannot parse")
		}
		fmt.Println("handled", r.Offset)
		return nil
	})
	batch := []*stream.Record{{Offset: 10, Value: []byte("ok")}, {Offset: 11, Value: []byte("bad")}, {Offset: 12, Value: []byte("ok")}}
	err := h(context.Background(), batch)
	fmt.Println("processed:", stream.Processed(err, len(batch)), "error:", err)
	// Output:
	// handled 10
	// processed: 1 error: handler failed after 1 record(s): cannot parse
}
