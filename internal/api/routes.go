package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/arus-platform/arus/internal/auth"
)

// Register adds every route of the API to mux. Each /api/v1 route requires
// the permission it names (see auth.Permission); an API key's scope may be
// narrowed to the resource the route's path names (records.produce:orders
// for /api/v1/topics/orders/records, groups.reset:billing for
// /api/v1/groups/billing/reset; see authorize). /healthz and
// /readyz need no credentials. Any other path under /api/v1/ answers a 404
// or 405 problem. docs/api.md describes every route.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("GET /healthz", http.HandlerFunc(s.healthz))
	mux.Handle("GET /readyz", s.handle("", s.readyz))

	mux.Handle("GET /api/v1/topics", s.handle(auth.PermTopicsRead, s.listTopics))
	// A new topic is named in the body, so a scope narrowed to it
	// (topics.write:orders) may create it.
	mux.Handle("POST /api/v1/topics", s.handleNeeds([]need{{perm: auth.PermTopicsWrite,
		of: bodyResource(s.cfg.MaxBodyBytes, "topic", func(req *CreateTopicRequest) string { return req.Name })}}, s.createTopic))
	mux.Handle("GET /api/v1/topics/{topic}", s.handle(auth.PermTopicsRead, s.describeTopic))
	mux.Handle("DELETE /api/v1/topics/{topic}", s.handle(auth.PermTopicsWrite, s.deleteTopic))
	mux.Handle("POST /api/v1/topics/{topic}/records", s.handle(auth.PermRecordsProduce, s.produce))
	mux.Handle("GET /api/v1/topics/{topic}/partitions/{partition}/records", s.handle(auth.PermRecordsRead, s.read))
	mux.Handle("GET /api/v1/topics/{topic}/partitions/{partition}/offset", s.handle(auth.PermRecordsRead, s.offsetForTime))

	mux.Handle("GET /api/v1/groups", s.handle(auth.PermGroupsRead, s.listGroups))
	mux.Handle("GET /api/v1/groups/{group}", s.handle(auth.PermGroupsRead, s.describeGroup))
	mux.Handle("DELETE /api/v1/groups/{group}", s.handle(auth.PermGroupsReset, s.deleteGroup))
	mux.Handle("POST /api/v1/groups/{group}/reset", s.handle(auth.PermGroupsReset, s.resetGroup))
	// Consuming in a group moves the group's offsets, so it needs both:
	// groups.reset on the group, records.read on every topic it reads.
	mux.Handle("POST /api/v1/groups/{group}/consume", s.handleNeeds([]need{
		{perm: auth.PermGroupsReset},
		{perm: auth.PermRecordsRead, of: func(r *http.Request) (string, []string) { return "topic", consumeTopics(r) }},
	}, s.consume))

	if s.cfg.Masks != nil {
		mux.Handle("GET /api/v1/masking", s.handle(auth.PermTopicsRead, s.listMasks))
		mux.Handle("GET /api/v1/masking/{topic}", s.handle(auth.PermTopicsRead, s.getMask))
		mux.Handle("PUT /api/v1/masking/{topic}", s.handle(auth.PermMaskingWrite, s.putMask))
		mux.Handle("DELETE /api/v1/masking/{topic}", s.handle(auth.PermMaskingWrite, s.deleteMask))
	}

	mux.Handle("/api/v1/", s.handle("", func(w http.ResponseWriter, r *http.Request) error {
		return noRoute(mux, w, r)
	}))
}

// noRoute answers a request no route matched: 405 with Allow when the path
// exists for other methods, 404 otherwise.
func noRoute(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/api/v1/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return Coded(&Problem{Type: TypeMethodNotAllowed, Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
			Detail: fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))},
			"method_not_allowed", r.Method, r.URL.Path, strings.Join(allow, " or "))
	}
	return Coded(notFound(fmt.Sprintf("no API route for %s %s", r.Method, r.URL.Path)), "route_unknown", r.Method, r.URL.Path)
}
