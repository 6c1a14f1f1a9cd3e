package redis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
)

// keys builds the Redis keys of one installation (see the package
// documentation for the layout).
type keys struct{ p string }

func (k keys) topics() string              { return k.p + ":topics" }
func (k keys) groups() string              { return k.p + ":groups" }
func (k keys) meta(topic string) string    { return k.p + ":t:" + topic }
func (k keys) topicGroups(t string) string { return k.p + ":t:" + t + ":groups" }
func (k keys) retentionLock() string       { return k.p + ":retention:lock" }
func (k keys) stats() string               { return k.p + ":stats" }
func (k keys) groupTopics(g string) string { return k.p + ":g:" + g + ":topics" }
func (k keys) members(g string) string     { return k.p + ":g:" + g + ":members" }
func (k keys) subs(g string) string        { return k.p + ":g:" + g + ":subs" }
func (k keys) gen(g string) string         { return k.p + ":g:" + g + ":gen" }
func (k keys) offsets(g, t string) string  { return k.p + ":g:" + g + ":o:" + t }
func (k keys) epoch(g string) string       { return k.p + ":g:" + g + ":epoch" }
func (k keys) partition(t string, p int32) string {
	return k.p + ":t:" + t + ":" + strconv.Itoa(int(p))
}
func (k keys) index(t string, p int32) string { return k.partition(t, p) + ":idx" }
func (k keys) lease(g, t string, p int32) string {
	return k.p + ":g:" + g + ":l:" + t + ":" + strconv.Itoa(int(p))
}

// entryID returns the stream entry id of offset o: 0-(o+1). Offset -1 maps
// to 0-0, the id before every entry.
func entryID(o int64) string { return "0-" + strconv.FormatInt(o+1, 10) }

// entryOffset returns the offset of a stream entry id written by Arus.
func entryOffset(id string) (int64, error) {
	seq, ok := strings.CutPrefix(id, "0-")
	if !ok {
		return 0, fmt.Errorf("stream entry id %q was not written by arus (want 0-<offset+1>)", id)
	}
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("stream entry id %q was not written by arus (want 0-<offset+1>)", id)
	}
	return n - 1, nil
}

// Timestamps are stored as 20 decimal digits of the Unix time in
// nanoseconds with the sign bit flipped, so that Lua scripts can compare
// them as strings. Times outside the range of int64 nanoseconds (before 1678
// or after 2262) are clamped to it.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func encodeTime(t time.Time) string {
	return string(appendTime(make([]byte, 0, timeDigits), t))
}

// appendTime appends encodeTime(t) to b.
func appendTime(b []byte, t time.Time) []byte {
	var ns int64
	switch {
	case t.Before(minTime):
		ns = math.MinInt64
	case t.After(maxTime):
		ns = math.MaxInt64
	default:
		ns = t.UnixNano()
	}
	var digits [timeDigits]byte
	d := strconv.AppendUint(digits[:0], uint64(ns)^(1<<63), 10)
	for range timeDigits - len(d) {
		b = append(b, '0')
	}
	return append(b, d...)
}

func decodeTime(s string) (time.Time, error) {
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil || len(s) != 20 {
		return time.Time{}, fmt.Errorf("timestamp %q is not 20 digits", s)
	}
	return time.Unix(0, int64(u^(1<<63))), nil
}

// uvarint is binary.Uvarint over a string, without copying it.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// Entry fields. A record entry has one field, "r2": the timestamp (20
// digits, see encodeTime), then the key, the headers, whether the record
// has a value and the value (see encodeRecord). One field keeps entries
// small and each costs Redis one argument less to add and the client one
// map entry less to read.
//
// Entries written before "r2" existed have two fields: "r1", the same as
// "r2" without the value, and "v", the value. Entries written before "r1"
// have "r" and "v": the timestamp, the key (uvarint length, bytes) and the
// headers (see stream.AppendHeaders). Both read as they always did, "r"
// entries with an empty key as nil, a header value and the value as empty,
// never nil.
const (
	fieldRecord  = "r2"
	fieldRecord1 = "r1"
	fieldRecord0 = "r"
	fieldValue   = "v"
	timeDigits   = 20
)

