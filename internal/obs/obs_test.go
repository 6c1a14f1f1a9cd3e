package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestLoggerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	srv, hits := collector(t)
	tr, err := NewTracing(context.Background(), TracingConfig{OTLPEndpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tr.Provider.Tracer("test").Start(context.Background(), "op")
	log.InfoContext(ctx, "inside", "topic", "orders")
	span.End()
	log.Debug("hidden at info level")

	var rec map[string]any
	if err := json.Unmarshal(bytes.Split(buf.Bytes(), []byte("\n"))[0], &rec); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, buf.String())
	}
	if rec["trace_id"] != span.SpanContext().TraceID().String() || rec["topic"] != "orders" {
		t.Errorf("log record %v lacks the span's trace_id or its attributes", rec)
	}
	if strings.Contains(buf.String(), "hidden") {
		t.Errorf("debug record logged at info level")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if hits.Load() == 0 {
		t.Errorf("no span reached the OTLP collector")
	}
}

func collector(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" && r.Method == http.MethodPost {
			_, _ = io.Copy(io.Discard, r.Body)
			hits.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestTracingOffByDefault(t *testing.T) {
	tr, err := NewTracing(context.Background(), TracingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider.Tracer("t").Start(context.Background(), "op")
	if span.SpanContext().IsValid() {
		t.Errorf("tracing without an endpoint records spans")
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := NewLogger(io.Discard, "xml", "info"); err == nil || !strings.Contains(err.Error(), `log format "xml"`) {
		t.Errorf("bad format: %v", err)
	}
	if _, err := NewLogger(io.Discard, "text", "loud"); err == nil || !strings.Contains(err.Error(), `log level "loud"`) {
		t.Errorf("bad level: %v", err)
	}
	for _, c := range []struct {
		cfg  TracingConfig
		want string
	}{
		{TracingConfig{OTLPEndpoint: "collector:4318"}, `OTLP endpoint "collector:4318"`},
		{TracingConfig{SampleRatio: 2}, "sample ratio 2"},
	} {
		if _, err := NewTracing(context.Background(), c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewTracing(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestMetricsHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	MetricsHandler(NewRegistry()).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestMethodLabel(t *testing.T) {
	tests := []struct{ method, want string }{
		{"GET", "GET"}, {"HEAD", "HEAD"}, {"POST", "POST"}, {"PUT", "PUT"}, {"PATCH", "PATCH"},
		{"DELETE", "DELETE"}, {"OPTIONS", "OPTIONS"},
		{"get", "other"}, {"TRACE", "other"}, {"CONNECT", "other"}, {"PROPFIND", "other"}, {"X" + strings.Repeat("Y", 1000), "other"},
	}
	for _, tt := range tests {
		if got := MethodLabel(tt.method); got != tt.want {
			t.Errorf("MethodLabel(%.20q) = %q, want %q", tt.method, got, tt.want)
		}
	}
}
