package encrypt_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arus-platform/arus/stream"
	"github.com/arus-platform/arus/stream/embedded"
	"github.com/arus-platform/arus/stream/encrypt"
	"github.com/arus-platform/arus/stream/streamtest"
)

func open(t *testing.T, dir string) *embedded.Broker {
	t.Helper()
	b, err := embedded.New(context.Background(), embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func ring(t *testing.T, topics map[string]encrypt.TopicKeys) *encrypt.Keyring {
	t.Helper()
	k, err := encrypt.New(topics)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestConformance runs the stream contract over the embedded engine with
// every topic encrypted: encryption changes nothing a consumer can see.
func TestConformance(t *testing.T) {
	k := ring(t, map[string]encrypt.TopicKeys{"*": {Current: "a", Keys: map[string][]byte{"a": encrypt.NewKey()}}})
	streamtest.Run(t, streamtest.Backend{
		Open: func(t *testing.T) func() stream.Broker {
			dir := t.TempDir()
			return func() stream.Broker {
				b, err := embedded.New(context.Background(), embedded.Config{Dir: dir})
				if err != nil {
					t.Fatal(err)
				}
				return encrypt.Wrap(b, k)
			}
		},
		Features: streamtest.Features{RebalanceTimeout: 10 * time.Second},
	})
}

func TestValuesAreSealedAtRestAndOpenAcrossRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	raw := open(t, dir)
	if err := raw.CreateTopic(ctx, stream.Topic{Name: "payments", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := raw.CreateTopic(ctx, stream.Topic{Name: "public", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	k1, k2 := encrypt.NewKey(), encrypt.NewKey()
	before := ring(t, map[string]encrypt.TopicKeys{"payments": {Current: "k1", Keys: map[string][]byte{"k1": k1}}})
	after := ring(t, map[string]encrypt.TopicKeys{"payments": {Current: "k2", Keys: map[string][]byte{"k1": k1, "k2": k2}}})
	secret := []byte(`{"card":"4111111111114242"}`)

	// A record from before encryption, one sealed with k1, one after the
	// rotation to k2, and a record of a topic that is not encrypted.
	if err := raw.Produce(ctx, &stream.Record{Topic: "payments", Key: []byte("old"), Value: secret}); err != nil {
		t.Fatal(err)
	}
	r1 := &stream.Record{Topic: "payments", Key: []byte("a"), Value: secret}
	if err := encrypt.Wrap(raw, before).Produce(ctx, r1, &stream.Record{Topic: "public", Value: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	if r1.Offset != 1 || string(r1.Value) != string(secret) {
		t.Errorf("the producer's record: offset %d value %q; want offset 1 and its value untouched", r1.Offset, r1.Value)
	}
	if _, ok := r1.Header(stream.HeaderID); !ok {
		t.Error("the producer's record did not get its id")
	}
	if err := encrypt.Wrap(raw, after).Produce(ctx, &stream.Record{Topic: "payments", Key: []byte("b"), Value: secret},
		&stream.Record{Topic: "payments", Key: []byte("tombstone")}); err != nil {
		t.Fatal(err)
	}

	stored, err := raw.Read(ctx, "payments", 0, 0, 10)
	if err != nil || len(stored) != 4 {
		t.Fatalf("raw read: %v, %d records", err, len(stored))
	}
	for i, r := range stored[1:3] {
		if bytes.Contains(r.Value, []byte("4111")) || bytes.Contains(r.Value, []byte("card")) {
			t.Errorf("record %d is stored in the clear: %q", i+1, r.Value)
		}
		if id, _ := r.Header(encrypt.Header); string(id) != []string{"k1", "k2"}[i] {
			t.Errorf("record %d sealed with %q", i+1, id)
		}
	}
	if stored[3].Value != nil {
		t.Errorf("a tombstone was sealed: %q", stored[3].Value)
	}
	if pub, _ := raw.Read(ctx, "public", 0, 0, 1); string(pub[0].Value) != "hello" {
		t.Errorf("a topic that is not encrypted was changed: %q", pub[0].Value)
	}

	// With both keys every record opens: read and consume.
	b := encrypt.Wrap(raw, after)
	got, err := b.Read(ctx, "payments", 0, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got[:3] {
		if string(r.Value) != string(secret) {
			t.Errorf("read %d: %q", i, r.Value)
		}
		if _, ok := r.Header(encrypt.Header); ok {
			t.Errorf("read %d still carries the %s header", i, encrypt.Header)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var consumed [][]byte
	err = b.Consume(cctx, stream.ConsumerConfig{Group: "g", Topics: []string{"payments"}}, func(_ context.Context, batch []*stream.Record) error {
		for _, r := range batch {
			consumed = append(consumed, r.Value)
		}
		if len(consumed) >= 4 {
			cancel()
		}
		return nil
	})
	if err != nil || len(consumed) != 4 || string(consumed[2]) != string(secret) {
		t.Errorf("consume: %v, %q", err, consumed)
	}

	// Without the retired key k1 its record does not open, and says why.
	k2only := ring(t, map[string]encrypt.TopicKeys{"payments": {Current: "k2", Keys: map[string][]byte{"k2": k2}}})
	if _, err := encrypt.Wrap(raw, k2only).Read(ctx, "payments", 0, 1, 1); !errors.Is(err, encrypt.ErrKey) {
		t.Errorf("reading a record of a retired key: %v, want ErrKey", err)
	}
	// A wrong key of the same id does not open it either.
	forged := ring(t, map[string]encrypt.TopicKeys{"payments": {Current: "k1", Keys: map[string][]byte{"k1": encrypt.NewKey()}}})
	if _, err := encrypt.Wrap(raw, forged).Read(ctx, "payments", 0, 1, 1); !errors.Is(err, encrypt.ErrKey) {
		t.Errorf("reading with a wrong key: %v, want ErrKey", err)
	}
}

func TestLoadKeyringRefusesWhatItCannotUse(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := `"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="` // 32 bytes
	good := `{"topics":{"payments":{"current":"a","keys":{"a":` + key + `}}}}`
	if _, err := encrypt.LoadKeyring(write("good.json", good, 0o600)); err != nil {
		t.Errorf("a good keyring: %v", err)
	}
	for name, c := range map[string]struct {
		body string
		mode os.FileMode
	}{
		"world-readable": {good, 0o644},
		"no current":     {`{"topics":{"payments":{"current":"b","keys":{"a":` + key + `}}}}`, 0o600},
		"short key":      {`{"topics":{"payments":{"current":"a","keys":{"a":"c2hvcnQ="}}}}`, 0o600},
		"bad topic":      {`{"topics":{"bad topic!":{"current":"a","keys":{"a":` + key + `}}}}`, 0o600},
		"no topics":      {`{"topics":{}}`, 0o600},
		"not json":       {`topics`, 0o600},
	} {
		if _, err := encrypt.LoadKeyring(write(name, c.body, c.mode)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
