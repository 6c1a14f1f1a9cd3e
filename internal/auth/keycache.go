package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

// keyCache remembers recently verified API keys so that verification on a
// busy ingest path costs a SHA-256 and a map lookup, not a query. Entries
// are keyed by the SHA-256 of the whole presented key, so the cache holds
// no secret either, and live for ttl. Only successful verifications are
// cached: a wrong key always goes to the database.
type keyCache struct {
	ttl time.Duration
	max int

	mu sync.RWMutex
	// gen counts invalidations. A verification that read the database
	// before an invalidation must not cache what it read.
	gen uint64
	m   map[[32]byte]*cachedKey
}

type cachedKey struct {
	key   APIKey
	until time.Time
	// lastUsed is the last-used time written (or read) last, Unix ms; it
	// decides when the next write is due.
	lastUsed atomic.Int64
}

func newKeyCache(ttl time.Duration, size int) *keyCache {
	return &keyCache{ttl: ttl, max: size, m: make(map[[32]byte]*cachedKey)}
}

func (c *keyCache) enabled() bool { return c.ttl > 0 && c.max > 0 }

// get returns the live entry for h, or nil.
func (c *keyCache) get(h [32]byte, now time.Time) *cachedKey {
	if !c.enabled() {
		return nil
	}
	c.mu.RLock()
	e := c.m[h]
	c.mu.RUnlock()
	if e == nil || !now.Before(e.until) {
		return nil
	}
	return e
}

// generation returns the invalidation count, to pass to put.
func (c *keyCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put caches key under h unless an invalidation happened since gen was
// read. It returns the entry either way, for last-used bookkeeping.
func (c *keyCache) put(h [32]byte, key APIKey, now time.Time, gen uint64) *cachedKey {
	e := &cachedKey{key: key, until: now.Add(c.ttl)}
	e.lastUsed.Store(toMillis(key.LastUsedAt))
	if !c.enabled() {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return e
	}
	if len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[h] = e
	return e
}

// evict drops expired entries and, if that is not enough, an arbitrary
// eighth of the rest. c.mu is held.
func (c *keyCache) evict(now time.Time) {
	for h, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, h)
		}
	}
	for h := range c.m {
		if len(c.m) < c.max-c.max/8 {
			break
		}
		delete(c.m, h)
	}
}

func (c *keyCache) drop(h [32]byte) {
	c.mu.Lock()
	delete(c.m, h)
	c.mu.Unlock()
}

// invalidate drops the entries of one key (after a revoke or rotate).
func (c *keyCache) invalidate(id string) {
	c.dropWhere(func(k *APIKey) bool { return k.ID == id })
}

// invalidateOwner drops the entries of every key a user owns (after the
// user's roles or state changed).
func (c *keyCache) invalidateOwner(userID string) {
	c.dropWhere(func(k *APIKey) bool { return k.OwnerID == userID })
}

func (c *keyCache) dropWhere(match func(*APIKey) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.m {
		if match(&e.key) {
			delete(c.m, h)
		}
	}
}
