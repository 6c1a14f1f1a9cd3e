package embedded

import (
	"context"
	"fmt"
	"time"
)

// deleteChunk is the most records one retention transaction deletes, so that
// producers never wait long behind it.
const deleteChunk = 100000

// EnforceRetention deletes the records that the topics' retention allows to
// delete now and returns how many it deleted. A record may go when it is
// older than the topic's RetentionTime (more exactly, when it and every
// record before it are) or when its partition holds more than
// RetentionBytes without it; but never a record at or after the lowest
// committed offset of the groups registered for the topic. A registered
// group with no offset on a partition keeps all of it.
//
// When Config.HardCapBytes is set and the log still holds more, the oldest
// records of every partition, in proportion to its size, are deleted until
// it is under the cap,
// whether consumed or not; each such deletion is logged as a warning and
// counted in [Stats]. Deleted space is reused by later records; the database
// file does not shrink.
func (b *Broker) EnforceRetention(ctx context.Context) (int64, error) {
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	b.retentionMu.Lock()
	defer b.retentionMu.Unlock()
	var deleted int64
	now := time.Now()
	for _, t := range b.topicList() {
		if t.topic.RetentionTime == 0 && t.topic.RetentionBytes == 0 {
			continue
		}
		for _, p := range t.parts {
			cut, err := b.retentionCut(ctx, p, now)
			if err != nil {
				return deleted, fmt.Errorf("embedded: retention of topic %q partition %d: %w", t.topic.Name, p.index, err)
			}
			n, err := b.deleteBefore(ctx, p, min(cut, b.floor(p)))
			deleted += n
			if err != nil {
				return deleted, fmt.Errorf("embedded: retention of topic %q partition %d: %w", t.topic.Name, p.index, err)
			}
		}
	}
	n, err := b.enforceHardCap(ctx)
	deleted += n
	return deleted, err
}

func (b *Broker) topicList() []*topicState {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ts := make([]*topicState, 0, len(b.topics))
	for _, t := range b.topics {
		ts = append(ts, t)
	}
	return ts
}

// floor returns the lowest offset of p that a registered group still needs:
// the lowest committed offset among the groups registered for its topic, the
// start for a registered group with no offset, the end when none is
// registered.
func (b *Broker) floor(p *partState) int64 {
	floor := p.end.Load()
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, g := range b.groups {
		if !g.topics[p.t.id] {
			continue
		}
		off, ok := g.offsets[p]
		if !ok {
			return p.start.Load()
		}
		floor = min(floor, off)
	}
	return floor
}

// retentionCut returns the offset before which p's records exceed the
// topic's retention by time or by bytes.
func (b *Broker) retentionCut(ctx context.Context, p *partState, now time.Time) (int64, error) {
	start := p.start.Load()
	cut := start
	if rt := p.t.topic.RetentionTime; rt > 0 {
		off, err := b.offsetForTime(ctx, p, now.Add(-rt))
		if err != nil {
			return 0, err
		}
		cut = max(cut, off)
	}
	if rb := p.t.topic.RetentionBytes; rb > 0 {
		off, err := b.bytesCut(ctx, p, p.bytes.Load()-rb)
		if err != nil {
			return 0, err
		}
		cut = max(cut, off)
	}
	return cut, nil
}

// bytesCut returns the offset before which the oldest records of p add up to
// at least excess bytes.
func (b *Broker) bytesCut(ctx context.Context, p *partState, excess int64) (int64, error) {
	cut := p.start.Load()
	if excess <= 0 {
		return cut, nil
	}
	err := b.readers.with(ctx, func(c *dbConn) error {
		// Whole chunks first, by their length alone.
		rs, err := c.query(sqlChunkSizes, p.pid)
		if err != nil {
			return err
		}
		var sum int64
		var straddle int64 = -1
		for rs.next() {
			if n := rs.int(2); sum+n < excess {
				sum += n
				cut = rs.int(1) + 1
				continue
			}
			straddle = rs.int(0)
			break
		}
		if err := rs.close(); err != nil || straddle < 0 {
			return err
		}
		// Then record by record in the chunk where the excess is reached.
		rs, err = c.query(sqlChunkData, p.pid, straddle)
		if err != nil {
			return err
		}
		if rs.next() {
			cr := readChunk(straddle, rs.bytes(0))
			for sum < excess && !cr.done() {
				off, _, n, err := cr.next()
				if err != nil {
					rs.close()
					return err
				}
				sum += int64(n)
				cut = off + 1
			}
		}
		return rs.close()
	})
	return cut, err
}

// deleteBefore deletes p's records before cut, in transactions of at most
// deleteChunk records. Whole chunks are deleted; a chunk that straddles the
// cut is written again without its first records.
func (b *Broker) deleteBefore(ctx context.Context, p *partState, cut int64) (int64, error) {
	var deleted int64
	for {
		start := p.start.Load()
		if cut <= start || p.t.isGone() {
			return deleted, nil
		}
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		to := min(cut, start+deleteChunk)
		err := b.w.exclusive(func(c *dbConn) (func(), error) {
			if p.t.dropped {
				return nil, nil
			}
			freed, err := trimChunks(c, p, to)
			if err != nil {
				return nil, err
			}
			if _, err := c.exec(sqlMoveStart, to, p.pid); err != nil {
				return nil, err
			}
			return func() {
				p.wBytes -= freed
				p.bytes.Store(p.wBytes)
				p.start.Store(to)
			}, nil
		})
		if err != nil {
			return deleted, err
		}
		deleted += to - start
	}
}

