package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/internal/relay"
	"github.com/arus-platform/arus/internal/relay/deliverylog"
	"github.com/arus-platform/arus/internal/relay/sink"
	"github.com/arus-platform/arus/stream"
)

// Headers a dead letter carries besides consume's arus-dlq-* headers.
const (
	HeaderDLQRoute       = "arus-relay-route"
	HeaderDLQDestination = "arus-relay-destination"
)

// worker runs one route: it prepares the route in its destination and
// consumes the route's group until stopped.
type worker struct {
	e       *Engine
	spec    spec
	dest    *destination
	mapping *relay.Mapping
	target  sink.Target
	group   string
	// retry is the topic the dlq tool replays the route's dead letters
	// into, <topic>.relay.route.<id>.retry; "" when its name would be too
	// long.
	retry string

	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	st       RouteStatus
	backoff  time.Duration
	attempts map[sink.Position]*attempt // records failing permanently
}

type attempt struct {
	n           int
	first, last time.Time
}

func (e *Engine) newWorker(s spec, d *destination) (*worker, error) {
	m, err := relay.Compile(&s.route)
	if err != nil {
		return nil, err
	}
	retry := consume.RetryTopic(s.dataset.Topic, Group(s.route.ID))
	if stream.ValidateTopicName(retry) != nil {
		retry = ""
	}
	return &worker{e: e, spec: s, dest: d, mapping: m, target: s.route.Target(), group: Group(s.route.ID), retry: retry,
		done: make(chan struct{}), backoff: e.cfg.RetryBackoff, attempts: map[sink.Position]*attempt{},
		st: RouteStatus{RouteID: s.route.ID, Route: s.route.Name, DestinationID: s.route.Destination, Group: Group(s.route.ID),
			State: StateStarting, Since: time.Now(), Lag: -1}}, nil
}

func (w *worker) start(ctx context.Context) {
	ctx, w.cancel = context.WithCancel(ctx)
	go func() {
		defer close(w.done)
		w.run(ctx)
	}()
}

// stop cancels the worker and waits until its handlers returned and
// what they finished was committed.
func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (w *worker) status() RouteStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st
}

func (w *worker) setState(state string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.st.State != state {
		w.st.State, w.st.Since = state, time.Now()
	}
	w.st.LastError = ""
	if err != nil {
		w.st.LastError = err.Error()
	}
}

// nextBackoff returns the wait before the next retry and doubles it, up
// to MaxBackoff.
func (w *worker) nextBackoff() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.backoff
	w.backoff = min(2*w.backoff, w.e.cfg.MaxBackoff)
	return d
}

func (w *worker) resetBackoff() {
	w.mu.Lock()
	w.backoff = w.e.cfg.RetryBackoff
	w.mu.Unlock()
}

func (w *worker) run(ctx context.Context) {
	log := w.e.log.With("route", w.spec.route.Name, "group", w.group, "dest", w.dest.d.Name)
	for {
		err := w.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("consumer stopped")
		}
		w.setState(StateFailed, err)
		d := w.nextBackoff()
		log.WarnContext(ctx, "relay: delivery: route not running; retrying", "err", err, "retry_in", d)
		if !sleep(ctx, d, w.dest.waitUp()) {
			return
		}
	}
}

// session prepares the route and consumes until ctx is done or the
// consumer fails.
func (w *worker) session(ctx context.Context) error {
	s, err := w.dest.get(ctx)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, errClosed) {
			w.dest.observe(ctx, false, err)
		}
		return fmt.Errorf("open destination: %w", err)
	}
	g, _, err := s.Prepare(ctx, w.spec.route.ID, w.target, w.mapping.Columns())
	if err != nil {
		if errors.Is(err, sink.ErrTransient) && ctx.Err() == nil {
			w.dest.observe(ctx, false, err)
		}
		return fmt.Errorf("prepare: %w", err)
	}
	w.mu.Lock()
	w.st.Guarantee = g
	w.mu.Unlock()
	w.setState(StateRunning, nil)
	if g != sink.ExactlyOnce {
		w.e.log.WarnContext(ctx, "relay: delivery: the destination account cannot keep route positions; the route runs at-least-once",
			"route", w.spec.route.Name, "dest", w.dest.d.Name)
	}
	// Before consuming, so that the group's committed offsets and the log
	// hold still while they are compared.
	w.rebuildLog(ctx)
	topics := []string{w.spec.dataset.Topic}
	if w.retry != "" {
		// Replayed records have positions of their own topic, so they are
		// kept under a route name of their own in the destination.
		if _, _, err := s.Prepare(ctx, w.sinkRoute(w.retry), w.target, w.mapping.Columns()); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		err := w.e.cfg.Broker.CreateTopic(ctx, stream.Topic{Name: w.retry, Partitions: 1})
		if err != nil && !errors.Is(err, stream.ErrTopicExists) {
			w.e.log.DebugContext(ctx, "relay: delivery: create retry topic", "topic", w.retry, "err", err)
		}
		topics = append(topics, w.retry)
	}
	// After a transient failure the handler has waited already (its
	// backoff, cut short when the destination answers again), so the
	// stream redelivers at once rather than a second backoff later; the
	// short wait left paces the attempts at a record the destination
	// rejects, which end in the dead-letter queue after MaxAttempts.
	cfg := stream.ConsumerConfig{Group: w.group, Topics: topics, Member: w.e.cfg.Member,
		MaxBatch: w.e.cfg.MaxBatch, RetryBackoff: min(w.e.cfg.RetryBackoff, redeliverAfter)}
	return w.e.cfg.Broker.Consume(ctx, cfg, w.handle)
}

