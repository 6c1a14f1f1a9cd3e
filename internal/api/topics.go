package api

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	if err := s.broker.Ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "api: broker not ready", "err", err)
		return &Problem{Type: TypeUnavailable, Title: "Broker unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the broker does not answer: " + err.Error(), Code: "broker_unavailable"}
	}
	names := make([]string, 0, len(s.cfg.ReadyChecks))
	for name := range s.cfg.ReadyChecks {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.cfg.ReadyChecks[name](ctx); err != nil {
			s.log.WarnContext(r.Context(), "api: not ready", "component", name, "err", err)
			return Coded(&Problem{Type: TypeUnavailable, Title: "Not ready", Status: http.StatusServiceUnavailable,
				Detail: name + " does not answer: " + err.Error()}, "component_not_ready", name)
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) listTopics(w http.ResponseWriter, r *http.Request) error {
	if p := newQuery(r).problem(); p != nil {
		return p
	}
	topics, err := s.broker.ListTopics(r.Context())
	if err != nil {
		return err
	}
	out := TopicList{Topics: make([]Topic, len(topics))}
	for i, t := range topics {
		out.Topics[i] = NewTopic(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createTopic(w http.ResponseWriter, r *http.Request) error {
	var req CreateTopicRequest
	if p := decode(w, r, s.cfg.MaxBodyBytes, &req); p != nil {
		return p
	}
	t := stream.Topic{
		Name:           req.Name,
		Partitions:     s.cfg.DefaultPartitions,
		RetentionTime:  time.Duration(req.RetentionMS) * time.Millisecond,
		RetentionBytes: req.RetentionBytes,
	}
	if req.Partitions != nil {
		t.Partitions = *req.Partitions
	}
	var errs []invalid.Field
	if err := stream.ValidateTopicName(t.Name); err != nil {
		errs = append(errs, invalid.Field{Name: "name", Message: err.Error()})
	}
	if err := stream.ValidatePartitions(t.Partitions); err != nil {
		errs = append(errs, invalid.Field{Name: "partitions", Message: err.Error()})
	}
	if req.RetentionMS < 0 || req.RetentionMS > int64(time.Duration(1<<63-1)/time.Millisecond) {
		errs = append(errs, invalid.Field{Name: "retention_ms", Message: "retention must be 0 (keep forever) or a positive number of milliseconds"})
	}
	if req.RetentionBytes < 0 {
		errs = append(errs, invalid.Field{Name: "retention_bytes", Message: "retention bytes must be 0 (no limit) or positive"})
	}
	if len(errs) > 0 {
		return invalidFields("topic_invalid", errs)
	}
	if err := s.broker.CreateTopic(r.Context(), t); err != nil {
		return err
	}
	audit.Describe(r.Context(), "create topic %s with %d partitions", t.Name, t.Partitions)
	info, err := s.broker.DescribeTopic(r.Context(), t.Name)
	if err != nil {
		info = stream.TopicInfo{Topic: t}
	}
	w.Header().Set("Location", "/api/v1/topics/"+t.Name)
	writeJSON(w, http.StatusCreated, NewTopic(info))
	return nil
}

func (s *Server) describeTopic(w http.ResponseWriter, r *http.Request) error {
	name, err := topicParam(r)
	if err != nil {
		return err
	}
	if p := newQuery(r).problem(); p != nil {
		return p
	}
	info, err := s.broker.DescribeTopic(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewTopic(info))
	return nil
}

func (s *Server) deleteTopic(w http.ResponseWriter, r *http.Request) error {
	name, err := topicParam(r)
	if err != nil {
		return err
	}
	if err := s.broker.DeleteTopic(r.Context(), name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
