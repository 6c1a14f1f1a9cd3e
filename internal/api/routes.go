package api

import (
	"fmt"
	"net/http"
	"strings"
)

// routes lists every route of the API.
//
//	GET    /healthz                                          alive
//	GET    /readyz                                           the broker answers
//	GET    /api/v1/topics                                    list topics
//	POST   /api/v1/topics                                    create a topic
//	GET    /api/v1/topics/{topic}                            describe a topic, with per-partition offsets
//	DELETE /api/v1/topics/{topic}                            delete a topic
//	POST   /api/v1/topics/{topic}/records                    produce records (answers once durable)
//	GET    /api/v1/topics/{topic}/partitions/{partition}/records   read by offset or time
//	GET    /api/v1/topics/{topic}/partitions/{partition}/offset    offset for a time
//	GET    /api/v1/groups                                    list consumer groups
//	GET    /api/v1/groups/{group}                            describe a group, with lag
//	DELETE /api/v1/groups/{group}                            delete a group
//	POST   /api/v1/groups/{group}/reset                      reset a group's offsets on a topic
//	POST   /api/v1/groups/{group}/consume                    consume in the group (NDJSON stream)
//
// Any other path under /api/v1/ answers a 404 or 405 problem.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /readyz", s.handle(s.readyz))

	mux.Handle("GET /api/v1/topics", s.handle(s.listTopics))
	mux.Handle("POST /api/v1/topics", s.handle(s.createTopic))
	mux.Handle("GET /api/v1/topics/{topic}", s.handle(s.describeTopic))
	mux.Handle("DELETE /api/v1/topics/{topic}", s.handle(s.deleteTopic))
	mux.Handle("POST /api/v1/topics/{topic}/records", s.handle(s.produce))
	mux.Handle("GET /api/v1/topics/{topic}/partitions/{partition}/records", s.handle(s.read))
	mux.Handle("GET /api/v1/topics/{topic}/partitions/{partition}/offset", s.handle(s.offsetForTime))

	mux.Handle("GET /api/v1/groups", s.handle(s.listGroups))
	mux.Handle("GET /api/v1/groups/{group}", s.handle(s.describeGroup))
	mux.Handle("DELETE /api/v1/groups/{group}", s.handle(s.deleteGroup))
	mux.Handle("POST /api/v1/groups/{group}/reset", s.handle(s.resetGroup))
	mux.Handle("POST /api/v1/groups/{group}/consume", s.handle(s.consume))

	mux.Handle("/api/v1/", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return noRoute(mux, w, r)
	}))
	return mux
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
		return &Problem{Type: TypeMethodNotAllowed, Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
			Detail: fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))}
	}
	return notFound(fmt.Sprintf("no API route for %s %s", r.Method, r.URL.Path))
}
