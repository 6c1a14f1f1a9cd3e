package embedded

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/arus-platform/arus/stream"
)

// A chunk is the data of one row of the chunks table: consecutive records of
// one partition, from offset base to last, each as
//
//	uvarint length of the record, then the record:
//	varint  timestamp (Unix nanoseconds)
//	uvarint key length, key
//	uvarint header count, then per header: uvarint key length, key,
//	        uvarint value length, value
//	value (the rest)
//
// The writer closes a chunk at the end of its transaction or once it holds
// chunkBytes; a larger record gets a chunk of its own.
const chunkBytes = 64 << 10

// recordLen returns the length of a record's encoding.
func recordLen(r *stream.Record) int {
	n := varintLen(r.Timestamp.UnixNano()) + uvarintLen(len(r.Key)) + len(r.Key) + uvarintLen(len(r.Headers)) + len(r.Value)
	for _, h := range r.Headers {
		n += uvarintLen(len(h.Key)) + len(h.Key) + uvarintLen(len(h.Value)) + len(h.Value)
	}
	return n
}

// appendRecord appends a record, with its length, to a chunk.
func appendRecord(buf []byte, r *stream.Record) []byte {
	buf = binary.AppendUvarint(buf, uint64(recordLen(r)))
	buf = binary.AppendVarint(buf, r.Timestamp.UnixNano())
	buf = binary.AppendUvarint(buf, uint64(len(r.Key)))
	buf = append(buf, r.Key...)
	buf = binary.AppendUvarint(buf, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		buf = binary.AppendUvarint(buf, uint64(len(h.Key)))
		buf = append(buf, h.Key...)
		buf = binary.AppendUvarint(buf, uint64(len(h.Value)))
		buf = append(buf, h.Value...)
	}
	return append(buf, r.Value...)
}

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	l := 1
	for ; u >= 0x80; u >>= 7 {
		l++
	}
	return l
}

var errCorrupt = errors.New("corrupt chunk")

// chunkReader walks the records of a chunk.
type chunkReader struct {
	data []byte
	off  int64 // offset of the next record
}

// next returns the next record's offset and encoding (without its length),
// and its size in the chunk (with it).
func (c *chunkReader) next() (off int64, rec []byte, size int, err error) {
	l, n := binary.Uvarint(c.data)
	if n <= 0 || l > uint64(len(c.data)-n) {
		return 0, nil, 0, errCorrupt
	}
	off, rec, size = c.off, c.data[n:n+int(l):n+int(l)], n+int(l)
	c.data = c.data[size:]
	c.off++
	return off, rec, size, nil
}

func (c *chunkReader) done() bool { return len(c.data) == 0 }

// decodeRecord fills r from a record's encoding. Key, header values and value
// share data.
func decodeRecord(data []byte, r *stream.Record) error {
	ts, n := binary.Varint(data)
	if n <= 0 {
		return errCorrupt
	}
	data = data[n:]
	r.Timestamp = time.Unix(0, ts)
	var ok bool
	if r.Key, data, ok = cut(data); !ok {
		return errCorrupt
	}
	nh, n := binary.Uvarint(data)
	if n <= 0 || nh > uint64(len(data)) {
		return errCorrupt
	}
	data = data[n:]
	if nh > 0 {
		r.Headers = make([]stream.Header, nh)
		for i := range r.Headers {
			var k, v []byte
			if k, data, ok = cut(data); !ok {
				return errCorrupt
			}
			if v, data, ok = cut(data); !ok {
				return errCorrupt
			}
			r.Headers[i] = stream.Header{Key: headerKey(k), Value: v}
		}
	}
	if len(data) > 0 {
		r.Value = data
	}
	return nil
}

// recordTime returns a record's timestamp from its encoding.
func recordTime(rec []byte) int64 {
	ts, _ := binary.Varint(rec)
	return ts
}

func cut(data []byte) (field, rest []byte, ok bool) {
	l, n := binary.Uvarint(data)
	if n <= 0 || l > uint64(len(data)-n) {
		return nil, nil, false
	}
	data = data[n:]
	if l == 0 {
		return nil, data, true
	}
	return data[:l:l], data[l:], true
}

// headerKey returns k as a string, without allocating for the headers Arus
// sets on every record.
func headerKey(k []byte) string {
	switch string(k) {
	case stream.HeaderID:
		return stream.HeaderID
	case stream.HeaderTraceparent:
		return stream.HeaderTraceparent
	}
	return string(k)
}
