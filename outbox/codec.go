package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"slices"

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

// The headers column holds one of two encodings.
//
// Plain (every version): [stream.AppendHeaders], a uvarint count, then each
// key and value as a uvarint length and its bytes. It has no room for a nil
// value, which reads as empty.
//
// Marked: the two bytes 0x00 0x01, a uvarint count, then each key as a
// uvarint length and its bytes and each value as a uvarint length + 1 (0
// for nil) and its bytes. No plain encoding starts so: a count of 0 is the
// whole of its encoding.
//
// Write uses the marked encoding only for headers with a nil value, so that
// every other row stays readable by versions that know only the plain one.
var headersMarked = []byte{0x00, 0x01}

var errMalformedHeaders = errors.New("malformed headers")

// appendHeaders appends the encoding of hs to b: marked when a value is
// nil, plain otherwise.
func appendHeaders(b []byte, hs []stream.Header) []byte {
	if !slices.ContainsFunc(hs, func(h stream.Header) bool { return h.Value == nil }) {
		return stream.AppendHeaders(b, hs)
	}
	n := len(headersMarked) + binary.MaxVarintLen64
	for _, h := range hs {
		n += 2*binary.MaxVarintLen64 + len(h.Key) + len(h.Value)
	}
	b = slices.Grow(b, n)
	b = append(b, headersMarked...)
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = binary.AppendUvarint(b, uint64(len(h.Key)))
		b = append(b, h.Key...)
		if h.Value == nil {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(h.Value))+1)
		b = append(b, h.Value...)
	}
	return b
}

// parseHeaders reads headers in either encoding; the encoding must fill b
// exactly. The values never alias b.
func parseHeaders(b []byte) ([]stream.Header, error) {
	rest, ok := bytes.CutPrefix(b, headersMarked)
	if !ok {
		return stream.ParseHeaders(b)
	}
	count, n := binary.Uvarint(rest)
	if n <= 0 || count > uint64(len(rest)) {
		return nil, errMalformedHeaders
	}
	rest = rest[n:]
	hs := make([]stream.Header, count)
	for i := range hs {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) {
			return nil, errMalformedHeaders
		}
		hs[i].Key = string(rest[n : n+int(l)])
		rest = rest[n+int(l):]
		if l, n = binary.Uvarint(rest); n <= 0 || l > uint64(len(rest)-n)+1 {
			return nil, errMalformedHeaders
		}
		if l > 0 {
			hs[i].Value = append([]byte{}, rest[n:n+int(l)-1]...)
			n += int(l) - 1
		}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return nil, errMalformedHeaders
	}
	return hs, nil
}
