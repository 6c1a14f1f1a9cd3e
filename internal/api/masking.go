package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/mask"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

// MaskPolicy is the body of PUT /api/v1/masking/{topic}.
type MaskPolicy struct {
	Fields []mask.Field `json:"fields"`
}

// listMasks returns every topic's masking policy.
func (s *Server) listMasks(w http.ResponseWriter, r *http.Request) error {
	list, err := s.cfg.Masks.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": list})
	return nil
}

// getMask returns a topic's masking policy.
func (s *Server) getMask(w http.ResponseWriter, r *http.Request) error {
	topic, err := topicParam(r)
	if err != nil {
		return err
	}
	p, err := s.cfg.Masks.Get(r.Context(), topic)
	if errors.Is(err, mask.ErrNotFound) {
		return Coded(notFound(fmt.Sprintf("topic %s has no masking policy", topic)), "masking_unknown", topic)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// putMask sets a topic's masking policy. The topic need not exist yet, so
// that a policy can be in place before the first record.
func (s *Server) putMask(w http.ResponseWriter, r *http.Request) error {
	topic, err := topicParam(r)
	if err != nil {
		return err
	}
	var body MaskPolicy
	if p := decode(w, r, s.cfg.MaxBodyBytes, &body); p != nil {
		return p
	}
	stored, err := s.cfg.Masks.Put(r.Context(), mask.Policy{Topic: topic, Fields: body.Fields}, auth.FromContext(r.Context()).Name())
	var bad *invalid.Fields
	if errors.As(err, &bad) {
		return invalidFields("masking_invalid", bad.List)
	}
	if err != nil {
		return err
	}
	audit.Describe(r.Context(), "set the masking of topic %s to %d field(s)", topic, len(body.Fields))
	writeJSON(w, http.StatusOK, stored)
	return nil
}

// deleteMask removes a topic's masking policy: its records show whole.
func (s *Server) deleteMask(w http.ResponseWriter, r *http.Request) error {
	topic, err := topicParam(r)
	if err != nil {
		return err
	}
	err = s.cfg.Masks.Delete(r.Context(), topic)
	if errors.Is(err, mask.ErrNotFound) {
		return Coded(notFound(fmt.Sprintf("topic %s has no masking policy", topic)), "masking_unknown", topic)
	}
	if err != nil {
		return err
	}
	audit.Describe(r.Context(), "remove the masking of topic %s", topic)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Viewer shows records to the principal of one request: each masked by
// the policy of the topic it is shown as, unless the principal holds
// records.unmask on that topic. It reads each topic's policy once.
type Viewer struct {
	ctx    context.Context
	masks  *mask.Store
	views  map[string]func(*stream.Record) *stream.Record
	masked map[string]bool
}

// NewViewer returns the viewer of the request whose context is ctx. A nil
// store masks nothing.
func NewViewer(ctx context.Context, masks *mask.Store) *Viewer {
	return &Viewer{ctx: ctx, masks: masks, views: map[string]func(*stream.Record) *stream.Record{}, masked: map[string]bool{}}
}

// Masked reports whether the principal sees the records of topic masked:
// the topic has a policy and the principal may not unmask it. What is
// derived from such records (the rows the relay sent) is hidden from them.
func (v *Viewer) Masked(topic string) (bool, error) {
	if v.masks == nil {
		return false, nil
	}
	if m, ok := v.masked[topic]; ok {
		return m, nil
	}
	m := false
	if !auth.FromContext(v.ctx).Can(auth.PermRecordsUnmask, topic) {
		_, err := v.masks.Get(v.ctx, topic)
		switch {
		case err == nil:
			m = true
		case !errors.Is(err, mask.ErrNotFound):
			return false, err
		}
	}
	v.masked[topic] = m
	return m, nil
}

// As returns r as the principal may see it under topic's policy (a dead
// letter is shown under the policy of the topic it was consumed from).
func (v *Viewer) As(topic string, r *stream.Record) (*stream.Record, error) {
	if v.masks == nil || r == nil {
		return r, nil
	}
	view, err := v.view(topic)
	if err != nil {
		return nil, err
	}
	return view(r), nil
}

// view returns the view of topic's records, reading its policy once.
func (v *Viewer) view(topic string) (func(*stream.Record) *stream.Record, error) {
	if view, ok := v.views[topic]; ok {
		return view, nil
	}
	view, err := v.masks.View(v.ctx, topic, auth.FromContext(v.ctx).Can(auth.PermRecordsUnmask, topic))
	if err != nil {
		return nil, err
	}
	v.views[topic] = view
	return view, nil
}

// View returns what the request's principal sees of records of the given
// topics (see Viewer), with the policies read here, once.
func View(ctx context.Context, masks *mask.Store, topics ...string) (func(*stream.Record) *stream.Record, error) {
	v := NewViewer(ctx, masks)
	for _, t := range topics {
		if _, err := v.view(t); err != nil {
			return nil, err
		}
	}
	return func(r *stream.Record) *stream.Record {
		if view, ok := v.views[r.Topic]; ok {
			return view(r)
		}
		return r
	}, nil
}

// Masks returns the masking policies the server applies (nil: none).
func (s *Server) Masks() *mask.Store { return s.cfg.Masks }
