package relay

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/arus-platform/arus/internal/filter"
)

// datasetEntry is a dataset as ingest needs it: compiled once, cached for
// CacheTTL. missing remembers that there is no such dataset.
type datasetEntry struct {
	ds      Dataset
	keys    []filter.Path
	schema  *jsonschema.Schema
	missing bool
	at      time.Time
}

// dataset returns the cached dataset, loading it when missing or stale.
// It returns ErrNotFound for an unknown dataset.
func (r *Relay) dataset(ctx context.Context, name string) (*datasetEntry, error) {
	now := r.cfg.Now()
	r.mu.Lock()
	e := r.datasets[name]
	r.mu.Unlock()
	if e == nil || now.Sub(e.at) > r.cfg.CacheTTL {
		d, err := r.Dataset(ctx, name)
		switch {
		case errors.Is(err, ErrNotFound):
			e = &datasetEntry{missing: true, at: now}
		case err != nil:
			return nil, err
		default:
			e = &datasetEntry{ds: d, at: now}
			for _, f := range d.KeyFields {
				p, err := filter.ParsePath(f)
				if err != nil {
					return nil, err
				}
				e.keys = append(e.keys, p)
			}
			if len(d.Schema) > 0 {
				if e.schema, err = compileSchema(d.Schema); err != nil {
					return nil, err
				}
			}
		}
		r.mu.Lock()
		if len(r.datasets) > 10000 {
			clear(r.datasets)
		}
		r.datasets[name] = e
		r.mu.Unlock()
	}
	if e.missing {
		return nil, ErrNotFound
	}
	return e, nil
}

func (r *Relay) forgetDataset(name string) {
	r.mu.Lock()
	delete(r.datasets, name)
	r.mu.Unlock()
}

// appEntry is the application of an API key; app is nil for a key that
// belongs to no application.
type appEntry struct {
	app *Application
	at  time.Time
}

func (r *Relay) applicationOfKey(ctx context.Context, keyID string) (*Application, error) {
	now := r.cfg.Now()
	r.mu.Lock()
	e := r.apps[keyID]
	r.mu.Unlock()
	if e == nil || now.Sub(e.at) > r.cfg.CacheTTL {
		a, err := r.applicationByKey(ctx, keyID)
		switch {
		case errors.Is(err, ErrNotFound):
			e = &appEntry{at: now}
		case err != nil:
			return nil, err
		default:
			e = &appEntry{app: &a, at: now}
		}
		r.mu.Lock()
		if len(r.apps) > 10000 {
			clear(r.apps)
		}
		r.apps[keyID] = e
		r.mu.Unlock()
	}
	return e.app, nil
}

// bucket is a token bucket: rate tokens per second up to burst.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

// take takes n tokens from the application's bucket, or says how long to
// wait until they would be there.
func (r *Relay) take(a *Application, n int) (ok bool, wait time.Duration) {
	if a == nil || a.RateLimit <= 0 {
		return true, 0
	}
	now := r.cfg.Now()
	burst := float64(max(a.Burst, 1))
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buckets[a.ID]
	if b == nil || b.rate != a.RateLimit || b.burst != burst {
		b = &bucket{rate: a.RateLimit, burst: burst, tokens: burst, last: now}
		r.buckets[a.ID] = b
	}
	return b.take(now, n)
}

// take takes n tokens, or says how long to wait until they would be there.
func (b *bucket) take(now time.Time, n int) (ok bool, wait time.Duration) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(b.burst, b.tokens+el*b.rate)
		b.last = now
	}
	need := float64(n)
	if b.tokens >= need {
		b.tokens -= need
		return true, 0
	}
	if need > b.burst {
		// Never fits: wait as for a full bucket, the client must split.
		need = b.burst
	}
	return false, time.Duration((need - b.tokens) / b.rate * float64(time.Second))
}
