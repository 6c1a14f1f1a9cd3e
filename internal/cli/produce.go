package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/arus-platform/arus/stream"
)

const produceAbout = `
Produces one record per line of standard input (or --file) to a topic, like
kafka-console-producer. Lines are sent in batches, one batch at a time: a
batch counts as sent only once the server (or broker) acknowledged it as
durable, so records with the same key keep their order. A summary goes to
standard error.

  seq 100000 | arus produce --topic numbers
  arus produce --topic orders --key-separator : < orders.txt   # key:value lines
  arus produce --topic orders --key store-7 --header source=import --file orders.txt`

// maxBatchBytes bounds the size of one produce batch.
const maxBatchBytes = 4 << 20

func runProduce(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "produce", "arus produce --topic NAME [flags] < lines", produceAbout)
	topic := f.String("topic", "", "`name` of the topic to produce to")
	file := f.String("file", "", "read lines from `path` instead of standard input")
	key := f.String("key", "", "fixed `key` of every record")
	sep := f.String("key-separator", "", "each line is key, `separator`, value (as kafka-console-producer's parse.key and key.separator)")
	var headers listFlag
	f.Var(&headers, "header", "header `key=value` on every record; repeatable")
	batchSize := f.Int("batch-size", 5000, "most `records` sent in one batch, 1 to 10000")
	c := addConn(f)
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	name, err := topicArg(f, *topic, rest)
	if err != nil {
		return err
	}
	if *key != "" && *sep != "" {
		return f.fail("give either --key or --key-separator, not both")
	}
	if *batchSize < 1 || *batchSize > 10000 {
		return f.fail("--batch-size %d is out of range; use 1 to 10000", *batchSize)
	}
	var fixed []stream.Header
	for _, h := range headers.values {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return f.fail("--header %q: use key=value", h)
		}
		fixed = append(fixed, stream.Header{Key: k, Value: []byte(v)})
	}
	in := e.stdin
	if *file != "" {
		fh, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		defer fh.Close()
		in = fh
	}
	b, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer b.Close()

	p := &lineProducer{topic: name, key: []byte(*key), sep: []byte(*sep), headers: fixed, batch: *batchSize}
	start := time.Now()
	err = p.run(ctx, b, in)
	elapsed := time.Since(start)
	rate := float64(p.acked) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(e.stderr, "Produced %d record(s) to %s in %d batch(es) in %s (%.0f records/s).\n",
		p.acked, name, p.batches, elapsed.Round(time.Millisecond), rate)
	if err != nil {
		return fmt.Errorf("produce to %q: %w (the %d record(s) reported produced are stored; later lines were not sent)", name, err, p.acked)
	}
	return nil
}

// lineProducer turns lines into records and produces them in batches.
type lineProducer struct {
	topic   string
	key     []byte
	sep     []byte
	headers []stream.Header
	batch   int

	acked   int64
	batches int64
}

type lineRecord struct {
	rec *stream.Record
	err error
}

// run reads lines in one goroutine and produces them in this one: a batch
// is whatever was read while the previous batch was being acknowledged, up
// to the batch size, so a fast input makes full batches and a slow one
// (a terminal) is sent line by line without waiting.
func (p *lineProducer) run(ctx context.Context, b stream.Producer, in io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := make(chan lineRecord, 2*p.batch)
	go p.read(ctx, in, lines)

	var carry *stream.Record
	for {
		var batch []*stream.Record
		size := 0
		if carry != nil {
			batch, size, carry = append(batch, carry), carry.Size(), nil
		} else {
			select {
			case lr, ok := <-lines:
				if !ok {
					return nil
				}
				if lr.err != nil {
					return lr.err
				}
				batch, size = append(batch, lr.rec), lr.rec.Size()
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var readErr error
		done := false
	fill:
		for len(batch) < p.batch {
			select {
			case lr, ok := <-lines:
				switch {
				case !ok:
					done = true
					break fill
				case lr.err != nil:
					readErr = lr.err
					break fill
				case size+lr.rec.Size() > maxBatchBytes:
					carry = lr.rec
					break fill
				}
				batch, size = append(batch, lr.rec), size+lr.rec.Size()
			default:
				break fill
			}
		}
		err := b.Produce(ctx, batch...)
		p.batches++
		if err != nil {
			var pe *stream.ProduceError
			if errors.As(err, &pe) {
				p.acked += int64(len(batch) - len(pe.Failed))
			}
			return err
		}
		p.acked += int64(len(batch))
		if readErr != nil {
			return readErr
		}
		if done {
			return nil
		}
	}
}

// read sends a record per line, then closes lines.
func (p *lineProducer) read(ctx context.Context, in io.Reader, lines chan<- lineRecord) {
	defer close(lines)
	r := bufio.NewReaderSize(in, 1<<20)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
			lr := lineRecord{rec: p.record(line)}
			if len(p.sep) > 0 {
				k, v, ok := bytes.Cut(line, p.sep)
				if !ok {
					lr = lineRecord{err: fmt.Errorf("line %d has no key separator %q", n, p.sep)}
				} else {
					lr.rec.Key, lr.rec.Value = k, v
				}
			}
			select {
			case lines <- lr:
			case <-ctx.Done():
				return
			}
			if lr.err != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				select {
				case lines <- lineRecord{err: fmt.Errorf("read line %d: %w", n, err)}:
				case <-ctx.Done():
				}
			}
			return
		}
	}
}

func (p *lineProducer) record(line []byte) *stream.Record {
	r := &stream.Record{Topic: p.topic, Value: line}
	if len(p.key) > 0 {
		r.Key = p.key
	}
	if len(p.headers) > 0 {
		// A slice of its own per record: Produce appends the record id.
		r.Headers = make([]stream.Header, len(p.headers), len(p.headers)+1)
		copy(r.Headers, p.headers)
	}
	return r
}
