package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
)

// Limits of one produce script call; larger partition batches are split.
const (
	maxScriptRecords = 1000
	maxScriptBytes   = 8 << 20
	maxKeylessRun    = 256
)

// chunk is the records of one produce script call: consecutive records of
// one call for one partition, in slice order.
type chunk struct {
	topic      string
	partition  int32
	partitions int32
	idx        []int
	cmd        *goredis.Cmd
}

// Produce stores records and returns once Redis has acknowledged all of
// them. Records are validated first (nothing is stored when one is invalid
// or too large). Each record gets its partition and its offset: a record
// with a key (an empty one too) goes to [stream.Partition] of its key;
// records without a key (nil) go in runs of consecutive records (half of the
// call's keyless records for the topic, at most 256) to one partition after
// another, round robin, so they spread over the partitions in few, large
// writes; the records of one call for one partition are stored in slice
// order and, up to 1000 records or 8 MiB at a time, atomically. Topics are
// created with the default settings on first use unless the broker is
// strict, in which case an unknown topic fails the whole call before
// anything is stored.
//
// On failure the error is a [*stream.ProduceError] whose Failed indexes are
// exactly the records not known to be stored: a record whose
// acknowledgement was lost in a broken connection is reported failed even if
// Redis stored it, so a retry may store it twice, with the same record id.
func (b *Broker) Produce(ctx context.Context, records ...*stream.Record) error {
	if len(records) == 0 {
		return nil
	}
	if err := b.checkOpen(); err != nil {
		return stream.AllFailed(len(records), err)
	}
	if err := b.cfg.Options.Prepare(records); err != nil {
		return err
	}
	todo := make([]int, len(records))
	for i := range todo {
		todo[i] = i
	}
	var failed []int
	var firstErr error // the cause for the lowest failed index
	firstIdx := len(records)
	fail := func(idx []int, err error) {
		failed = append(failed, idx...)
		for _, i := range idx {
			if i < firstIdx {
				firstIdx, firstErr = i, err
			}
		}
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		counts := make(map[string]int32)
		for _, i := range todo {
			t := records[i].Topic
			if _, ok := counts[t]; ok {
				continue
			}
			n, err := b.partitions(ctx, t, true)
			if err != nil {
				// Nothing of this round is stored yet, so every remaining
				// record fails.
				fail(todo, err)
				todo = nil
				break
			}
			counts[t] = n
		}
		if len(todo) == 0 {
			break
		}
		chunks := b.route(records, todo, counts)
		retry, err := b.runChunks(ctx, records, chunks)
		if err != nil {
			fail(retry, err)
			retry = nil
		}
		for _, c := range chunks {
			if c.cmd == nil || retryable(c.cmd.Err()) {
				continue
			}
			if err := c.cmd.Err(); err != nil {
				fail(c.idx, b.chunkError(c, err))
			}
		}
		todo = retry
		if attempt == 2 && len(todo) > 0 {
			fail(todo, fmt.Errorf("redis: produce: topic changed under the producer three times in a row"))
			todo = nil
		}
	}
	if len(failed) == 0 {
		return nil
	}
	slices.Sort(failed)
	return &stream.ProduceError{Failed: failed, Err: firstErr}
}

// route assigns partitions to the records of todo and groups them into
// chunks.
func (b *Broker) route(records []*stream.Record, todo []int, counts map[string]int32) []*chunk {
	type tp struct {
		topic string
		p     int32
	}
	// Records without a key go in runs of consecutive records to one
	// partition, the next run to the next partition, so that a call's
	// keyless records spread over at least two partitions while each
	// partition gets a few large batches rather than many small ones.
	keyless := make(map[string]int)
	for _, i := range todo {
		if records[i].Key == nil {
			keyless[records[i].Topic]++
		}
	}
	type run struct {
		partition int32
		left      int
	}
	runs := make(map[string]*run)
	open := make(map[tp]*chunk)
	openBytes := make(map[tp]int)
	var chunks []*chunk
	for _, i := range todo {
		r := records[i]
		n := counts[r.Topic]
		if r.Key != nil {
			r.Partition = stream.Partition(r.Key, n)
		} else {
			ru := runs[r.Topic]
			if ru == nil || ru.left == 0 {
				ru = &run{partition: b.part.Partition(nil, n), left: min(max((keyless[r.Topic]+1)/2, 1), maxKeylessRun)}
				runs[r.Topic] = ru
			}
			r.Partition = ru.partition
			ru.left--
		}
		key := tp{r.Topic, r.Partition}
		c := open[key]
		size := r.Size() + 64
		if c == nil || len(c.idx) >= maxScriptRecords || openBytes[key]+size > maxScriptBytes {
			c = &chunk{topic: r.Topic, partition: r.Partition, partitions: n}
			open[key] = c
			openBytes[key] = 0
			chunks = append(chunks, c)
		}
		c.idx = append(c.idx, i)
		openBytes[key] += size
	}
	return chunks
}

