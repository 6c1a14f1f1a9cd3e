package redis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

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
	var ns int64
	switch {
	case t.Before(minTime):
		ns = math.MinInt64
	case t.After(maxTime):
		ns = math.MaxInt64
	default:
		ns = t.UnixNano()
	}
	s := strconv.FormatUint(uint64(ns)^(1<<63), 10)
	return strings.Repeat("0", 20-len(s)) + s
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

// Entry fields. Every record entry has two: "r" holds the timestamp (20
// digits, see encodeTime), then the key (uvarint length, bytes) and the
// headers (see stream.AppendHeaders); "v" holds the value. Two fields keep entries
// small and the produce script fast.
const (
	fieldRecord = "r"
	fieldValue  = "v"
	timeDigits  = 20
)

// encodeRecord returns the "r" field of a record.
func encodeRecord(r *stream.Record) []byte {
	b := make([]byte, 0, timeDigits+binary.MaxVarintLen64+len(r.Key))
	b = append(b, encodeTime(r.Timestamp)...)
	b = binary.AppendUvarint(b, uint64(len(r.Key)))
	b = append(b, r.Key...)
	return stream.AppendHeaders(b, r.Headers)
}

// entryTime returns the encoded timestamp of an entry's "r" field.
func entryTime(values map[string]any) string {
	s, _ := values[fieldRecord].(string)
	if len(s) < timeDigits {
		return ""
	}
	return s[:timeDigits]
}

// decodeEntry turns a stream entry into a record of topic and partition.
func decodeEntry(topic string, partition int32, id string, values map[string]any) (*stream.Record, error) {
	off, err := entryOffset(id)
	if err != nil {
		return nil, err
	}
	fail := func(err error) error {
		return fmt.Errorf("topic %q partition %d offset %d: %w", topic, partition, off, err)
	}
	rec, _ := values[fieldRecord].(string)
	if len(rec) < timeDigits {
		return nil, fail(errors.New("entry has no record field"))
	}
	r := &stream.Record{Topic: topic, Partition: partition, Offset: off}
	if r.Timestamp, err = decodeTime(rec[:timeDigits]); err != nil {
		return nil, fail(err)
	}
	rest := rec[timeDigits:]
	n, w := uvarint(rest)
	if w <= 0 || n > uint64(len(rest)-w) {
		return nil, fail(errors.New("malformed key"))
	}
	if n > 0 {
		r.Key = []byte(rest[w : w+int(n)])
	}
	if r.Headers, err = stream.ParseHeaders(rest[w+int(n):]); err != nil {
		return nil, fail(err)
	}
	v, _ := values[fieldValue].(string)
	r.Value = []byte(v)
	return r, nil
}
