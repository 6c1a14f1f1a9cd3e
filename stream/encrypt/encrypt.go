// Package encrypt keeps the values of chosen topics encrypted at rest, on
// any engine: [Wrap] returns a broker that seals each value it produces to
// such a topic with AES-256-GCM under the topic's current key, and opens
// what it reads or consumes with whichever of the topic's keys sealed it.
// Keys, headers, offsets and timestamps stay in the clear (partitioning
// and compaction need the key). Consumers holding the keys see the records
// as they were produced; anyone reading the engine without them (its
// files, a Kafka client, a Redis client) sees only ciphertext.
//
// A sealed value is the 12-byte nonce followed by the ciphertext and its
// tag; the header arus-encryption names the key, and the topic's name and
// the key's id are authenticated with it, so a value moved to another
// topic does not open. A tombstone (nil value) stays nil and unsealed, so
// that compaction and consumers still see a tombstone; an empty value is
// sealed like any other (its ciphertext is the nonce and the tag) and opens
// empty, not nil. A record produced to a topic before its encryption was
// turned on has no header and is delivered as stored.
//
// Rotation: add a key to the topic's keyring and make it current; new
// records are sealed with it, older ones still open with theirs. Retire a
// key only once no record sealed with it is retained (the topic's
// retention has passed since it stopped being current).
package encrypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/arus-platform/arus/stream"
)

// Header names the key that sealed a record's value.
const Header = "arus-encryption"

// ErrKey is returned for a record sealed with a key its topic's keyring
// does not hold, or whose value does not open with it (tampered, or moved
// from another topic).
var ErrKey = errors.New("encrypt: cannot open the record")

// TopicKeys are the keys of one topic: Current seals new records; every key
// opens what it sealed.
type TopicKeys struct {
	Current string            `json:"current"`
	Keys    map[string][]byte `json:"keys"` // id → 32 bytes (base64 in JSON)
}

// Keyring holds the keys of the encrypted topics. The topic "*", if
// present, applies to every topic not named.
type Keyring struct {
	Topics map[string]TopicKeys `json:"topics"`

	aeads map[string]map[string]cipher.AEAD
}

// LoadKeyring reads a keyring from a JSON file:
//
//	{"topics": {"payments": {"current": "2026-12", "keys": {"2026-11": "<32 bytes, base64>", "2026-12": "..."}}}}
//
// The file holds secrets: it must not be readable by group or others.
func LoadKeyring(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("encrypt: keyring: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("encrypt: keyring %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encrypt: keyring: %w", err)
	}
	var k Keyring
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("encrypt: keyring %s: %w", path, err)
	}
	if err := k.init(); err != nil {
		return nil, fmt.Errorf("encrypt: keyring %s: %w", path, err)
	}
	return &k, nil
}

// NewKey returns 32 random bytes, a new key.
func NewKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// init checks the keyring and prepares a cipher per key.
func (k *Keyring) init() error {
	if len(k.Topics) == 0 {
		return errors.New("no topics")
	}
	k.aeads = map[string]map[string]cipher.AEAD{}
	for topic, tk := range k.Topics {
		if topic != "*" {
			if err := stream.ValidateTopicName(topic); err != nil {
				return fmt.Errorf("topics.%s: %w", topic, err)
			}
		}
		if _, ok := tk.Keys[tk.Current]; !ok {
			return fmt.Errorf("topics.%s.current: %q is not one of its keys", topic, tk.Current)
		}
		k.aeads[topic] = map[string]cipher.AEAD{}
		for id, key := range tk.Keys {
			if id == "" || len(id) > 64 {
				return fmt.Errorf("topics.%s.keys: a key id must have 1 to 64 characters", topic)
			}
			if len(key) != 32 {
				return fmt.Errorf("topics.%s.keys.%s: %d bytes, want 32 (AES-256)", topic, id, len(key))
			}
			block, err := aes.NewCipher(key)
			if err != nil {
				return err
			}
			if k.aeads[topic][id], err = cipher.NewGCM(block); err != nil {
				return err
			}
		}
	}
	return nil
}

// Encrypted reports whether records of topic are sealed.
func (k *Keyring) Encrypted(topic string) bool {
	_, ok := k.topicKeys(topic)
	return ok
}

func (k *Keyring) topicKeys(topic string) (string, bool) {
	if _, ok := k.Topics[topic]; ok {
		return topic, true
	}
	_, ok := k.Topics["*"]
	return "*", ok
}

func aad(topic, id string) []byte { return []byte(topic + "\x00" + id) }

