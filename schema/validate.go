package schema

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Source is where a [Validator] finds schema versions: a [*Registry] in
// the same process, or a [*Client] of a server's registry.
type Source interface {
	// Version returns a live version of subject, or the latest for
	// [Latest], failing with ErrNotFound when there is none.
	Version(ctx context.Context, subject string, version int) (Version, error)
}

// ValidatorConfig configures a [Validator].
type ValidatorConfig struct {
	// LatestTTL is how long the validator keeps using what the source
	// said a subject's latest (or a pinned) version was, or that there was
	// none, before asking again: a version registered or deleted meanwhile
	// is noticed within LatestTTL. Default 30s; negative asks every time.
	LatestTTL time.Duration
	// Metrics counts validations and failures; nil counts nothing.
	Metrics *Metrics
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Validate checks the configuration and fills in defaults.
func (c *ValidatorConfig) Validate() error {
	if c.LatestTTL == 0 {
		c.LatestTTL = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Validator validates JSON values against registered schema versions. It
// compiles each version once and keeps it, since versions never change,
// and asks its source which version is the latest at most once per
// LatestTTL. It is safe for concurrent use.
type Validator struct {
	src Source
	cfg ValidatorConfig

	mu   sync.Mutex
	byID map[int64]*compiled
	// found is what the source answered for a subject and version (or
	// Latest), and when.
	found map[subjectVersion]foundEntry
}

type subjectVersion struct {
	subject string
	version int
}

// compiled is a version (without its document) and its compiled schema.
type compiled struct {
	v   Version
	sch *jsonschema.Schema
}

type foundEntry struct {
	c   *compiled
	err error // ErrNotFound, remembered like a version
	at  time.Time
}

// NewValidator returns a validator over src.
func NewValidator(src Source, cfg ValidatorConfig) (*Validator, error) {
	if src == nil {
		return nil, errors.New("schema: validator: no source")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Validator{src: src, cfg: cfg, byID: map[int64]*compiled{}, found: map[subjectVersion]foundEntry{}}, nil
}

// Validate checks value, one JSON document, against a version of subject
// ([Latest] for the latest) and returns the version it used, without its
// document. A value that does not match fails with a [*ValidationError]
// naming each failing place by JSON Pointer ("/items/2/price: must be >=
// 0"); a subject without such a version fails with [ErrNotFound].
func (v *Validator) Validate(ctx context.Context, subject string, version int, value []byte) (Version, error) {
	c, err := v.lookup(ctx, subject, version)
	if err != nil {
		return Version{}, err
	}
	if errs := check(c.sch, value); len(errs) > 0 {
		v.cfg.Metrics.validated(subject, false)
		return c.v, &ValidationError{Subject: c.v.Subject, Version: c.v.Version, ID: c.v.ID, Errors: errs}
	}
	v.cfg.Metrics.validated(subject, true)
	return c.v, nil
}

// check validates one JSON document against sch.
func check(sch *jsonschema.Schema, value []byte) []FieldError {
	if len(bytes.TrimSpace(value)) == 0 {
		return []FieldError{{Message: "is empty; a JSON document is required"}}
	}
	doc, err := parseJSON(value)
	if err != nil {
		return []FieldError{{Message: "is " + err.Error()}}
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fieldErrors(ve)
		}
		return []FieldError{{Message: err.Error()}}
	}
	return nil
}

// lookup finds and compiles a version, from the cache when it can.
func (v *Validator) lookup(ctx context.Context, subject string, version int) (*compiled, error) {
	now := v.cfg.Now()
	key := subjectVersion{subject, version}
	v.mu.Lock()
	e, ok := v.found[key]
	v.mu.Unlock()
	if ok && now.Sub(e.at) < v.cfg.LatestTTL {
		return e.c, e.err
	}
	got, err := v.src.Version(ctx, subject, version)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			v.mu.Lock()
			v.found[key] = foundEntry{err: err, at: now}
			v.mu.Unlock()
		}
		return nil, err
	}
	v.mu.Lock()
	c, ok := v.byID[got.ID]
	v.mu.Unlock()
	if !ok {
		sch, err := compile(got.Schema)
		if err != nil {
			return nil, fmt.Errorf("schema: compile %s version %d (id %d): %w", got.Subject, got.Version, got.ID, err)
		}
		got.Schema = nil
		c = &compiled{v: got, sch: sch}
	}
	v.mu.Lock()
	v.byID[got.ID] = c
	v.found[key] = foundEntry{c: c, at: now}
	v.mu.Unlock()
	return c, nil
}
