package api

import (
	"fmt"
	"net/http"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/invalid"
	"github.com/arus-platform/arus/stream"
)

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	if p := newQuery(r).problem(); p != nil {
		return p
	}
	groups, err := s.broker.ListGroups(r.Context())
	if err != nil {
		return err
	}
	out := GroupList{Groups: make([]Group, len(groups))}
	for i, g := range groups {
		out.Groups[i] = NewGroup(g)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) describeGroup(w http.ResponseWriter, r *http.Request) error {
	group, err := groupParam(r)
	if err != nil {
		return err
	}
	if p := newQuery(r).problem(); p != nil {
		return p
	}
	g, err := s.broker.DescribeGroup(r.Context(), group)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewGroup(g))
	return nil
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	group, err := groupParam(r)
	if err != nil {
		return err
	}
	if err := s.broker.DeleteGroup(r.Context(), group); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resetGroup moves a group's committed offsets on one topic to the
// earliest or latest record, a time, or an exact offset. The group must
// have no live members (409 otherwise).
func (s *Server) resetGroup(w http.ResponseWriter, r *http.Request) error {
	group, err := groupParam(r)
	if err != nil {
		return err
	}
	var req ResetRequest
	if p := decode(w, r, s.cfg.MaxBodyBytes, &req); p != nil {
		return p
	}
	var errs []invalid.Field
	fail := func(field, format string, args ...any) {
		errs = append(errs, invalid.Field{Name: field, Message: fmt.Sprintf(format, args...)})
	}
	if err := stream.ValidateTopicName(req.Topic); err != nil {
		fail("topic", "%v", err)
	}
	reset := stream.Reset{Partitions: req.Partitions}
	switch req.To {
	case "earliest":
		reset.To = stream.ResetEarliest
	case "latest":
		reset.To = stream.ResetLatest
	case "time":
		reset.To = stream.ResetTime
		if req.Time == "" {
			fail("time", "required when to is \"time\": an RFC 3339 time such as 2025-01-31T15:04:05Z")
		} else if reset.Time, err = parseTime(req.Time); err != nil {
			fail("time", "%v", err)
		}
	case "offset":
		reset.To = stream.ResetOffset
		switch {
		case req.Offset == nil:
			fail("offset", "required when to is \"offset\"")
		case *req.Offset < 0:
			fail("offset", "offset %d is negative; offsets are 0 or more", *req.Offset)
		default:
			reset.Offset = *req.Offset
		}
	case "":
		fail("to", "required: one of \"earliest\", \"latest\", \"time\" or \"offset\"")
	default:
		fail("to", "%q is not a reset target; use \"earliest\", \"latest\", \"time\" or \"offset\"", req.To)
	}
	if req.To != "time" && req.Time != "" {
		fail("time", "only used when to is \"time\"")
	}
	if req.To != "offset" && req.Offset != nil {
		fail("offset", "only used when to is \"offset\"")
	}
	for i, p := range req.Partitions {
		if p < 0 {
			fail(fmt.Sprintf("partitions[%d]", i), "partition %d is negative; partitions are numbered from 0", p)
		}
	}
	if len(errs) > 0 {
		return invalidFields("reset_invalid", errs)
	}
	offsets, err := s.broker.ResetOffsets(r.Context(), group, req.Topic, reset)
	if err != nil {
		return err
	}
	audit.Describe(r.Context(), "reset group %s on %s to %s", group, req.Topic, reset)
	writeJSON(w, http.StatusOK, ResetResponse{Group: group, Topic: req.Topic, Offsets: NewGroupOffsets(offsets)})
	return nil
}
