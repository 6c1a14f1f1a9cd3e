package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

func TestKafkaConfigErrors(t *testing.T) {
	cases := []struct {
		k    KafkaConfig
		more func(*Config)
		want string
	}{
		{KafkaConfig{Listen: ":9092"}, nil, "not a loopback address and --kafka-sasl is off"},
		{KafkaConfig{Listen: "0.0.0.0:9092"}, nil, "not a loopback address"},
		{KafkaConfig{Listen: "127.0.0.1:9092", TLS: true}, nil, "kafka-tls needs --tls-cert"},
		{KafkaConfig{Listen: "127.0.0.1"}, nil, "kafka-listen \"127.0.0.1\""},
		{KafkaConfig{SASL: true}, nil, "need --kafka-listen"},
		{KafkaConfig{Listen: "127.0.0.1:9092"}, func(c *Config) { c.Broker = "redis://127.0.0.1:6379" }, "kafka-listen serves the embedded log"},
	}
	for _, c := range cases {
		cfg := Config{Broker: "embedded", Kafka: c.k}
		if c.more != nil {
			c.more(&cfg)
		}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.k, err, c.want)
		}
	}
	for _, k := range []KafkaConfig{
		{Listen: "127.0.0.1:9092"}, {Listen: "[::1]:9092"}, {Listen: "localhost:9092"},
		{Listen: ":9092", SASL: true}, {Listen: ":9092", AllowRemote: true},
	} {
		cfg := Config{Broker: "embedded", Kafka: k}
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", k, err)
		}
	}
}

// Over TLS with SASL/PLAIN, a Kafka client authenticates with an API key,
// may do what its scopes allow and no more, and what it produces and
// commits is the server's own: the HTTP API reads the record, and the
// group's lag is the log's.
func TestKafkaListenerWithSASLAndTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t)
	cert, key := issue(t, ca, caKey, "localhost", false)
	writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", cert.Raw)
	writeKey(t, filepath.Join(dir, "server.key"), key)
	r := start(t, Config{TLSCert: filepath.Join(dir, "server.pem"), TLSKey: filepath.Join(dir, "server.key"),
		Kafka: KafkaConfig{Listen: "127.0.0.1:0", SASL: true, TLS: true}})
	addr := r.KafkaAddr().String()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := func(secret string, opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{
			kgo.SeedBrokers(addr),
			kgo.DialTLSConfig(&tls.Config{RootCAs: pool, ServerName: "localhost"}),
			kgo.SASL(plain.Auth{User: "app", Pass: secret}.AsMechanism()),
			kgo.FetchMaxWait(200 * time.Millisecond),
			kgo.RequestRetries(1),
		}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}

	producer := client(r.key(t, "records.produce:orders", "topics.read:orders"), kgo.AllowAutoTopicCreation())
	if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Key: []byte("k"), Value: []byte(`{"n":1}`)}).FirstErr(); err != nil {
		t.Fatalf("produce with a scoped key: %v", err)
	}
	err := producer.ProduceSync(ctx, &kgo.Record{Topic: "payments", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("produce to a topic outside the key's scopes: got %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	bad := client("arus_notakey_0000")
	if err := bad.Ping(ctx); err == nil {
		t.Errorf("a client with an invalid key was served")
	}

	consumer := client(r.key(t, "records.read:orders", "topics.read:orders", "groups.reset:billing", "groups.read:billing"),
		kgo.ConsumeTopics("orders"), kgo.ConsumerGroup("billing"), kgo.DisableAutoCommit())
	var got *kgo.Record
	for got == nil {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no record consumed: %v", fs.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(rec *kgo.Record) { got = rec })
	}
	if string(got.Value) != `{"n":1}` {
		t.Errorf("consumed %q, want {\"n\":1}", got.Value)
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}

	recs, err := r.broker.Read(ctx, "orders", got.Partition, got.Offset, 1)
	if err != nil || len(recs) != 1 || string(recs[0].Value) != `{"n":1}` {
		t.Fatalf("the server's log at %d/%d: %v, %v; want the produced record", got.Partition, got.Offset, recs, err)
	}
	info, err := r.broker.DescribeGroup(ctx, "billing")
	if err != nil {
		t.Fatalf("DescribeGroup: %v", err)
	}
	var committed bool
	for _, o := range info.Offsets {
		if o.Topic == "orders" && o.Partition == got.Partition {
			committed = o.Committed == got.Offset+1 && o.Lag == 0
		}
	}
	if !committed {
		t.Errorf("group billing offsets %+v, want partition %d committed at %d with no lag", info.Offsets, got.Partition, got.Offset+1)
	}
}

// A relay dataset's topic takes records only through the dataset's ingest
// endpoint, over Kafka as over the HTTP API.
func TestKafkaProduceToDatasetTopicRefused(t *testing.T) {
	r := start(t, Config{Kafka: KafkaConfig{Listen: "127.0.0.1:0"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.KafkaAddr().String()), kgo.AllowAutoTopicCreation(), kgo.RequestRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "relay.cars", Value: []byte(`{"id":1}`)}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to relay.cars: got %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "cars", Value: []byte(`{"id":1}`)}).FirstErr(); err != nil {
		t.Fatalf("produce to cars: %v", err)
	}
}