// redeliverAfter bounds the stream's wait before it delivers a failed
// batch again; see consume.
const redeliverAfter = 50 * time.Millisecond

// sinkRoute is the route's name in the sink for records of topic: the
// route id, or for replayed records <id>.retry.
func (w *worker) sinkRoute(topic string) string {
	if w.retry != "" && topic == w.retry {
		return w.spec.route.ID + consume.RetrySuffix
	}
	return w.spec.route.ID
}

// asOriginal returns copies of the records of a retry topic named as
// records of the dataset's topic, so that dead letters keep pointing at
// the original.
func asOriginal(batch []*stream.Record, topic string) []*stream.Record {
	recs := make([]stream.Record, len(batch))
	out := make([]*stream.Record, len(batch))
	for i, r := range batch {
		recs[i] = *r
		recs[i].Topic = topic
		out[i] = &recs[i]
	}
	return out
}

// item is a record of the batch that maps to a change.
type item struct {
	idx int // in the stream batch
	ch  sink.Change
}

// handle delivers one batch of one partition.
//
// Records the filter leaves out are not written; they need no place in
// the destination's bookkeeping, since delivering them again has no
// effect either: they advance only the consumer group's offset, with the
// rest of the batch. Records that cannot be mapped are dead-lettered at
// once (retrying cannot change them). The changes are written in runs
// between those records, in order, each run as one batch of the sink;
// see writeIsolated for failures. On failure the handler returns a
// *stream.PartialError committing exactly the records before the first
// one not handled, so the batch resumes there.
func (w *worker) handle(ctx context.Context, batch []*stream.Record) error {
	name := w.sinkRoute(batch[0].Topic)
	if w.retry != "" && batch[0].Topic == w.retry {
		batch = asOriginal(batch, w.spec.dataset.Topic)
	}
	var run []item
	var skipped []int // logged once the handler got past them
	var logged entries
	flush := func() (int, error) {
		if len(run) == 0 {
			return -1, nil
		}
		stop, err := w.writeIsolated(ctx, &logged, name, batch, run)
		run = run[:0]
		return stop, err
	}
	done := func(stop int, err error) error {
		for _, i := range skipped {
			if err == nil || i < stop {
				w.e.m.skipped.WithLabelValues(w.spec.route.Name).Inc()
				w.record(&logged, i, batch[i], deliverylog.Skipped, 1, nil, nil)
			}
		}
		logged.add(w.e.cfg.Log)
		if err == nil {
			return nil
		}
		return w.failed(ctx, stop, err)
	}
	values := make([][]byte, len(batch))
	for i, r := range batch {
		values[i] = r.Value
	}
	decoded := w.e.cfg.Relay.Envelopes().Decode(values)
	for i, r := range batch {
		ch, keep, err := w.mapRecord(decoded[i])
		switch {
		case err != nil:
			if stop, ferr := flush(); ferr != nil {
				return done(stop, ferr)
			}
			w.e.m.errors.WithLabelValues(w.spec.route.Name, "mapping").Inc()
			if derr := w.deadLetter(ctx, r, err, 1, time.Now()); derr != nil {
				return done(i, derr)
			}
			w.record(&logged, i, r, deliverylog.DeadLettered, 1, nil, err)
		case !keep:
			skipped = append(skipped, i)
		default:
			ch.Pos = sink.Position{Partition: r.Partition, Offset: r.Offset}
			ch.RecordID = r.ID()
			run = append(run, item{idx: i, ch: ch})
		}
	}
	stop, err := flush()
	return done(stop, err)
}

