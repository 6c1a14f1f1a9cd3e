package embedded

import (
	"context"
	"fmt"
	"time"

	"github.com/arus-platform/arus/stream"
)

// maxRead is the most records one Read returns.
const maxRead = 10000

// Read returns up to max records of a partition from offset, in offset order
// (at most 10,000, and fewer once they hold 16 MiB). An offset below the
// partition's start reads from the start, one equal to the end returns no
// records, one beyond the end fails with ErrOffsetOutOfRange. It sees every
// record whose Produce has returned. The records of one call share memory
// with each other, so keep only the ones needed.
func (b *Broker) Read(ctx context.Context, topic string, partition int32, offset int64, max int) ([]*stream.Record, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	p, err := b.partition(topic, partition)
	if err != nil {
		return nil, fmt.Errorf("embedded: read: %w", err)
	}
	if offset < 0 {
		return nil, stream.Invalidf("embedded: read topic %q partition %d: offset %d is negative; offsets are 0 or more", topic, partition, offset)
	}
	if max < 1 {
		return nil, stream.Invalidf("embedded: read topic %q partition %d: max %d is below 1", topic, partition, max)
	}
	if end := p.end.Load(); offset > end {
		return nil, fmt.Errorf("embedded: read topic %q partition %d at offset %d: %w: the end offset is %d",
			topic, partition, offset, stream.ErrOffsetOutOfRange, end)
	}
	recs, err := b.fetch(ctx, p, offset, min(max, maxRead))
	if err != nil {
		return nil, fmt.Errorf("embedded: read topic %q partition %d: %w", topic, partition, err)
	}
	return recs, nil
}

// OffsetForTime returns the offset of the first record of a partition whose
// timestamp is at or after t, or the end offset when there is none.
func (b *Broker) OffsetForTime(ctx context.Context, topic string, partition int32, t time.Time) (int64, error) {
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	p, err := b.partition(topic, partition)
	if err != nil {
		return 0, fmt.Errorf("embedded: offset for time: %w", err)
	}
	off, err := b.offsetForTime(ctx, p, t)
	if err != nil {
		return 0, fmt.Errorf("embedded: offset for time in topic %q partition %d: %w", topic, partition, err)
	}
	return off, nil
}

// partition returns the state of one partition of an existing topic.
func (b *Broker) partition(topic string, partition int32) (*partState, error) {
	t := b.lookup(topic)
	if t == nil {
		if err := stream.ValidateTopicName(topic); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("topic %q: %w", topic, stream.ErrTopicNotFound)
	}
	if partition < 0 || partition >= t.topic.Partitions {
		return nil, stream.Invalidf("topic %q has no partition %d; it has %d (0 to %d)", topic, partition, t.topic.Partitions, t.topic.Partitions-1)
	}
	return t.parts[partition], nil
}

// fetch reads up to limit records of p from offset, stopping early past
// maxFetchMemory bytes. Records share the memory of their chunk.
func (b *Broker) fetch(ctx context.Context, p *partState, offset int64, limit int) ([]*stream.Record, error) {
	offset = max(offset, p.start.Load())
	var recs []*stream.Record
	err := b.readers.with(ctx, func(c *dbConn) error {
		rs, err := c.query(sqlFetch, p.pid, p.pid, offset, offset)
		if err != nil {
			return err
		}
		recs = make([]*stream.Record, 0, min(limit, 512))
		size := 0
		topic := p.t.topic.Name
	chunks:
		for rs.next() {
			cr := readChunk(rs.int(0), rs.bytes(1))
			for !cr.done() {
				off, rec, n, err := cr.next()
				if err != nil {
					rs.close()
					return fmt.Errorf("offset %d: %w", off, err)
				}
				if off < offset {
					continue
				}
				r := &stream.Record{Topic: topic, Partition: p.index, Offset: off}
				if err := cr.decode(rec, r); err != nil {
					rs.close()
					return fmt.Errorf("offset %d: %w", off, err)
				}
				recs = append(recs, r)
				if size += n; len(recs) == limit || size >= maxFetchMemory {
					break chunks
				}
			}
		}
		return rs.close()
	})
	return recs, err
}

// offsetForTime returns the offset of p's first record with a timestamp at
// or after t. That record lies in the first chunk whose max_time (the
// largest timestamp up to the chunk's end, which never decreases) is at or
// after t, found by binary search over the partition's chunks; then a walk
// through that chunk finds the record.
func (b *Broker) offsetForTime(ctx context.Context, p *partState, t time.Time) (int64, error) {
	want := t.UnixNano()
	lo, hi := p.start.Load(), p.end.Load()
	err := b.readers.with(ctx, func(c *dbConn) error {
		// Every record before lo has a smaller timestamp; when found is set,
		// the chunk holding hi reaches want.
		found := false
		for lo < hi {
			mid := lo + (hi-lo)/2
			base, last, maxTime, ok, err := chunkAt(c, p, mid)
			if err != nil {
				return err
			}
			switch {
			case !ok:
				lo = mid + 1 // deleted meanwhile
			case maxTime >= want:
				hi, found = max(base, lo), true
			default:
				lo = last + 1
			}
		}
		if !found {
			return nil
		}
		return findTime(c, p, lo, want, &lo)
	})
	return lo, err
}

// chunkAt returns the bounds and max_time of the chunk holding off.
func chunkAt(c *dbConn, p *partState, off int64) (base, last, maxTime int64, ok bool, err error) {
	rs, err := c.query(sqlChunkAt, p.pid, off)
	if err != nil {
		return 0, 0, 0, false, err
	}
	if rs.next() {
		base, last, maxTime = rs.int(0), rs.int(1), rs.int(2)
		ok = last >= off
	}
	return base, last, maxTime, ok, rs.close()
}

// findTime walks the chunk holding from and sets *off to the first offset
// at or after from whose timestamp is at or after want, or past the chunk.
func findTime(c *dbConn, p *partState, from, want int64, off *int64) error {
	rs, err := c.query(sqlChunkDataAt, p.pid, from)
	if err != nil {
		return err
	}
	if rs.next() {
		cr := readChunk(rs.int(0), rs.bytes(1))
		for !cr.done() {
			o, rec, _, err := cr.next()
			if err != nil {
				rs.close()
				return err
			}
			*off = o + 1
			if o >= from && recordTime(rec) >= want {
				*off = o
				break
			}
		}
	}
	return rs.close()
}

// timeAt returns the timestamp of p's record at off, zero when there is none.
func (b *Broker) timeAt(ctx context.Context, p *partState, off int64) (time.Time, error) {
	var ts time.Time
	err := b.readers.with(ctx, func(c *dbConn) error {
		rs, err := c.query(sqlChunkDataAt, p.pid, off)
		if err != nil {
			return err
		}
		if rs.next() {
			cr := readChunk(rs.int(0), rs.bytes(1))
			for !cr.done() {
				o, rec, _, err := cr.next()
				if err != nil {
					rs.close()
					return err
				}
				if o == off {
					ts = time.Unix(0, recordTime(rec))
					break
				}
			}
		}
		return rs.close()
	})
	return ts, err
}
