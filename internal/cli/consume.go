package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/arus-platform/arus/internal/api"
	"github.com/arus-platform/arus/stream"
)

const consumeAbout = `
Prints the records of topics, one per line, like kafka-console-consumer.

With --group the records are consumed in that consumer group: the group's
committed offsets move forward (a batch is committed once it is printed), and
a new group starts at the oldest record. Without a group the records are read
by position across all partitions, from the oldest (--from-beginning) or from
the end, without committing anything.

The command runs until interrupted, until --max records were printed, or
until no record came for --timeout.

  arus consume --topic orders --from-beginning --timeout 2s
  arus consume --topic orders --group billing --format json --max 100`

// readChunk is how many records one positional read asks for.
const readChunk = 5000

var errMaxReached = errors.New("record limit reached")

func runConsume(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "consume", "arus consume --topic NAME [--group G | --from-beginning] [flags]", consumeAbout)
	topics := &listFlag{split: true}
	f.Var(topics, "topic", "`name` of a topic to consume; repeatable or comma-separated")
	group := f.String("group", "", "consume in this consumer `group`, committing as records are printed")
	fromBeginning := f.Bool("from-beginning", false, "without --group: start at the oldest record instead of the end")
	maxRecords := f.Int64("max", 0, "stop after this many `records` (0: no limit)")
	timeout := f.Duration("timeout", 0, "stop when no record came for this `long` (0: wait forever)")
	format := f.String("format", "value", "output `format`: value (the value of each record) or json (topic, partition, offset, key, value, headers, timestamp)")
	c := addConn(f)
	rest, err := f.parse(args)
	if err != nil {
		return err
	}
	for _, t := range rest {
		_ = topics.Set(t)
	}
	if len(topics.values) == 0 {
		return f.fail("no topic given; use --topic NAME")
	}
	for _, t := range topics.values {
		if err := stream.ValidateTopicName(t); err != nil {
			return f.fail("--topic: %v", err)
		}
	}
	if *group != "" {
		if err := stream.ValidateGroupName(*group); err != nil {
			return f.fail("--group: %v", err)
		}
	}
	if *maxRecords < 0 {
		return f.fail("--max %d is negative; use 0 (no limit) or a number of records", *maxRecords)
	}
	if *timeout < 0 {
		return f.fail("--timeout %s is negative", *timeout)
	}
	if *format != "value" && *format != "json" {
		return f.fail("--format %q: use value or json", *format)
	}
	b, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer b.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr := &printer{w: bufio.NewWriterSize(e.stdout, 64<<10), json: *format == "json", max: *maxRecords, stop: cancel}
	if *group != "" {
		if *timeout > 0 {
			pr.idle = time.AfterFunc(*timeout, cancel)
			pr.idleFor = *timeout
			defer pr.idle.Stop()
		}
		cfg := stream.ConsumerConfig{Group: *group, Topics: topics.values}
		err = b.Consume(ctx, cfg, pr.handle)
	} else {
		err = readAll(ctx, b, topics.values, *fromBeginning, *timeout, pr)
	}
	if ferr := pr.flush(); err == nil {
		err = ferr
	}
	fmt.Fprintf(e.stderr, "Consumed %d record(s).\n", pr.printed)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	return nil
}

// printer writes records to the output, under a limit, and is the handler
// of a group consume: a batch is committed once it is printed and flushed.
type printer struct {
	mu      sync.Mutex
	w       *bufio.Writer
	json    bool
	max     int64
	printed int64
	stop    context.CancelFunc
	idle    *time.Timer
	idleFor time.Duration
}

// print writes records up to the limit and flushes; it returns how many it
// wrote.
func (p *printer) print(records []*stream.Record) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle != nil {
		// Time spent printing is not idle time.
		p.idle.Stop()
		defer p.idle.Reset(p.idleFor)
	}
	n := len(records)
	if p.max > 0 && int64(n) > p.max-p.printed {
		n = int(p.max - p.printed)
	}
	for _, r := range records[:n] {
		if err := p.write(r); err != nil {
			p.stop()
			return 0, err
		}
	}
	if err := p.w.Flush(); err != nil {
		p.stop()
		return 0, err
	}
	p.printed += int64(n)
	if p.max > 0 && p.printed >= p.max {
		p.stop()
	}
	return n, nil
}

func (p *printer) write(r *stream.Record) error {
	if !p.json {
		if _, err := p.w.Write(r.Value); err != nil {
			return err
		}
		return p.w.WriteByte('\n')
	}
	b, err := json.Marshal(api.NewRecord(r, false))
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = p.w.Write(b)
	return err
}

func (p *printer) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.w.Flush()
}

// handle is the group handler: what was printed is committed, what the
// limit cut is not.
func (p *printer) handle(ctx context.Context, batch []*stream.Record) error {
	n, err := p.print(batch)
	switch {
	case err != nil:
		return fmt.Errorf("write output: %w", err)
	case n == len(batch):
		return nil
	case n == 0:
		return errMaxReached
	}
	return &stream.PartialError{N: n, Err: errMaxReached}
}

// readAll reads topics by position, partition by partition, and then
// follows them for new records until ctx is done or, with idle > 0, no
// partition had a new record for that long.
func readAll(ctx context.Context, b stream.Broker, topics []string, fromBeginning bool, idle time.Duration, pr *printer) error {
	type position struct {
		topic     string
		partition int32
		next      int64
	}
	var positions []position
	for _, t := range topics {
		info, err := b.DescribeTopic(ctx, t)
		if err != nil {
			return fmt.Errorf("topic %q: %w", t, err)
		}
		for _, o := range info.Offsets {
			next := o.End
			if fromBeginning {
				next = o.Start
			}
			positions = append(positions, position{topic: t, partition: o.Partition, next: next})
		}
	}
	wait := 20 * time.Millisecond
	lastRecord := time.Now()
	for {
		progress := false
		for i := range positions {
			pos := &positions[i]
			records, err := b.Read(ctx, pos.topic, pos.partition, pos.next, readChunk)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("read %s partition %d at offset %d: %w", pos.topic, pos.partition, pos.next, err)
			}
			if len(records) == 0 {
				continue
			}
			progress = true
			pos.next = records[len(records)-1].Offset + 1
			n, err := pr.print(records)
			if err != nil {
				return fmt.Errorf("write output: %w", err)
			}
			if n < len(records) {
				return nil
			}
		}
		if progress {
			wait, lastRecord = 20*time.Millisecond, time.Now()
			continue
		}
		if idle > 0 && time.Since(lastRecord) >= idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
		if idle > 0 {
			wait = min(wait, max(idle-time.Since(lastRecord), time.Millisecond))
		}
	}
}