// encodeRecord returns the "r2" field of a record:
//
//	20 digits  timestamp
//	uvarint    key length + 1 (0: no key), key
//	uvarint    header count, then per header: uvarint key length, key,
//	           uvarint value length + 1 (0: no value), value
//	byte       1 when the record has a value, 0 for none (a tombstone)
//	bytes      the value, to the end of the field
func encodeRecord(r *stream.Record) []byte {
	return appendRecord(make([]byte, 0, recordBound(r)), r)
}

// recordBound is the most bytes the "r2" field of r takes.
func recordBound(r *stream.Record) int {
	n := timeDigits + 2*binary.MaxVarintLen64 + len(r.Key) + 1 + len(r.Value)
	for _, h := range r.Headers {
		n += 2*binary.MaxVarintLen64 + len(h.Key) + len(h.Value)
	}
	return n
}

// appendRecord appends the "r2" field of r to b.
func appendRecord(b []byte, r *stream.Record) []byte {
	b = appendTime(b, r.Timestamp)
	b = appendField(b, r.Key)
	b = binary.AppendUvarint(b, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		b = binary.AppendUvarint(b, uint64(len(h.Key)))
		b = append(b, h.Key...)
		b = appendField(b, h.Value)
	}
	if r.Value == nil {
		return append(b, 0)
	}
	return append(append(b, 1), r.Value...)
}

// appendField appends a key or header value of "r2" and "r1": its length
// + 1, 0 when nil, and its bytes.
func appendField(b, field []byte) []byte {
	if field == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(field))+1)
	return append(b, field...)
}

// recordField returns an entry's record field and its format: 2 for "r2",
// 1 for "r1", 0 for "r".
func recordField(values map[string]any) (rec string, format int) {
	if s, ok := values[fieldRecord].(string); ok {
		return s, 2
	}
	if s, ok := values[fieldRecord1].(string); ok {
		return s, 1
	}
	s, _ := values[fieldRecord0].(string)
	return s, 0
}

// entryTime returns the encoded timestamp of an entry's record field.
func entryTime(values map[string]any) string {
	s, _ := recordField(values)
	if len(s) < timeDigits {
		return ""
	}
	return s[:timeDigits]
}

// decodeEntry turns a stream entry into a record of topic and partition.
func decodeEntry(topic string, partition int32, id string, values map[string]any) (*stream.Record, error) {
	var d decoder
	r := new(stream.Record)
	if err := d.decode(r, topic, partition, id, values); err != nil {
		return nil, err
	}
	return r, nil
}

// decoder decodes the entries of one read. It copies keys and values into
// one buffer for the read instead of one allocation each, and takes the
// records' headers from one slice; each slice is capped at its own length,
// so appending to one never writes into another.
type decoder struct {
	buf     []byte
	headers []stream.Header
}

// newDecoder returns a decoder for msgs, with room for their keys and
// values.
func newDecoder(msgs []goredis.XMessage) decoder {
	n := 0
	for _, m := range msgs {
		rec, _ := recordField(m.Values)
		v, _ := m.Values[fieldValue].(string)
		n += len(rec) + len(v)
	}
	// Records usually carry one header, their id.
	return decoder{buf: make([]byte, 0, n), headers: make([]stream.Header, 0, len(msgs))}
}

// headerSlots returns n empty headers, from the read's shared slice while
// it has room.
func (d *decoder) headerSlots(n int) []stream.Header {
	from := len(d.headers)
	if from+n > cap(d.headers) {
		return make([]stream.Header, n)
	}
	d.headers = d.headers[:from+n]
	return d.headers[from : from+n : from+n]
}

