package kafkawire

import (
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-platform/arus/stream"
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// decompressor decompresses gzip, snappy, lz4 and zstd batches with kgo's
// codecs.
var decompressor = kgo.DefaultDecompressor()

// Batch attributes.
const (
	attrCompression   = 0x07
	attrTransactional = 0x10
	attrControl       = 0x20
)

// errCorrupt marks a batch that cannot be read.
var errCorrupt = errors.New("corrupt record batch")

// producedBatch is one record batch of a produce request, decoded.
type producedBatch struct {
	producerID    int64
	producerEpoch int16
	firstSequence int32
	records       []*stream.Record
}

// decodeBatches decodes the record batches of one partition of a produce
// request. Only magic 2 batches are accepted (Produce v3 and later).
func decodeBatches(data []byte) ([]producedBatch, error) {
	var out []producedBatch
	for len(data) > 0 {
		if len(data) < 61 {
			return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(data))
		}
		length := int(int32(uint32(data[8])<<24 | uint32(data[9])<<16 | uint32(data[10])<<8 | uint32(data[11])))
		if length < 49 || 12+length > len(data) {
			return nil, fmt.Errorf("%w: batch length %d", errCorrupt, length)
		}
		raw := data[:12+length]
		data = data[12+length:]
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			return nil, fmt.Errorf("%w: %v", errCorrupt, err)
		}
		if b.Magic != 2 {
			return nil, fmt.Errorf("%w: magic %d; only record batches of magic 2 are accepted", errCorrupt, b.Magic)
		}
		if b.CRC != int32(crc32.Checksum(raw[21:], crc32c)) {
			return nil, fmt.Errorf("%w: CRC mismatch", errCorrupt)
		}
		if b.Attributes&(attrTransactional|attrControl) != 0 {
			return nil, errTransactional
		}
		recs, err := decompressor.Decompress(b.Records, kgo.CompressionCodecType(b.Attributes&attrCompression))
		if err != nil {
			return nil, fmt.Errorf("%w: decompress: %v", errCorrupt, err)
		}
		pb := producedBatch{producerID: b.ProducerID, producerEpoch: b.ProducerEpoch, firstSequence: b.FirstSequence}
		pb.records = make([]*stream.Record, 0, b.NumRecords)
		for i := int32(0); i < b.NumRecords; i++ {
			rd := kbin.Reader{Src: recs}
			n := int(rd.Varint())
			head := len(recs) - len(rd.Src)
			if !rd.Ok() || n < 0 || head+n > len(recs) {
				return nil, fmt.Errorf("%w: record %d length", errCorrupt, i)
			}
			var kr kmsg.Record
			if err := kr.ReadFrom(recs[:head+n]); err != nil {
				return nil, fmt.Errorf("%w: record %d: %v", errCorrupt, i, err)
			}
			recs = recs[head+n:]
			r := &stream.Record{
				Key:       kr.Key,
				Value:     kr.Value,
				Timestamp: time.UnixMilli(b.FirstTimestamp + kr.TimestampDelta64),
			}
			if len(kr.Headers) > 0 {
				r.Headers = make([]stream.Header, len(kr.Headers))
				for j, h := range kr.Headers {
					r.Headers[j] = stream.Header{Key: h.Key, Value: h.Value}
				}
			}
			pb.records = append(pb.records, r)
		}
		out = append(out, pb)
	}
	return out, nil
}

var errTransactional = errors.New("transactional and control batches are not supported")

// appendBatch appends records, consecutive offsets of one partition, as one
// uncompressed record batch of magic 2.
func appendBatch(dst []byte, recs []*stream.Record) []byte {
	first := recs[0]
	firstTs := first.Timestamp.UnixMilli()
	maxTs := firstTs
	n := 0
	for _, r := range recs {
		n += r.Size() + 32
	}
	body := make([]byte, 0, n)
	var scratch []byte
	var headers []kmsg.Header
	for _, r := range recs {
		ts := r.Timestamp.UnixMilli()
		maxTs = max(maxTs, ts)
		kr := kmsg.Record{
			TimestampDelta64: ts - firstTs,
			OffsetDelta:      int32(r.Offset - first.Offset),
			Key:              r.Key,
			Value:            r.Value,
		}
		headers = headers[:0]
		for _, h := range r.Headers {
			headers = append(headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		kr.Headers = headers
		// Encode with a zero length (one byte), then prefix the real one.
		scratch = kr.AppendTo(scratch[:0])
		body = kbin.AppendVarint(body, int32(len(scratch)-1))
		body = append(body, scratch[1:]...)
	}
	last := recs[len(recs)-1]
	b := kmsg.RecordBatch{
		FirstOffset:     first.Offset,
		Magic:           2,
		LastOffsetDelta: int32(last.Offset - first.Offset),
		FirstTimestamp:  firstTs,
		MaxTimestamp:    maxTs,
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      int32(len(recs)),
		Records:         body,
	}
	start := len(dst)
	dst = b.AppendTo(dst)
	enc := dst[start:]
	length := uint32(len(enc) - 12)
	enc[8], enc[9], enc[10], enc[11] = byte(length>>24), byte(length>>16), byte(length>>8), byte(length)
	crc := crc32.Checksum(enc[21:], crc32c)
	enc[17], enc[18], enc[19], enc[20] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return dst
}
