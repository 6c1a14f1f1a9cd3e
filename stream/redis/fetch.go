package redis

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/arus-platform/arus/stream"
)

const (
	// fetchBytes bounds the bytes of one partition's fetch: a read asks for
	// at most this many bytes of records of a partition (by their running
	// average size) and at most MaxBatch records.
	fetchBytes = 4 << 20
	// fetchTotalBytes bounds the bytes of one read over all partitions.
	fetchTotalBytes = 16 << 20
	// blockFor bounds one blocking read; the fetcher is woken earlier
	// (CLIENT UNBLOCK) when its partitions change.
	blockFor = 2 * time.Second
)

// fetcher reads new records for every partition a Consume call holds with
// one XREADGROUP BLOCK on a dedicated connection, and hands them to the
// partitions' workers. It leaves out partitions whose queue is full, so a
// slow handler slows fetching.
//
// The dedicated connection is not taken from the broker's pool: a blocking
// read holds its connection for up to blockFor, and pooled connections held
// that way by many Consume calls would leave none for the heartbeats, lease
// renewals and commits that keep the members alive. The pool serves only
// short commands, so any number of Consume calls share it.
type fetcher struct {
	c *consumer
	// client has a pool of one connection: the fetcher's own.
	client *goredis.Client

	mu      sync.Mutex
	workers map[string]*worker // by stream key

	wakeCh   chan struct{}
	stopCh   chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	unblocks sync.WaitGroup // running unblock calls
	inflight atomic.Uint64  // sequence number of the blocking read in flight, 0 for none
	connID   atomic.Int64
	avgSize  atomic.Int64 // running average record size in bytes
}

func newFetcher(c *consumer) *fetcher {
	opts := *c.b.opts
	opts.PoolSize = 1
	opts.MinIdleConns = 0
	opts.MaxIdleConns = 1
	// The blocking read waits up to blockFor on the server.
	opts.ReadTimeout = blockFor + 10*time.Second
	f := &fetcher{
		c:       c,
		client:  goredis.NewClient(&opts),
		workers: make(map[string]*worker),
		wakeCh:  make(chan struct{}, 1),
		stopCh:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	f.avgSize.Store(16 << 10) // until records are seen: 256 per read
	return f
}

func (f *fetcher) add(w *worker) {
	f.mu.Lock()
	f.workers[w.key] = w
	f.mu.Unlock()
	f.wake()
}

func (f *fetcher) remove(w *worker) {
	f.mu.Lock()
	if f.workers[w.key] == w {
		delete(f.workers, w.key)
	}
	f.mu.Unlock()
}

func (f *fetcher) stop() {
	f.stopOnce.Do(func() { close(f.stopCh) })
	f.wake()
	<-f.done
	f.unblocks.Wait()
	_ = f.client.Close()
}

// connect opens the fetcher's connection and learns its client id, which
// CLIENT UNBLOCK names.
func (f *fetcher) connect(ctx context.Context) (*goredis.Conn, error) {
	conn := f.client.Conn()
	id, err := conn.ClientID(ctx).Result()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	f.connID.Store(id)
	return conn, nil
}

// wake makes the fetcher look at its partitions again, interrupting a
// blocking read in flight.
func (f *fetcher) wake() {
	select {
	case f.wakeCh <- struct{}{}:
	default:
	}
	if seq := f.inflight.Load(); seq != 0 {
		f.unblocks.Add(1)
		go func() {
			defer f.unblocks.Done()
			f.unblock(seq)
		}()
	}
}

// unblock interrupts the blocking read seq with CLIENT UNBLOCK, retrying
// briefly in case the read has not reached the server yet. A read that
// returns data on its own needs no interruption.
func (f *fetcher) unblock(seq uint64) {
	ctx := context.Background()
	for range 50 {
		time.Sleep(2 * time.Millisecond)
		if f.inflight.Load() != seq {
			return
		}
		n, err := f.c.b.client.ClientUnblock(ctx, f.connID.Load()).Result()
		if err != nil || n == 1 {
			return
		}
	}
}

// count is how many records one read asks for from each of n partitions:
// at most MaxBatch, about fetchBytes per partition and fetchTotalBytes in
// all, by the running average record size, and at least one.
func (f *fetcher) count(n int) int {
	avg := max(f.avgSize.Load(), 1)
	c := min(fetchBytes/avg, fetchTotalBytes/(avg*int64(max(n, 1))), int64(f.c.cfg.MaxBatch))
	return int(max(c, 1))
}

// run fetches until stopped; conn is the connection opened by connect, or
// nil to open one.
func (f *fetcher) run(conn *goredis.Conn) {
	defer close(f.done)
	ctx := context.Background()
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	var seq uint64
	failures := 0
	for {
		if f.stopped() {
			return
		}
		select {
		case <-f.wakeCh:
		default:
		}
		streams := f.ready()
		if len(streams) == 0 {
			select {
			case <-f.stopCh:
				return
			case <-f.wakeCh:
			}
			continue
		}
		if conn == nil {
			var err error
			if conn, err = f.connect(ctx); err != nil {
				failures++
				f.backoff(failures, err)
				continue
			}
		}
		seq++
		f.inflight.Store(seq)
		if len(f.wakeCh) > 0 || f.stopped() {
			f.inflight.Store(0)
			continue
		}
		res, err := conn.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group:    f.c.cfg.Group,
			Consumer: f.c.instance,
			Streams:  streams,
			Count:    int64(f.count(len(streams) / 2)),
			Block:    blockFor,
			// The committed offsets are the truth and a new owner reads
			// again by range from them, so entries need no place in the
			// group's pending list: reading them there and acknowledging
			// them cost Redis more than the rest of consuming them.
			NoAck: true,
		}).Result()
		f.inflight.Store(0)
		switch {
		case err == nil:
			failures = 0
			f.deliver(res)
		case errors.Is(err, goredis.Nil):
			failures = 0
		case strings.HasPrefix(err.Error(), "NOGROUP"):
			// A partition's stream or Redis group went away (topic deleted,
			// group reset): its worker stops and the lease is taken again.
			if !f.dropMissing(err.Error()) {
				failures++
				f.backoff(failures, err)
			}
		default:
			_ = conn.Close()
			conn = nil
			failures++
			f.backoff(failures, err)
		}
	}
}

