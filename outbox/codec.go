package outbox

import (
	"encoding/binary"
	"errors"
	"hash/fnv"

	"github.com/arus-platform/arus/stream"
)

// buckets is the number of key buckets, fixed by the first migration: a
// key's rows are all in bucketOf(key) and forwarders claim whole buckets.
const buckets = 64

// bucketOf returns the bucket of a record: by key, so that one forwarder at
// a time publishes a key's records, or by id for records without a key,
// which have no order to keep.
func bucketOf(key []byte, id string) int {
	h := fnv.New32a()
	if key != nil {
		h.Write(key)
	} else {
		h.Write([]byte(id))
	}
	return int(h.Sum32() % buckets)
}

// encodeHeaders packs headers as a count followed by length-prefixed keys
// and values, all lengths as uvarints.
func encodeHeaders(hs []stream.Header) []byte {
	n := binary.MaxVarintLen64
	for _, h := range hs {
		n += 2*binary.MaxVarintLen64 + len(h.Key) + len(h.Value)
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = binary.AppendUvarint(b, uint64(len(h.Key)))
		b = append(b, h.Key...)
		b = binary.AppendUvarint(b, uint64(len(h.Value)))
		b = append(b, h.Value...)
	}
	return b
}

var errBadHeaders = errors.New("malformed headers")

// decodeHeaders reverses encodeHeaders. Header values never alias b.
func decodeHeaders(b []byte) ([]stream.Header, error) {
	if len(b) == 0 {
		return nil, nil
	}
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, errBadHeaders
	}
	b = b[n:]
	hs := make([]stream.Header, 0, count)
	next := func() ([]byte, error) {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, errBadHeaders
		}
		v := b[n : n+int(l)]
		b = b[n+int(l):]
		return v, nil
	}
	for range count {
		k, err := next()
		if err != nil {
			return nil, err
		}
		v, err := next()
		if err != nil {
			return nil, err
		}
		hs = append(hs, stream.Header{Key: string(k), Value: append([]byte{}, v...)})
	}
	if len(b) != 0 {
		return nil, errBadHeaders
	}
	return hs, nil
}
