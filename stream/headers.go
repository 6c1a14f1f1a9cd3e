package stream

import (
	"encoding/binary"
	"errors"
	"slices"
)

var errMalformedHeaders = errors.New("stream: malformed headers")

// AppendHeaders appends the binary encoding of hs to b and returns the
// extended buffer: a uvarint count, then each key and each value prefixed
// with its uvarint length, so a nil value reads back as empty. The outbox
// stores headers without nil values in this form and the Redis engine kept
// them so in entries of earlier versions; [ParseHeaders] reads them back.
func AppendHeaders(b []byte, hs []Header) []byte {
	n := binary.MaxVarintLen64
	for _, h := range hs {
		n += 2*binary.MaxVarintLen64 + len(h.Key) + len(h.Value)
	}
	b = slices.Grow(b, n)
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = binary.AppendUvarint(b, uint64(len(h.Key)))
		b = append(b, h.Key...)
		b = binary.AppendUvarint(b, uint64(len(h.Value)))
		b = append(b, h.Value...)
	}
	return b
}

// ParseHeaders reads headers that [AppendHeaders] encoded, from a byte
// slice or, without copying it first, a string; the encoding must fill b
// exactly, and an empty b holds no headers. The headers' values never
// alias b.
func ParseHeaders[B ~string | ~[]byte](b B) ([]Header, error) {
	if len(b) == 0 {
		return nil, nil
	}
	count, n := uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, errMalformedHeaders
	}
	b = b[n:]
	next := func() (B, error) {
		l, n := uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return b[:0], errMalformedHeaders
		}
		v := b[n : n+int(l)]
		b = b[n+int(l):]
		return v, nil
	}
	hs := make([]Header, 0, count)
	for range count {
		k, err := next()
		if err != nil {
			return nil, err
		}
		v, err := next()
		if err != nil {
			return nil, err
		}
		hs = append(hs, Header{Key: string(k), Value: append([]byte{}, v...)})
	}
	if len(b) != 0 {
		return nil, errMalformedHeaders
	}
	return hs, nil
}

// uvarint is binary.Uvarint over a byte slice or a string.
func uvarint[B ~string | ~[]byte](b B) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(b) && i < binary.MaxVarintLen64; i++ {
		c := b[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1) // overflows 64 bits
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
