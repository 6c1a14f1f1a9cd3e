package consume_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/arus-platform/arus/consume"
	"github.com/arus-platform/arus/stream"
)

func TestTracing(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name       string
		headers    []stream.Header
		err        error
		wantTrace  string // "" for a new trace
		wantStatus codes.Code
	}{
		{"continues the record's trace", []stream.Header{{Key: stream.HeaderTraceparent, Value: []byte(parent)}}, nil,
			"4bf92f3577b34da6a3ce929d0e0e4736", codes.Unset},
		{"new trace without traceparent", nil, nil, "", codes.Unset},
		{"error recorded", nil, errors.New("boom"), "", codes.Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			var inner trace.SpanContext
			h := consume.Tracing(tp, nil, "g")(func(ctx context.Context, r *stream.Record) error {
				inner = trace.SpanContextFromContext(ctx)
				return tc.err
			})
			_ = h(context.Background(), &stream.Record{Topic: "orders", Offset: 7, Headers: tc.headers})
			spans := rec.Ended()
			if len(spans) != 1 {
				t.Fatalf("got %d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.Name() != "orders process" || s.SpanKind() != trace.SpanKindConsumer {
				t.Errorf("span %q kind %v, want \"orders process\" consumer", s.Name(), s.SpanKind())
			}
			if tc.wantTrace != "" && s.SpanContext().TraceID().String() != tc.wantTrace {
				t.Errorf("trace %s, want %s", s.SpanContext().TraceID(), tc.wantTrace)
			}
			if tc.wantTrace != "" && s.Parent().SpanID().String() != "00f067aa0ba902b7" {
				t.Errorf("parent span %s, want 00f067aa0ba902b7", s.Parent().SpanID())
			}
			if s.Status().Code != tc.wantStatus {
				t.Errorf("status %v, want %v", s.Status().Code, tc.wantStatus)
			}
			if inner.SpanID() != s.SpanContext().SpanID() {
				t.Errorf("handler context holds span %s, want the record's span %s", inner.SpanID(), s.SpanContext().SpanID())
			}
		})
	}
}
