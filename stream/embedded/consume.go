package embedded

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/arus-platform/arus/stream"
)

// Consume joins cfg.Group as one member and calls h with batches of up to
// cfg.MaxBatch records of the partitions it is assigned, until ctx is done
// or the broker closes.
//
// Within a group each partition is handled by one member at a time, in
// offset order; when members join or leave, a partition moves only after its
// previous owner finished its handler call and committed. The group's
// offsets are committed durably after h returns nil (all of the batch) or a
// [*stream.PartialError] (its first N records); after any other error the
// partition waits cfg.RetryBackoff and the uncommitted records are delivered
// again. Each partition has its own worker that fetches the next batch only
// after the previous one was handled, so a slow handler slows fetching and
// memory stays bounded. A partition with no new records waits for the next
// append without polling.
//
// The group is registered durably for its topics when it first consumes, so
// that retention keeps what it has not committed. A partition with no
// committed offset starts at its start (StartEarliest) or end (StartLatest),
// and that position is committed at once.
//
// When ctx is cancelled, Consume stops fetching, waits for running handlers,
// commits what they finished, leaves the group and returns nil. When the
// broker closes, it does the same and returns ErrClosed.
func (b *Broker) Consume(ctx context.Context, cfg stream.ConsumerConfig, h stream.Handler) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("embedded: consume: %w", err)
	}
	if h == nil {
		return stream.Invalidf("embedded: consume group %q: handler is nil", cfg.Group)
	}
	if !b.enter() {
		return fmt.Errorf("embedded: consume group %q: %w", cfg.Group, stream.ErrClosed)
	}
	defer b.consumers.Done()
	topics := make([]*topicState, 0, len(cfg.Topics))
	for _, name := range cfg.Topics {
		t, err := b.topic(ctx, name, !b.cfg.Strict)
		if err != nil {
			return fmt.Errorf("embedded: consume group %q: %w", cfg.Group, err)
		}
		topics = append(topics, t)
	}
	if err := b.register(cfg.Group, topics); err != nil {
		if errors.Is(err, stream.ErrClosed) {
			return fmt.Errorf("embedded: consume group %q: %w", cfg.Group, stream.ErrClosed)
		}
		return fmt.Errorf("embedded: consume group %q: register: %w", cfg.Group, err)
	}

	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m, err := b.coord.join(cfg, h)
	if err != nil {
		return fmt.Errorf("embedded: consume group %q: %w", cfg.Group, err)
	}
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-b.closing:
			err = fmt.Errorf("embedded: consume group %q: %w", cfg.Group, stream.ErrClosed)
			running = false
		case <-m.wake:
			b.coord.run(mctx, m)
		}
	}
	cancel()
	b.coord.leave(m)
	// Workers assigned before the member left see the ended context and
	// stop at once.
	b.coord.run(mctx, m)
	m.wg.Wait()
	return err
}

// worker handles one partition for one member.
type worker struct {
	b    *Broker
	m    *member
	p    *partState
	quit chan struct{}
	// pending is the outcome of the last offset commit, nil when none is in
	// flight.
	pending chan error
}

// stop asks the worker to stop after its current handler call.
func (w *worker) stop() {
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
}

func (w *worker) stopped(ctx context.Context) bool {
	select {
	case <-w.quit:
		return true
	case <-ctx.Done():
		return true
	case <-w.p.t.gone:
		return true
	default:
		return false
	}
}

// sleep waits for d or until the worker must stop; it reports whether the
// worker may go on.
func (w *worker) sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-timer:
	case <-wake:
	case <-w.quit:
		return false
	case <-ctx.Done():
		return false
	case <-w.p.t.gone:
		return false
	}
	return true
}

func (w *worker) log() []any {
	return []any{"group", w.m.g.name, "member", w.m.id, "topic", w.p.t.topic.Name, "partition", w.p.index}
}

func (w *worker) run(ctx context.Context) {
	defer w.b.coord.workerDone(w)
	defer w.wait()
	cfg := &w.m.cfg
	pos, err := w.position()
	for err != nil {
		if errors.Is(err, stream.ErrClosed) || !w.sleep(ctx, cfg.RetryBackoff, nil) {
			return
		}
		pos, err = w.position()
	}
	for !w.stopped(ctx) {
		wake := w.p.waitChan()
		if pos >= w.p.end.Load() {
			w.sleep(ctx, 0, wake)
			continue
		}
		batch, err := w.b.fetch(ctx, w.p, pos, cfg.MaxBatch)
		if err != nil {
			if !w.stopped(ctx) {
				w.b.cfg.Logger.Error("embedded: fetch failed", append(w.log(), "offset", pos, "err", err)...)
				w.sleep(ctx, cfg.RetryBackoff, nil)
			}
			continue
		}
		if len(batch) == 0 {
			w.sleep(ctx, 0, wake)
			continue
		}
		herr := w.m.h(ctx, batch)
		if n := stream.Processed(herr, len(batch)); n > 0 {
			pos = batch[n-1].Offset + 1
			w.commit(pos)
		}
		if herr != nil {
			if !w.stopped(ctx) {
				w.b.cfg.Logger.Warn("embedded: handler failed; records will be delivered again",
					append(w.log(), "offset", pos, "err", herr)...)
			}
			w.sleep(ctx, cfg.RetryBackoff, nil)
		}
	}
}

// position returns where the worker starts: the group's committed offset, or
// for a partition the group has none for, the start or the end as StartAt
// says, committed at once so that other members start there too.
func (w *worker) position() (int64, error) {
	w.b.mu.RLock()
	off, ok := w.b.groups[w.m.g.name].offset(w.p)
	w.b.mu.RUnlock()
	if ok {
		return off, nil
	}
	// A topic created after the member joined (deleted and created again,
	// say) is registered here.
	if err := w.b.register(w.m.g.name, []*topicState{w.p.t}); err != nil {
		return 0, err
	}
	off = w.p.start.Load()
	if w.m.cfg.StartAt == stream.StartLatest {
		off = w.p.end.Load()
	}
	err := w.b.w.submit(&op{kind: opCommit, group: w.m.g.name, commits: []offsetCommit{{p: w.p, off: off}}})
	if err != nil {
		return 0, err
	}
	return off, nil
}

func (g *groupState) offset(p *partState) (int64, bool) {
	if g == nil {
		return 0, false
	}
	off, ok := g.offsets[p]
	return off, ok
}

// commit commits off durably without waiting: the next commit, or the
// worker's exit, waits for it. At most one commit is in flight.
func (w *worker) commit(off int64) {
	w.wait()
	o := &op{kind: opCommit, group: w.m.g.name, commits: []offsetCommit{{p: w.p, off: off}}}
	if err := w.b.w.enqueue(o); err != nil {
		w.b.cfg.Logger.Error("embedded: commit failed", append(w.log(), "offset", off, "err", err)...)
		return
	}
	w.pending = o.done
}

// wait waits for the commit in flight.
func (w *worker) wait() {
	if w.pending == nil {
		return
	}
	if err := <-w.pending; err != nil {
		w.b.cfg.Logger.Error("embedded: commit failed", append(w.log(), "err", err)...)
	}
	w.pending = nil
}