// runChunks runs the chunks in one pipeline and sets the offsets of the
// records stored. It returns the indexes to try again (topic changed or
// created meanwhile, script cache lost) or, when the pipeline itself failed,
// the indexes of every chunk with the error.
func (b *Broker) runChunks(ctx context.Context, records []*stream.Record, chunks []*chunk) ([]int, error) {
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, c := range chunks {
			// The chunk's fields share one buffer.
			size := 0
			for _, i := range c.idx {
				size += recordBound(records[i])
			}
			buf := make([]byte, 0, size)
			var maxTS []byte
			bytes := 0
			args := make([]any, 4, 4+len(c.idx))
			for _, i := range c.idx {
				r := records[i]
				from := len(buf)
				buf = appendRecord(buf, r)
				rec := buf[from:len(buf):len(buf)]
				if ts := rec[:timeDigits]; string(ts) > string(maxTS) {
					maxTS = ts
				}
				bytes += r.Size()
				args = append(args, rec)
			}
			args[0], args[1], args[2], args[3] = strconv.Itoa(int(c.partitions)), strconv.Itoa(int(c.partition)), string(maxTS), bytes
			c.cmd = b.s.produce.EvalSha(ctx, p,
				[]string{b.k.meta(c.topic), b.k.partition(c.topic, c.partition), b.k.index(c.topic, c.partition)}, args...)
		}
		return nil
	})
	var retry []int
	noScript := false
	for _, c := range chunks {
		cerr := c.cmd.Err()
		if cerr == nil {
			first, err := c.cmd.Int64()
			if err != nil {
				c.cmd.SetErr(fmt.Errorf("unexpected produce reply: %w", err))
				continue
			}
			for j, i := range c.idx {
				records[i].Offset = first + int64(j)
			}
			continue
		}
		if _, ok := scriptError(cerr, "ARUS_STALE"); ok {
			b.forget(c.topic)
		}
		if _, ok := scriptError(cerr, "ARUS_NOTOPIC"); ok {
			b.forget(c.topic)
			if b.cfg.Strict {
				c.cmd.SetErr(fmt.Errorf("redis: topic %q: %w", c.topic, stream.ErrTopicNotFound))
				continue
			}
		}
		if isNoScript(cerr) {
			noScript = true
		}
		if retryable(c.cmd.Err()) {
			retry = append(retry, c.idx...)
		}
	}
	if noScript {
		if lerr := b.s.load(ctx, b.client); lerr != nil {
			return retry, b.fail("reload scripts", lerr)
		}
	}
	if err != nil && len(retry) == 0 {
		// Every chunk has its own error; they are reported one by one.
		return nil, nil
	}
	slices.Sort(retry)
	return retry, nil
}

// retryable reports whether a produce script call failed before writing
// anything, for a reason that another attempt may cure.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := scriptError(err, "ARUS_STALE"); ok {
		return true
	}
	if _, ok := scriptError(err, "ARUS_NOTOPIC"); ok {
		return true
	}
	return isNoScript(err)
}

func (b *Broker) chunkError(c *chunk, err error) error {
	if errors.Is(err, stream.ErrTopicNotFound) {
		return err
	}
	return b.fail(fmt.Sprintf("produce to topic %q partition %d", c.topic, c.partition), err)
}
