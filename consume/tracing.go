package consume

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/arus-platform/arus/stream"
)

// tracerName names the tracer of this package.
const tracerName = "github.com/arus-platform/arus/consume"

// Tracing returns middleware that starts a consumer span per record,
// named "<topic> process", as a child of the trace context that prop
// extracts from the record's headers (the W3C traceparent header with
// propagation.TraceContext; a nil prop means that one). The span carries
// the group, topic, partition, offset and record id, and the error when the
// chain fails; [Retry] adds an event per retry. The handler's context holds
// the span, so what it produces can carry the trace on.
func Tracing(tp trace.TracerProvider, prop propagation.TextMapPropagator, group string) Middleware {
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	if _, off := tp.(noop.TracerProvider); off {
		return passTraceContext(prop)
	}
	tracer := tp.Tracer(tracerName)
	return func(next Handler) Handler {
		return func(ctx context.Context, r *stream.Record) error {
			ctx = prop.Extract(ctx, HeaderCarrier{R: r})
			ctx, span := tracer.Start(ctx, r.Topic+" process", trace.WithSpanKind(trace.SpanKindConsumer))
			defer span.End()
			if span.IsRecording() {
				span.SetAttributes(
					attribute.String("messaging.system", "arus"),
					attribute.String("messaging.operation.type", "process"),
					attribute.String("messaging.destination.name", r.Topic),
					attribute.String("messaging.consumer.group.name", group),
					attribute.String("messaging.destination.partition.id", strconv.Itoa(int(r.Partition))),
					attribute.Int64("messaging.kafka.offset", r.Offset),
					attribute.String("messaging.message.id", r.ID()),
				)
			}
			err := next(ctx, r)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			return err
		}
	}
}

// passTraceContext is the tracing middleware of a no-op provider: it
// starts no span, but a record that carries a traceparent still hands its
// trace context to the handler, so that what the handler produces carries
// the trace on.
func passTraceContext(prop propagation.TextMapPropagator) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, r *stream.Record) error {
			if _, ok := r.Header(stream.HeaderTraceparent); ok {
				ctx = prop.Extract(ctx, HeaderCarrier{R: r})
			}
			return next(ctx, r)
		}
	}
}

// HeaderCarrier adapts a record's headers to a propagation.TextMapCarrier,
// to extract trace context from a record or inject it into one.
type HeaderCarrier struct{ R *stream.Record }

// Get returns the value of the last header named key.
func (c HeaderCarrier) Get(key string) string {
	v, _ := c.R.Header(key)
	return string(v)
}

// Set replaces the headers named key.
func (c HeaderCarrier) Set(key, value string) { c.R.SetHeader(key, []byte(value)) }

// Keys returns the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c.R.Headers))
	for _, h := range c.R.Headers {
		keys = append(keys, h.Key)
	}
	return keys
}
