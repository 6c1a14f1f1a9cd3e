package delivery

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
	"github.com/arus-platform/arus/stream"
)

// The delivery log is written behind delivery, so a process killed with
// kill -9 loses the entries its writer had queued: records the route
// handled and its group committed, which will not come again. When a
// route's session starts, rebuildLog finds, for each partition of the
// dataset's topic, the records between the route's last logged offset and
// the group's committed offset, and logs them again: what became of each
// follows from the record itself (the mapping and filter say delivered or
// skipped, a mapping error dead-lettered) and from the route's dead-letter
// queue (records the destination refused). An entry another process still
// writes later is kept once (the log ignores an entry it holds).

// rebuildMax bounds the records rebuilt per partition and session; a
// larger gap (a log that expired while the route stood still, say) is
// rebuilt for its newest records only.
const rebuildMax = 100_000

// rebuildLog logs the records of the dataset's topic the route handled
// but has no entry for. Failures are logged and leave the gap: the log
// is an account of delivery, not part of it.
func (w *worker) rebuildLog(ctx context.Context) {
	l := w.e.cfg.Log
	if l == nil {
		return
	}
	n, err := w.rebuild(ctx, l)
	if err != nil && ctx.Err() == nil {
		w.e.log.WarnContext(ctx, "relay: delivery log: rebuild entries lost in a restart", "route", w.spec.route.Name, "err", err)
	}
	if n > 0 {
		w.e.log.InfoContext(ctx, "relay: delivery log: rebuilt entries lost in a restart", "route", w.spec.route.Name, "entries", n)
	}
}

func (w *worker) rebuild(ctx context.Context, l *deliverylog.Log) (int, error) {
	topic := w.spec.dataset.Topic
	g, err := w.e.cfg.Broker.DescribeGroup(ctx, w.group)
	if errors.Is(err, stream.ErrGroupNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("describe group: %w", err)
	}
	// What this process queued is in the log before it is compared.
	if err := l.Flush(ctx); err != nil {
		return 0, err
	}
	var dead map[int32]map[int64]deadLetter
	rebuilt := 0
	for _, o := range g.Offsets {
		if o.Topic != topic {
			continue
		}
		last, ok, err := l.LastOffset(ctx, w.spec.route.ID, topic, o.Partition)
		if err != nil {
			return rebuilt, err
		}
		if !ok || last+1 >= o.Committed {
			// Nothing logged yet (a new route, or a log that expired):
			// there is no known start to rebuild from.
			continue
		}
		from := max(last+1, o.Committed-rebuildMax)
		if dead == nil {
			if dead, err = w.deadLetters(ctx); err != nil {
				return rebuilt, err
			}
		}
		n, err := w.rebuildRange(ctx, l, o.Partition, from, o.Committed, dead[o.Partition])
		rebuilt += n
		if err != nil {
			return rebuilt, err
		}
	}
	return rebuilt, nil
}

// rebuildRange logs the records [from, to) of a partition of the dataset's
// topic.
func (w *worker) rebuildRange(ctx context.Context, l *deliverylog.Log, partition int32, from, to int64, dead map[int64]deadLetter) (int, error) {
	n := 0
	for off := from; off < to; {
		recs, err := w.e.cfg.Broker.Read(ctx, w.spec.dataset.Topic, partition, off, int(min(500, to-off)))
		if errors.Is(err, stream.ErrOffsetOutOfRange) {
			return n, nil // retention took them
		}
		if err != nil {
			return n, fmt.Errorf("read %s/%d@%d: %w", w.spec.dataset.Topic, partition, off, err)
		}
		if len(recs) == 0 {
			return n, nil
		}
		var es entries
		for i, r := range recs {
			if r.Offset >= to {
				break
			}
			ch, keep, err := w.mapRecord(relay.DecodeEnvelope(r.Value))
			switch d, wasDead := dead[r.Offset]; {
			case wasDead:
				w.record(&es, i, r, deliverylog.DeadLettered, d.attempts, ch.Row, errors.New(d.err))
			case err != nil:
				w.record(&es, i, r, deliverylog.DeadLettered, 1, nil, err)
			case !keep:
				w.record(&es, i, r, deliverylog.Skipped, 1, nil, nil)
			default:
				w.record(&es, i, r, deliverylog.Delivered, 1, ch.Row, nil)
			}
			n++
		}
		es.add(l)
		off = recs[len(recs)-1].Offset + 1
	}
	return n, nil
}

// deadLetter is what the route's dead-letter queue says of a record.
type deadLetter struct {
	attempts int
	err      string
}

// deadLetters reads the route's dead-letter queue: the letters of the
// dataset's topic by partition and offset. Dead letters are few; the
// newest rebuildMax of each partition of the queue are read.
func (w *worker) deadLetters(ctx context.Context) (map[int32]map[int64]deadLetter, error) {
	name := consume.DLQTopic(w.spec.dataset.Topic, w.group)
	info, err := w.e.cfg.Broker.DescribeTopic(ctx, name)
	if errors.Is(err, stream.ErrTopicNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", name, err)
	}
	out := map[int32]map[int64]deadLetter{}
	for _, po := range info.Offsets {
		for off := max(po.Start, po.End-rebuildMax); off < po.End; {
			recs, err := w.e.cfg.Broker.Read(ctx, name, po.Partition, off, 500)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				if t, _ := r.Header(consume.HeaderDLQTopic); string(t) != w.spec.dataset.Topic {
					continue
				}
				p, perr := headerInt(r, consume.HeaderDLQPartition)
				o, oerr := headerInt(r, consume.HeaderDLQOffset)
				if perr != nil || oerr != nil {
					continue
				}
				attempts, _ := headerInt(r, consume.HeaderDLQAttempts)
				msg, _ := r.Header(consume.HeaderDLQError)
				if out[int32(p)] == nil {
					out[int32(p)] = map[int64]deadLetter{}
				}
				out[int32(p)][o] = deadLetter{attempts: int(max(1, attempts)), err: string(msg)}
			}
			off = recs[len(recs)-1].Offset + 1
		}
	}
	return out, nil
}

func headerInt(r *stream.Record, key string) (int64, error) {
	v, ok := r.Header(key)
	if !ok {
		return 0, fmt.Errorf("no %s header", key)
	}
	return strconv.ParseInt(string(v), 10, 64)
}
