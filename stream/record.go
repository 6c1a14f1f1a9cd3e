package stream

import (
	"bytes"
	"crypto/rand"
	"time"

	"github.com/google/uuid"
)

// Header names that Arus itself sets or reads.
const (
	// HeaderID carries the record id, a UUIDv7 stamped by the producer when the
	// record has none. It stays the same when a record is replayed, so
	// consumers can deduplicate by it.
	HeaderID = "arus-id"
	// HeaderTraceparent carries the W3C trace context when tracing is on.
	HeaderTraceparent = "traceparent"
)

// Header is one record header. Keys need not be unique, as in Kafka.
type Header struct {
	Key   string
	Value []byte
}

// Record is one event in a topic partition.
//
// A nil Key is no key (the record is spread round robin), an empty one is a
// key like any other; a nil Value is a tombstone, as in Kafka; a header's
// nil Value is Kafka's null header value. Every backend, and the outbox,
// keeps nil and empty apart. (Records the embedded log or Redis stored
// before they did read as they were stored then: the embedded log's with
// empty as nil, Redis's with an empty key as nil and a nil value or header
// value as empty.)
//
// Producers set Topic, Key, Value and Headers, and may set Timestamp (the
// current time is used when it is zero). The backend assigns Partition and
// Offset when the record is produced; any value a producer puts there is
// overwritten.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
}

// Header returns the value of the last header named key.
func (r *Record) Header(key string) ([]byte, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}

// SetHeader replaces every header named key with one holding value.
func (r *Record) SetHeader(key string, value []byte) {
	kept := r.Headers[:0]
	for _, h := range r.Headers {
		if h.Key != key {
			kept = append(kept, h)
		}
	}
	r.Headers = append(kept, Header{Key: key, Value: value})
}

// ID returns the record id (the [HeaderID] header), or "" when it has none.
func (r *Record) ID() string {
	v, _ := r.Header(HeaderID)
	return string(v)
}

// Size is the number of bytes the record occupies for the purpose of the
// maximum record size: key, value and headers.
func (r *Record) Size() int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// Equal reports whether two records have the same topic, key, value and
// headers. Partition, offset and timestamp are not compared.
func (r *Record) Equal(o *Record) bool {
	if r.Topic != o.Topic || !bytes.Equal(r.Key, o.Key) || !bytes.Equal(r.Value, o.Value) || len(r.Headers) != len(o.Headers) {
		return false
	}
	for i := range r.Headers {
		if r.Headers[i].Key != o.Headers[i].Key || !bytes.Equal(r.Headers[i].Value, o.Headers[i].Value) {
			return false
		}
	}
	return true
}

// NewID returns a new record id: a UUIDv7, ordered by creation time.
func NewID() string {
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		// Read fails only when the system's random source fails.
		return uuid.NewString()
	}
	return makeV7(reserveV7(1), random[:]).String()
}