// failed ends a batch that stopped at record stop: after a transient
// failure the route pauses (backing off, or until the heartbeat sees the
// destination up) before the stream delivers the rest again.
func (w *worker) failed(ctx context.Context, stop int, err error) error {
	if !isPermanent(err) {
		w.setState(StatePaused, err)
		d := w.nextBackoff()
		w.e.log.WarnContext(ctx, "relay: delivery: route paused", "route", w.spec.route.Name, "dest", w.dest.d.Name,
			"err", err, "retry_in", d)
		sleep(ctx, d, w.dest.waitUp())
	}
	if stop <= 0 {
		return err
	}
	return &stream.PartialError{N: stop, Err: err}
}

func isPermanent(err error) bool {
	var pe *sink.PermanentError
	var ve *sink.ValueError
	return errors.As(err, &pe) || errors.As(err, &ve)
}

// mapRecord maps a decoded record.
func (w *worker) mapRecord(d relay.Decoded) (sink.Change, bool, error) {
	if d.Err != nil {
		return sink.Change{}, false, d.Err
	}
	return w.mapping.ApplyValue(d.Op, d.Data)
}

// writeIsolated writes items (a run of the batch, in order). When the sink
// rejects the run permanently, the run is split, at the change the sink
// named or else in halves, and the parts written in order until the bad
// change stands alone; a change failing alone is tried again on the next
// delivery and dead-lettered once it has failed MaxAttempts times. It
// returns -1 when every item was written or dead-lettered, else the batch
// index of the first item not handled and the error.
func (w *worker) writeIsolated(ctx context.Context, log *entries, name string, batch []*stream.Record, items []item) (int, error) {
	err := w.write(ctx, name, items)
	if err == nil {
		w.delivered(log, batch, items)
		return -1, nil
	}
	if !isPermanent(err) {
		return items[0].idx, err
	}
	if len(items) == 1 {
		it := items[0]
		a := w.attempt(it.ch.Pos)
		if a.n < w.e.cfg.MaxAttempts {
			w.record(log, it.idx, batch[it.idx], deliverylog.Failed, a.n, it.ch.Row, err)
			w.e.log.WarnContext(ctx, "relay: delivery: record rejected; it will be tried again", "route", w.spec.route.Name,
				"partition", it.ch.Pos.Partition, "offset", it.ch.Pos.Offset, "record_id", it.ch.RecordID, "attempt", a.n, "err", err)
			return it.idx, err
		}
		if derr := w.deadLetter(ctx, batch[it.idx], err, a.n, a.first); derr != nil {
			return it.idx, derr
		}
		w.record(log, it.idx, batch[it.idx], deliverylog.DeadLettered, a.n, it.ch.Row, err)
		w.forget(items)
		return -1, nil
	}
	for _, part := range split(items, err) {
		if stop, err := w.writeIsolated(ctx, log, name, batch, part); err != nil {
			return stop, err
		}
	}
	return -1, nil
}

// split cuts items around the change a permanent error names, or in
// halves when it names none.
func split(items []item, err error) [][]item {
	i := -1
	var pe *sink.PermanentError
	var ve *sink.ValueError
	if errors.As(err, &ve) {
		i = ve.Index
	} else if errors.As(err, &pe) {
		i = pe.Index
	}
	if i < 0 || i >= len(items) {
		mid := len(items) / 2
		return [][]item{items[:mid], items[mid:]}
	}
	var out [][]item
	for _, p := range [][]item{items[:i], items[i : i+1], items[i+1:]} {
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// attempt counts a failure of the change at pos.
func (w *worker) attempt(pos sink.Position) attempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	a := w.attempts[pos]
	if a == nil {
		a = &attempt{first: now}
		w.attempts[pos] = a
	}
	a.n++
	a.last = now
	return *a
}

// delivered logs written items and forgets their failed attempts.
func (w *worker) delivered(log *entries, batch []*stream.Record, items []item) {
	if w.e.cfg.Log != nil {
		w.mu.Lock()
		n := make([]int, len(items))
		for i, it := range items {
			n[i] = 1
			if a := w.attempts[it.ch.Pos]; a != nil {
				n[i] = a.n + 1
			}
		}
		w.mu.Unlock()
		for i, it := range items {
			w.record(log, it.idx, batch[it.idx], deliverylog.Delivered, n[i], it.ch.Row, nil)
		}
	}
	w.forget(items)
}

// entries are the delivery log entries of one batch, each with its
// record's place in the batch. They go to the log together, in the
// records' order, once the batch is handled: the log then follows each
// partition's offsets, so that a process killed with kill -9 loses, with
// its writer's queue, the entries of its last records only.
type entries []indexedEntry

type indexedEntry struct {
	i int
	e deliverylog.Entry
}

// add adds the entries to log in the records' order.
func (es *entries) add(log *deliverylog.Log) {
	if log == nil || len(*es) == 0 {
		return
	}
	slices.SortStableFunc(*es, func(a, b indexedEntry) int { return cmp.Compare(a.i, b.i) })
	out := make([]deliverylog.Entry, len(*es))
	for i, x := range *es {
		out[i] = x.e
	}
	log.Add(out...)
	*es = (*es)[:0]
}

// record adds an entry for the record at index i of the batch to es, when
// there is a delivery log.
func (w *worker) record(es *entries, i int, r *stream.Record, status deliverylog.Status, attempts int, row map[string]any, cause error) {
	if w.e.cfg.Log == nil {
		return
	}
	app, _ := r.Header(relay.HeaderApplication)
	e := deliverylog.Entry{RecordID: r.ID(), Dataset: w.spec.dataset.Name, Application: string(app),
		RouteID: w.spec.route.ID, Route: w.spec.route.Name, DestinationID: w.dest.d.ID, Destination: w.dest.d.Name,
		DestinationHost: w.dest.host(), Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, RecordTime: r.Timestamp,
		Status: status, Attempts: attempts}
	if row != nil {
		e.Row, _ = json.Marshal(row)
	}
	if cause != nil {
		e.Error = cause.Error()
	}
	*es = append(*es, indexedEntry{i, e})
}

func (w *worker) forget(items []item) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.attempts) == 0 {
		return
	}
	for _, it := range items {
		delete(w.attempts, it.ch.Pos)
	}
}