// bytes returns a copy of s, from the buffer while it has room.
func (d *decoder) bytes(s string) []byte {
	if s == "" {
		return []byte{} // empty, not nil
	}
	if len(d.buf)+len(s) > cap(d.buf) {
		return []byte(s)
	}
	from := len(d.buf)
	d.buf = append(d.buf, s...)
	return d.buf[from:len(d.buf):len(d.buf)]
}

// decodeMessages decodes msgs into records, leaving out entries deleted
// while pending and calling skip for each entry that cannot be read (and
// leaving it out too); a nil skip fails the call instead. The records of
// one call share one allocation, as their keys and values share another:
// a record kept after its batch keeps the batch's memory.
func decodeMessages(topic string, partition int32, msgs []goredis.XMessage, skip func(id string, err error)) ([]*stream.Record, error) {
	d := newDecoder(msgs)
	slab := make([]stream.Record, len(msgs))
	out := make([]*stream.Record, 0, len(msgs))
	for i, m := range msgs {
		if m.Values == nil {
			continue // deleted while pending
		}
		r := &slab[i]
		if err := d.decode(r, topic, partition, m.ID, m.Values); err != nil {
			if skip == nil {
				return nil, err
			}
			skip(m.ID, err)
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// decode fills r from a stream entry of topic and partition.
func (d *decoder) decode(r *stream.Record, topic string, partition int32, id string, values map[string]any) error {
	off, err := entryOffset(id)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("topic %q partition %d offset %d: %w", topic, partition, off, err)
	}
	rec, format := recordField(values)
	if len(rec) < timeDigits {
		return fail(errors.New("entry has no record field"))
	}
	*r = stream.Record{Topic: topic, Partition: partition, Offset: off}
	if r.Timestamp, err = decodeTime(rec[:timeDigits]); err != nil {
		return fail(err)
	}
	v, _ := values[fieldValue].(string)
	if format == 0 {
		return d.decode0(r, rec[timeDigits:], v, fail)
	}
	rest := rec[timeDigits:]
	var ok bool
	if r.Key, rest, ok = d.field(rest); !ok {
		return fail(errors.New("malformed key"))
	}
	count, w := uvarint(rest)
	if w <= 0 || count > uint64(len(rest)) {
		return fail(errors.New("malformed headers"))
	}
	rest = rest[w:]
	if count > 0 {
		r.Headers = d.headerSlots(int(count))
		for i := range r.Headers {
			n, w := uvarint(rest)
			if w <= 0 || n > uint64(len(rest)-w) {
				return fail(errors.New("malformed headers"))
			}
			r.Headers[i].Key = rest[w : w+int(n)]
			if r.Headers[i].Value, rest, ok = d.field(rest[w+int(n):]); !ok {
				return fail(errors.New("malformed headers"))
			}
		}
	}
	switch {
	case rest == "\x00":
	case format == 2 && rest != "" && rest[0] == 1:
		r.Value = d.bytes(rest[1:])
	case format == 1 && rest == "\x01":
		r.Value = d.bytes(v)
	default:
		return fail(errors.New("malformed value flag"))
	}
	return nil
}

// field cuts a key or header value of "r2" or "r1" from the front of s.
func (d *decoder) field(s string) (field []byte, rest string, ok bool) {
	n, w := uvarint(s)
	if w <= 0 || n > uint64(len(s)-w)+1 {
		return nil, "", false
	}
	if n == 0 {
		return nil, s[w:], true
	}
	end := w + int(n) - 1
	return d.bytes(s[w:end]), s[end:], true
}

// decode0 fills r's key, headers and value from an "r" field (after its
// timestamp) and the "v" field.
func (d *decoder) decode0(r *stream.Record, rest, v string, fail func(error) error) error {
	n, w := uvarint(rest)
	if w <= 0 || n > uint64(len(rest)-w) {
		return fail(errors.New("malformed key"))
	}
	if n > 0 {
		r.Key = d.bytes(rest[w : w+int(n)])
	}
	var err error
	if r.Headers, err = stream.ParseHeaders(rest[w+int(n):]); err != nil {
		return fail(err)
	}
	r.Value = d.bytes(v)
	return nil
}
