package kafka_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/kafka"
)

func ExampleParseURL() {
	cfg, err := kafka.ParseURL("kafka://app:secret@k1.internal,k2.internal:9093?sasl=scram-sha-512&tls=true&partitions=12")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Brokers, cfg.SASL.Mechanism, cfg.SASL.User, cfg.Options.DefaultPartitions)
	// Output: [k1.internal:9092 k2.internal:9093] scram-sha-512 app 12
}

// Produce to and consume from a Kafka cluster; here an in-process one, as
// the tests use.
func ExampleNew() {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()

	ctx := context.Background()
	b, err := kafka.New(ctx, kafka.Config{Brokers: cluster.ListenAddrs(), HeartbeatInterval: 100 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// Produce returns once all in-sync replicas have the record.
	err = b.Produce(ctx, &stream.Record{Topic: "orders", Key: []byte("order-1"), Value: []byte(`{"total":42}`)})
	if err != nil {
		log.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	err = b.Consume(cctx, stream.ConsumerConfig{Group: "billing", Topics: []string{"orders"}},
		stream.Single(func(ctx context.Context, r *stream.Record) error {
			fmt.Printf("%s %s\n", r.Key, r.Value)
			stop() // one record is enough here
			return nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	// Output: order-1 {"total":42}
}
