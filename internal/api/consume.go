package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Acknowledgement modes of a consume stream.
const (
	// AckAuto: the server commits a batch once it has written and flushed
	// it to the connection. Records are redelivered when the stream breaks
	// before a batch is written whole; a client that dies after receiving a
	// batch loses it for the group. Good for curl and tailing.
	AckAuto = "auto"
	// AckClient: the client acknowledges every batch in the request body
	// and the server commits only what the client says it processed, so the
	// group keeps the broker's at-least-once guarantee end to end.
	AckClient = "client"
)

// headerDelay is how long a consume stream waits for its first batch before
// it sends the response headers anyway. Until then a failure to join (an
// unknown topic, say) can still be answered with its own status.
const headerDelay = 300 * time.Millisecond

// consume joins the group and streams its records as newline-delimited
// JSON (application/x-ndjson) until the client goes away, the server shuts
// down, ?max= records were sent or no record came for ?idle=.
//
// Query: topic (repeatable or comma-separated; required), member,
// max_batch, start (earliest or latest, for partitions the group has no
// offset for), retry_backoff, ack (auto or client), max, idle.
//
// With ack=auto (the default) each line is one [Record], and a batch is
// committed once it has been written and flushed: delivery is at-least-once
// up to the connection (see [AckAuto]).
//
// With ack=client each line is a [ConsumeBatch]; the client sends one
// [Ack] line per batch in the request body, and the server commits the
// records the ack says were processed and delivers the rest again after
// retry_backoff. Closing the request body asks the server to stop: it
// commits what was acknowledged, then ends the response. This is the mode of
// internal/client and keeps at-least-once delivery end to end.
//
// A stream that ends on an error after it started ends with a
// [StreamError] line.
func (s *Server) consume(w http.ResponseWriter, r *http.Request) error {
	group, err := groupParam(r)
	if err != nil {
		return err
	}
	q := newQuery(r)
	cfg := stream.ConsumerConfig{Group: group, Member: q.str("member"), Topics: consumeTopics(r)}
	q.seen["topic"] = true // read by consumeTopics
	if len(cfg.Topics) == 0 {
		q.fail("topic", "required: the topics to consume, as ?topic=orders&topic=payments")
	}
	for _, t := range cfg.Topics {
		if err := stream.ValidateTopicName(t); err != nil {
			q.fail("topic", "%v", err)
		}
	}
	cfg.MaxBatch = int(q.int("max_batch", 0, 1, 100000))
	if q.oneOf("start", "earliest", "latest") == "latest" {
		cfg.StartAt = stream.StartLatest
	}
	cfg.RetryBackoff = q.duration("retry_backoff")
	mode := q.oneOf("ack", AckAuto, AckClient)
	maxRecords := q.int("max", 0, 0, math.MaxInt64)
	idle := q.duration("idle")
	if p := q.problem(); p != nil {
		return p
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	view, err := View(r.Context(), s.cfg.Masks, cfg.Topics...)
	if err != nil {
		return err
	}
	ctx, cancel := s.sessionContext(r)
	defer cancel()
	defer context.AfterFunc(s.streams, cancel)()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})
	cs := &consumeStream{w: w, rc: rc, view: view, max: maxRecords, cancel: cancel, waiting: map[int64]chan int{}, acksDone: make(chan struct{})}
	if mode == AckClient {
		if err := rc.EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		// readAcks ends when the client ends its body, which it does once
		// it has read the end of the response.
		go cs.readAcks(r.Body)
	}
	headers := time.AfterFunc(headerDelay, func() { cs.mu.Lock(); cs.start(); cs.mu.Unlock() })
	defer headers.Stop()
	if idle > 0 {
		cs.idle = time.AfterFunc(idle, cancel)
		defer cs.idle.Stop()
		cs.idleFor = idle
	}

	h := cs.auto
	if mode == AckClient {
		h = cs.acked
	}
	err = s.broker.Consume(ctx, cfg, h)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	if err != nil {
		s.log.WarnContext(r.Context(), "api: consume ended", "group", group, "topics", cfg.Topics, "err", err)
	}
	return cs.finish(r, err)
}

// consumeTopics are the topics a consume request reads: every topic query
// parameter, each split at commas. The permission check and the consumer
// both use this list, so what is checked is what is read.
func consumeTopics(r *http.Request) []string {
	var topics []string
	for _, t := range r.URL.Query()["topic"] {
		for _, name := range strings.Split(t, ",") {
			if name = strings.TrimSpace(name); name != "" {
				topics = append(topics, name)
			}
		}
	}
	return topics
}

// consumeStream is the response side of one consume request.
type consumeStream struct {
	mu       sync.Mutex
	w        http.ResponseWriter
	rc       *http.ResponseController
	view     func(*stream.Record) *stream.Record // masking, per the caller's permissions
	started  bool
	writeErr error
	max      int64 // 0: no limit
	sent     int64
	cancel   context.CancelFunc
	idle     *time.Timer
	idleFor  time.Duration

	nextBatch int64
	waiting   map[int64]chan int
	acksDone  chan struct{}
}

