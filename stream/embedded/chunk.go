package embedded

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/arus-platform/arus/stream"
)

// A chunk is the data of one row of the chunks table: consecutive records of
// one partition, from offset base to last. A chunk written since format 1
// starts with the two bytes 0, 1 (a record is never 0 bytes long, so no
// older chunk starts with 0); then each record as
//
//	uvarint length of the record, then the record:
//	varint  timestamp (Unix nanoseconds)
//	uvarint key length + 1 (0: no key), key
//	uvarint header count, then per header: uvarint key length, key,
//	        uvarint value length + 1 (0: no value), value
//	byte    0 for no value (a tombstone), or 1 and the value (the rest)
//
// so that a nil key, value or header value comes back nil and an empty one
// empty. A chunk without the two bytes is of format 0, written by versions
// before the format existed: its lengths are the lengths themselves and the
// value is the rest after the headers; an empty key, value or header value
// reads as nil, as it always did.
//
// The writer closes a chunk at the end of its transaction or once it holds
// chunkBytes; a larger record gets a chunk of its own.
const chunkBytes = 64 << 10

// chunkHead starts every chunk the writer writes: format 1.
var chunkHead = []byte{0, 1}

// recordLen returns the length of a record's encoding.
func recordLen(r *stream.Record) int {
	n := varintLen(r.Timestamp.UnixNano()) + uvarintLen(len(r.Key)+1) + len(r.Key) + uvarintLen(len(r.Headers)) + 1 + len(r.Value)
	for _, h := range r.Headers {
		n += uvarintLen(len(h.Key)) + len(h.Key) + uvarintLen(len(h.Value)+1) + len(h.Value)
	}
	return n
}

// appendRecord appends a record, with its length, to a chunk of format 1.
func appendRecord(buf []byte, r *stream.Record) []byte {
	buf = binary.AppendUvarint(buf, uint64(recordLen(r)))
	buf = binary.AppendVarint(buf, r.Timestamp.UnixNano())
	buf = appendField(buf, r.Key)
	buf = binary.AppendUvarint(buf, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		buf = binary.AppendUvarint(buf, uint64(len(h.Key)))
		buf = append(buf, h.Key...)
		buf = appendField(buf, h.Value)
	}
	if r.Value == nil {
		return append(buf, 0)
	}
	return append(append(buf, 1), r.Value...)
}

// appendField appends a key or header value of format 1: its length + 1,
// 0 when nil, and its bytes.
func appendField(buf, field []byte) []byte {
	if field == nil {
		return append(buf, 0)
	}
	buf = binary.AppendUvarint(buf, uint64(len(field))+1)
	return append(buf, field...)
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
	data   []byte
	off    int64 // offset of the next record
	format byte
	err    error // an unknown format, returned by next
}

// readChunk returns a reader of the chunk data whose first record is at
// offset base.
func readChunk(base int64, data []byte) chunkReader {
	c := chunkReader{data: data, off: base}
	if len(data) > 0 && data[0] == 0 {
		if len(data) < len(chunkHead) || data[1] != chunkHead[1] {
			c.err = errors.New("chunk of an unknown format; written by a newer version?")
		}
		c.data, c.format = data[len(chunkHead):], chunkHead[1]
	}
	return c
}

// head returns the length of the chunk's format bytes, which a chunk cut
// short by retention keeps.
func (c *chunkReader) head() int {
	if c.format == 0 {
		return 0
	}
	return len(chunkHead)
}

// next returns the next record's offset and encoding (without its length),
// and its size in the chunk (with it).
func (c *chunkReader) next() (off int64, rec []byte, size int, err error) {
	if c.err != nil {
		return c.off, nil, 0, c.err
	}
	l, n := binary.Uvarint(c.data)
	if n <= 0 || l > uint64(len(c.data)-n) {
		return 0, nil, 0, errCorrupt
	}
	off, rec, size = c.off, c.data[n:n+int(l):n+int(l)], n+int(l)
	c.data = c.data[size:]
	c.off++
	return off, rec, size, nil
}

func (c *chunkReader) done() bool { return c.err == nil && len(c.data) == 0 }

// decode fills r from the encoding of one of the chunk's records. Key,
// header values and value share data.
func (c *chunkReader) decode(data []byte, r *stream.Record) error {
	ts, n := binary.Varint(data)
	if n <= 0 {
		return errCorrupt
	}
	data = data[n:]
	r.Timestamp = time.Unix(0, ts)
	cut := cut0
	if c.format != 0 {
		cut = cut1
	}
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
			if k, data, ok = cut0(data); !ok {
				return errCorrupt
			}
			if v, data, ok = cut(data); !ok {
				return errCorrupt
			}
			r.Headers[i] = stream.Header{Key: headerKey(k), Value: v}
		}
	}
	switch {
	case c.format == 0:
		if len(data) > 0 {
			r.Value = data
		}
	case len(data) == 0:
		return errCorrupt
	case data[0] == 1:
		r.Value = data[1:]
	case data[0] != 0 || len(data) > 1:
		return errCorrupt
	}
	return nil
}

// recordTime returns a record's timestamp from its encoding.
func recordTime(rec []byte) int64 {
	ts, _ := binary.Varint(rec)
	return ts
}

// cut0 cuts a field of format 0, or a header key: uvarint length, bytes;
// an empty one is nil.
func cut0(data []byte) (field, rest []byte, ok bool) {
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

// cut1 cuts a key or header value of format 1: uvarint length + 1, bytes;
// 0 is nil.
func cut1(data []byte) (field, rest []byte, ok bool) {
	l, n := binary.Uvarint(data)
	if n <= 0 || l > uint64(len(data)-n)+1 {
		return nil, nil, false
	}
	data = data[n:]
	if l == 0 {
		return nil, data, true
	}
	l--
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
