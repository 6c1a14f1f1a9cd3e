package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arus-platform/arus/internal/audit"
	"github.com/arus-platform/arus/internal/auth"
	"github.com/arus-platform/arus/internal/obs"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// RequestIDHeader carries a request's id in and out.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts an incoming id only when it is short and plain,
// so nothing odd reaches logs.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recorder records the status and size of a response. It unwraps for
// http.ResponseController, so flushing, deadlines and full-duplex reach the
// real writer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// httpMetrics are the server's request metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	// anonymous counts the requests audit leaves out for want of a
	// principal.
	anonymous *prometheus.CounterVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "arus_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "arus_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
		anonymous: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arus_http_anonymous_changes_total",
			Help: "Requests that could change something (any method but GET, HEAD and OPTIONS) made without valid credentials or to a path that checks none, by route pattern and method; they are not audited.",
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inflight, m.anonymous)
	return m
}

// handler wraps the mux in the process-wide middleware, outermost first:
// request id and trace context, access log, panic recovery, metrics. The
// metrics sit next to the mux so that they see the route pattern it
// matched.
func (s *Server) handler(mux *http.ServeMux) http.Handler {
	tracer := s.tracing.Provider.Tracer("arus/http")
	prop := s.tracing.Propagator
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		s.hsts(w, r)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx = prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		ctx, who := auth.Track(ctx)
		ctx, described := audit.Track(ctx)
		r = r.WithContext(ctx)

		rec := &recorder{ResponseWriter: w}
		s.metrics.inflight.Inc()
		// Deferred: a handler that cuts its answer (http.ErrAbortHandler)
		// ends here too.
		defer s.metrics.inflight.Dec()
		s.serveRecovered(rec, r, mux)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		span.SetName(route)
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(route, obs.MethodLabel(r.Method), strconv.Itoa(rec.status)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())

		s.audit(r, route, rec.status, id, who(), described())

		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" || route == "GET /static/" {
			level = slog.LevelDebug
		}
		s.log.Log(ctx, level, "http request",
			"request_id", id, "method", r.Method, "path", r.URL.Path, "route", route,
			"status", rec.status, "bytes", rec.bytes, "duration", elapsed.Round(time.Microsecond),
			"remote", r.RemoteAddr)
	})
}

// notAudited are routes that change data rather than configuration: they
// carry the data plane's traffic and are counted by metrics, not audited.
var notAudited = map[string]bool{
	"POST /api/v1/topics/{topic}/records":     true,
	"POST /api/v1/groups/{group}/consume":     true,
	"POST /api/v1/datasets/{dataset}/records": true,
	"POST /login": true,
}

// auditedReads are reads audited as changes are: taking a backup gives
// away every record and secret.key.
var auditedReads = map[string]bool{
	"GET /api/v1/backup": true,
}

// audit records an authenticated request that may have changed something:
// any method but GET, HEAD and OPTIONS, on a known route, whatever its
// outcome; and the reads of auditedReads. Requests without a principal are only counted (the metric
// arus_http_anonymous_changes_total): recording them would let anyone
// fill the log.
func (s *Server) audit(r *http.Request, route string, status int, requestID string, p *auth.Principal, summary string) {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	switch {
	case read && !auditedReads[route], notAudited[route]:
		return
	case p == nil:
		if !read {
			s.metrics.anonymous.WithLabelValues(route, obs.MethodLabel(r.Method)).Inc()
		}
		return
	case s.auditLog == nil, route == "unmatched":
		return
	}
	actor := p.Name()
	if summary == "" {
		summary = audit.Summarize(route, r)
	}
	// The client's address as --trusted-proxies resolves it, the same one
	// login throttling and sessions record.
	e := audit.Entry{Actor: actor, Method: r.Method, Path: r.URL.Path, Route: route, Status: status, IP: s.auth.ClientIP(r), RequestID: requestID, Summary: summary}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.auditLog.Record(ctx, e); err != nil {
		s.log.ErrorContext(r.Context(), "audit: could not record a change", "err", err, "actor", actor, "path", r.URL.Path)
	}
}

// serveRecovered is the last line of defence: the API and the console
// recover their own panics with a proper answer; anything else becomes a
// plain 500 and a logged stack, and the process goes on.
func (s *Server) serveRecovered(w *recorder, r *http.Request, next http.Handler) {
	defer func() {
		v := recover()
		if v == nil || v == http.ErrAbortHandler {
			if v != nil {
				panic(v)
			}
			return
		}
		s.log.ErrorContext(r.Context(), "http: handler panicked", "path", r.URL.Path,
			"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if w.status == 0 {
			http.Error(w, "internal server error", http.StatusInternalServerError)
		}
	}()
	next.ServeHTTP(w, r)
}