var (
	errLimit      = errors.New("api: consume stream reached its record limit")
	errNotAcked   = errors.New("api: the client did not process the batch")
	errClientGone = errors.New("api: the client stopped acknowledging")
)

// start sends the response headers; mu must be held.
func (cs *consumeStream) start() {
	if cs.started {
		return
	}
	cs.started = true
	h := cs.w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	cs.w.WriteHeader(http.StatusOK)
	cs.writeErr = cs.rc.Flush()
}

// take reserves up to n records under the stream's limit and returns how
// many may be sent; mu must be held.
func (cs *consumeStream) take(n int) int {
	if cs.max > 0 && int64(n) > cs.max-cs.sent {
		n = int(cs.max - cs.sent)
	}
	cs.sent += int64(n)
	return n
}

// write encodes lines and flushes them; mu must be held.
func (cs *consumeStream) write(lines ...any) error {
	cs.start()
	if cs.writeErr != nil {
		return cs.writeErr
	}
	enc := json.NewEncoder(cs.w)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			cs.writeErr = err
			return err
		}
	}
	cs.writeErr = cs.rc.Flush()
	if cs.idle != nil {
		cs.idle.Reset(cs.idleFor)
	}
	return cs.writeErr
}

// afterBatch turns the records of a batch of n that were sent (k) and
// processed (p) into the handler's result, and ends the stream at its
// limit; mu must be held.
func (cs *consumeStream) afterBatch(k, p, n int) error {
	if cs.max > 0 && cs.sent >= cs.max {
		cs.cancel()
	}
	if p >= n {
		return nil
	}
	reason := errNotAcked
	if p == k {
		reason = errLimit // everything sent was processed; the limit cut the rest
	}
	if p <= 0 {
		return reason
	}
	return &stream.PartialError{N: p, Err: reason}
}

// auto is the handler of ack=auto: the batch is committed once written.
func (cs *consumeStream) auto(ctx context.Context, batch []*stream.Record) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	k := cs.take(len(batch))
	if k == 0 {
		return cs.afterBatch(0, 0, len(batch))
	}
	lines := make([]any, k)
	for i, r := range batch[:k] {
		lines[i] = NewRecord(cs.view(r), false)
	}
	if err := cs.write(lines...); err != nil {
		cs.cancel()
		return fmt.Errorf("api: write consume stream: %w", err)
	}
	return cs.afterBatch(k, k, len(batch))
}

// acked is the handler of ack=client: it sends the batch and waits for the
// client's acknowledgement.
func (cs *consumeStream) acked(ctx context.Context, batch []*stream.Record) error {
	cs.mu.Lock()
	k := cs.take(len(batch))
	if k == 0 {
		defer cs.mu.Unlock()
		return cs.afterBatch(0, 0, len(batch))
	}
	cs.nextBatch++
	id, ch := cs.nextBatch, make(chan int, 1)
	cs.waiting[id] = ch
	line := ConsumeBatch{Batch: id, Records: make([]Record, k)}
	for i, r := range batch[:k] {
		line.Records[i] = NewRecord(cs.view(r), false)
	}
	err := cs.write(line)
	cs.mu.Unlock()
	defer func() {
		cs.mu.Lock()
		delete(cs.waiting, id)
		cs.mu.Unlock()
	}()
	if err != nil {
		cs.cancel()
		return fmt.Errorf("api: write consume stream: %w", err)
	}
	acked := func(n int) error {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		return cs.afterBatch(k, min(n, k), len(batch))
	}
	select {
	case n := <-ch:
		return acked(n)
	case <-cs.acksDone:
		err = errClientGone
	case <-ctx.Done():
		err = ctx.Err()
	}
	// An ack that arrived together with the end counts.
	select {
	case n := <-ch:
		return acked(n)
	default:
		return err
	}
}

// readAcks reads the client's acknowledgements until the request body
// ends, which asks the stream to stop.
func (cs *consumeStream) readAcks(body io.Reader) {
	defer close(cs.acksDone)
	defer cs.cancel()
	dec := json.NewDecoder(body)
	for {
		var a Ack
		if err := dec.Decode(&a); err != nil {
			return
		}
		cs.mu.Lock()
		if ch, ok := cs.waiting[a.Batch]; ok {
			select {
			case ch <- a.Processed:
			default:
			}
		}
		cs.mu.Unlock()
	}
}

// finish ends the response after Consume returned err.
func (cs *consumeStream) finish(r *http.Request, err error) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if !cs.started {
		if err != nil {
			return err // answered with its own status by the caller
		}
		cs.start()
		return nil
	}
	if err != nil && cs.writeErr == nil {
		p := problemFor(err)
		p.Instance = r.URL.Path
		_ = cs.write(StreamError{Error: p})
	}
	return nil
}