// trimChunks deletes p's records before to and returns the bytes freed.
func trimChunks(c *dbConn, p *partState, to int64) (int64, error) {
	rs, err := c.query(sqlLastChunkBefore, p.pid, to)
	if err != nil {
		return 0, err
	}
	var base, last, maxTime int64
	var data []byte
	found := rs.next()
	if found {
		base, last, maxTime, data = rs.int(0), rs.int(1), rs.int(2), rs.bytes(3)
	}
	if err := rs.close(); err != nil {
		return 0, err
	}
	var freed int64
	below := to
	if found && last >= to {
		// The chunk straddles the cut: keep its records from to on.
		below = base
		cr := readChunk(base, data)
		skip := 0
		for cr.off < to {
			_, _, n, err := cr.next()
			if err != nil {
				return 0, fmt.Errorf("chunk at offset %d: %w", base, err)
			}
			skip += n
		}
		if _, err := c.exec(sqlDeleteChunk, p.pid, base); err != nil {
			return 0, err
		}
		// The rest keeps the chunk's format bytes.
		head := cr.head()
		kept := append(data[:head:head], data[head+skip:]...)
		if _, err := c.exec(sqlInsertChunk,
			p.pid, to, last, maxTime, len(kept), kept); err != nil {
			return 0, err
		}
		freed += int64(skip)
	}
	size, _, err := c.queryInt(sqlSizeBefore, p.pid, below)
	if err != nil {
		return 0, err
	}
	if _, err := c.exec(sqlDeleteBefore, p.pid, below); err != nil {
		return 0, err
	}
	return freed + size, nil
}

// enforceHardCap deletes the oldest records of every partition, in
// proportion to its size, until the log holds at most HardCapBytes.
func (b *Broker) enforceHardCap(ctx context.Context) (int64, error) {
	limit := b.cfg.HardCapBytes
	if limit <= 0 {
		return 0, nil
	}
	var parts []*partState
	var total int64
	for _, t := range b.topicList() {
		for _, p := range t.parts {
			parts = append(parts, p)
			total += p.bytes.Load()
		}
	}
	if total <= limit {
		return 0, nil
	}
	// Every partition gives up its oldest records in proportion to its size.
	excess := total - limit
	var deleted int64
	for _, p := range parts {
		size := p.bytes.Load()
		if size == 0 {
			continue
		}
		share := (size*excess + total - 1) / total
		cut, err := b.bytesCut(ctx, p, share)
		if err != nil {
			return deleted, fmt.Errorf("embedded: hard cap: %w", err)
		}
		start := p.start.Load()
		n, err := b.deleteBefore(ctx, p, cut)
		deleted += n
		if n > 0 {
			b.stats.forced.Add(n)
			b.cfg.Logger.Warn("embedded: hard size cap reached; deleted records whether or not groups consumed them",
				"topic", p.t.topic.Name, "partition", p.index, "from", start, "to", cut, "records", n,
				"hard_cap_bytes", limit, "log_bytes", total)
		}
		if err != nil {
			return deleted, fmt.Errorf("embedded: hard cap: %w", err)
		}
	}
	return deleted, nil
}

// purgeChunks is the most chunks of deleted topics one transaction deletes.
const purgeChunks = 64

func (b *Broker) kickPurge() {
	select {
	case b.purgeKick <- struct{}{}:
	default:
	}
}

// purge deletes the chunks of deleted topics in small transactions. It runs
// after DeleteTopic and once when the log opens, to finish what a crash
// interrupted.
func (b *Broker) purge(ctx context.Context) {
	defer b.background.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.purgeKick:
		}
		for ctx.Err() == nil {
			more, err := b.purgeStep()
			if err != nil {
				if ctx.Err() == nil {
					b.cfg.Logger.Error("embedded: freeing the records of deleted topics failed", "err", err)
				}
				break
			}
			if !more {
				break
			}
		}
	}
}

// purgeStep deletes up to purgeChunks chunks of one deleted partition, or
// forgets the partition when none is left; it reports whether there was
// anything to do.
func (b *Broker) purgeStep() (more bool, err error) {
	err = b.w.exclusive(func(c *dbConn) (func(), error) {
		pid, ok, err := c.queryInt(sqlNextDropped)
		if err != nil || !ok {
			return nil, err
		}
		more = true
		n, err := c.exec(sqlPurgeChunks, pid, purgeChunks)
		if err == nil && n == 0 {
			_, err = c.exec(sqlForgetDropped, pid)
		}
		return nil, err
	})
	return more, err
}

// retain runs retention every RetentionInterval until the broker closes.
func (b *Broker) retain(ctx context.Context) {
	defer b.background.Done()
	t := time.NewTicker(b.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := b.EnforceRetention(ctx); err != nil && ctx.Err() == nil {
			b.cfg.Logger.Error("embedded: retention failed", "err", err)
		}
	}
}