// seal returns a copy of r with its value sealed, or r when its topic is
// not encrypted.
func (k *Keyring) seal(r *stream.Record) (*stream.Record, error) {
	ring, ok := k.topicKeys(r.Topic)
	if !ok || r.Value == nil {
		return r, nil
	}
	id := k.Topics[ring].Current
	aead := k.aeads[ring][id]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(r.Value)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := *r
	out.Value = aead.Seal(nonce, nonce, r.Value, aad(r.Topic, id))
	out.Headers = append(slices.DeleteFunc(slices.Clone(r.Headers), func(h stream.Header) bool { return h.Key == Header }),
		stream.Header{Key: Header, Value: []byte(id)})
	return &out, nil
}

// open opens r's value in place, if it was sealed.
func (k *Keyring) open(r *stream.Record) error {
	i := slices.IndexFunc(r.Headers, func(h stream.Header) bool { return h.Key == Header })
	if i < 0 {
		return nil
	}
	id := string(r.Headers[i].Value)
	ring, _ := k.topicKeys(r.Topic)
	aead, ok := k.aeads[ring][id]
	if !ok {
		return fmt.Errorf("%w %s/%d@%d: sealed with key %q, which the keyring does not hold for the topic", ErrKey, r.Topic, r.Partition, r.Offset, id)
	}
	if len(r.Value) < aead.NonceSize() {
		return fmt.Errorf("%w %s/%d@%d: the value is too short to be sealed", ErrKey, r.Topic, r.Partition, r.Offset)
	}
	nonce, sealed := r.Value[:aead.NonceSize()], r.Value[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, sealed, aad(r.Topic, id))
	if err != nil {
		return fmt.Errorf("%w %s/%d@%d with key %q: %v", ErrKey, r.Topic, r.Partition, r.Offset, id, err)
	}
	if plain == nil {
		// An empty value was sealed: it opens empty, not as a tombstone.
		plain = []byte{}
	}
	r.Value = plain
	r.Headers = slices.Delete(slices.Clone(r.Headers), i, i+1)
	return nil
}

// Wrap returns b with the keyring's topics encrypted at rest. The keyring
// must come from LoadKeyring or New.
func Wrap(b stream.Broker, k *Keyring) stream.Broker {
	w := &broker{Broker: b, k: k}
	if sz, ok := b.(stream.Sizer); ok {
		return &sizingBroker{broker: w, sizer: sz}
	}
	return w
}

// New returns a keyring of topics, checked.
func New(topics map[string]TopicKeys) (*Keyring, error) {
	k := &Keyring{Topics: topics}
	if err := k.init(); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return k, nil
}

type broker struct {
	stream.Broker
	k *Keyring
}

func (b *broker) Produce(ctx context.Context, records ...*stream.Record) error {
	sealed, cloned := records, false
	for i, r := range records {
		s, err := b.k.seal(r)
		if err != nil {
			return err
		}
		if s != r {
			if !cloned {
				sealed, cloned = slices.Clone(records), true
			}
			sealed[i] = s
		}
	}
	err := b.Broker.Produce(ctx, sealed...)
	// The engine fills in partition, offset, timestamp and id on the records
	// it was given; the caller's records learn them too.
	for i, s := range sealed {
		if s == records[i] {
			continue
		}
		r := records[i]
		r.Partition, r.Offset, r.Timestamp = s.Partition, s.Offset, s.Timestamp
		if id, ok := s.Header(stream.HeaderID); ok {
			if _, had := r.Header(stream.HeaderID); !had {
				r.SetHeader(stream.HeaderID, id)
			}
		}
	}
	return err
}

func (b *broker) Read(ctx context.Context, topic string, partition int32, offset int64, max int) ([]*stream.Record, error) {
	recs, err := b.Broker.Read(ctx, topic, partition, offset, max)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if err := b.k.open(r); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

func (b *broker) Consume(ctx context.Context, cfg stream.ConsumerConfig, h stream.Handler) error {
	return b.Broker.Consume(ctx, cfg, func(ctx context.Context, batch []*stream.Record) error {
		for i, r := range batch {
			if err := b.k.open(r); err != nil {
				if i == 0 {
					return err
				}
				// Hand over what opened; the record that did not comes back
				// first in the next batch, and fails the same way.
				if err := h(ctx, batch[:i]); err != nil {
					return err
				}
				return &stream.PartialError{N: i, Err: err}
			}
		}
		return h(ctx, batch)
	})
}

type sizingBroker struct {
	*broker
	sizer stream.Sizer
}

func (b *sizingBroker) TopicSizes(ctx context.Context, topics []string) (map[string]int64, error) {
	return b.sizer.TopicSizes(ctx, topics)
}