// write writes items as one sink batch, with metrics and health.
func (w *worker) write(ctx context.Context, name string, items []item) error {
	s, err := w.dest.get(ctx)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, errClosed) {
			w.dest.observe(ctx, false, err)
		}
		return fmt.Errorf("relay: open destination %s: %w", w.dest.d.Name, err)
	}
	changes := make([]sink.Change, len(items))
	for i, it := range items {
		changes[i] = it.ch
	}
	route := w.spec.route.Name
	start := time.Now()
	err = s.Write(ctx, name, w.target, changes)
	w.e.m.latency.WithLabelValues(w.dest.d.Name).Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		w.e.m.rows.WithLabelValues(route).Add(float64(len(changes)))
		w.e.m.batches.WithLabelValues(route).Inc()
		w.dest.observe(ctx, true, nil)
		w.resetBackoff()
		w.setState(StateRunning, nil)
		return nil
	case isPermanent(err):
		w.e.m.errors.WithLabelValues(route, "permanent").Inc()
	case errors.Is(err, sink.ErrTransient):
		w.e.m.errors.WithLabelValues(route, "transient").Inc()
		if ctx.Err() == nil {
			w.dest.observe(ctx, false, err)
		}
	default:
		w.e.m.errors.WithLabelValues(route, "other").Inc()
	}
	return fmt.Errorf("relay: deliver batch to %s: %w", w.dest.d.Name, err)
}

// deadLetter produces r to the route's dead-letter topic,
// <topic>.relay.route.<id>.dlq, with consume's arus-dlq-* headers and the
// route and destination names. It returns only once the dead letter is
// durable.
func (w *worker) deadLetter(ctx context.Context, r *stream.Record, cause error, attempts int, first time.Time) error {
	now := time.Now()
	dl := consume.DeadLetterRecord(r, w.group, &consume.RetryError{Err: cause, Attempts: attempts, FirstFailed: first, LastFailed: now}, now)
	dl.SetHeader(consume.HeaderDLQPermanent, []byte(strconv.FormatBool(true)))
	dl.SetHeader(HeaderDLQRoute, []byte(w.spec.route.Name))
	dl.SetHeader(HeaderDLQDestination, []byte(w.dest.d.Name))
	if err := w.e.cfg.Broker.CreateTopic(ctx, stream.Topic{Name: dl.Topic, Partitions: 1}); err != nil && !errors.Is(err, stream.ErrTopicExists) {
		w.e.log.DebugContext(ctx, "relay: delivery: create dead-letter topic", "topic", dl.Topic, "err", err)
	}
	if err := w.e.cfg.Broker.Produce(ctx, dl); err != nil {
		return fmt.Errorf("relay: dead-letter record %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	w.e.m.deadLetters.WithLabelValues(w.spec.route.Name).Inc()
	w.e.log.WarnContext(ctx, "relay: delivery: record dead-lettered", "route", w.spec.route.Name, "dest", w.dest.d.Name,
		"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "record_id", r.ID(), "attempt", attempts,
		"dlq", dl.Topic, "err", cause)
	return nil
}