func (f *fetcher) stopped() bool {
	select {
	case <-f.stopCh:
		return true
	default:
		return false
	}
}

// ready returns the XREADGROUP STREAMS arguments for the partitions whose
// queue has room.
func (f *fetcher) ready() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for k, w := range f.workers {
		w.throttled.Store(true)
		if len(w.ch) < cap(w.ch) && !w.stopping() {
			w.throttled.Store(false)
			keys = append(keys, k)
		}
	}
	n := len(keys)
	for range n {
		keys = append(keys, ">")
	}
	return keys
}

func (f *fetcher) deliver(res []goredis.XStream) {
	for _, s := range res {
		f.mu.Lock()
		w := f.workers[s.Stream]
		f.mu.Unlock()
		if w == nil || len(s.Messages) == 0 {
			continue // the partition moved on; its entries stay pending for the next owner
		}
		// The worker decodes the entries, so that the next read goes out
		// at once.
		select {
		case w.ch <- s.Messages:
		case <-w.stopCh:
		case <-f.stopCh:
		}
	}
}

// decode turns entries into records, skipping (and logging) entries that
// were not written by Arus, and updates the average record size.
func (f *fetcher) decode(x tp, msgs []goredis.XMessage) []*stream.Record {
	recs, _ := decodeMessages(x.topic, x.partition, msgs, func(id string, err error) {
		f.c.log.Error("redis: skipping an entry arus cannot read", "topic", x.topic, "partition", x.partition, "id", id, "err", err)
	})
	if len(recs) > 0 {
		size := 0
		for _, r := range recs {
			size += r.Size()
		}
		avg := f.avgSize.Load()
		f.avgSize.Store((avg + int64(size/len(recs))) / 2)
	}
	return recs
}

// dropMissing stops the worker of the stream a NOGROUP error names and
// reports whether there was one.
func (f *fetcher) dropMissing(msg string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	found := false
	for k, w := range f.workers {
		if strings.Contains(msg, "'"+k+"'") {
			delete(f.workers, k)
			w.lose()
			found = true
		}
	}
	return found
}

func (f *fetcher) backoff(n int, err error) {
	if n == 1 || n%50 == 0 {
		f.c.log.Warn("redis: fetching records failed", "attempt", n, "err", err)
	}
	t := time.NewTimer(min(time.Duration(n)*100*time.Millisecond, 2*time.Second))
	defer t.Stop()
	select {
	case <-t.C:
	case <-f.stopCh:
	}
}
