package obs

import (
	"context"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracingConfig selects where traces go.
type TracingConfig struct {
	// OTLPEndpoint is the URL of an OTLP/HTTP collector, for example
	// http://localhost:4318 (/v1/traces is added to a URL without a path).
	// Empty turns export off.
	OTLPEndpoint string
	// SampleRatio is the fraction of new traces recorded, 0 to 1. Default 1.
	SampleRatio float64
	// ServiceName names this process in traces. Default "arus".
	ServiceName string
	// Version is reported as the service version.
	Version string
}

// Validate checks the configuration and fills in defaults.
func (c *TracingConfig) Validate() error {
	if c.ServiceName == "" {
		c.ServiceName = "arus"
	}
	if c.SampleRatio == 0 {
		c.SampleRatio = 1
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("trace sample ratio %v: use a number from 0 to 1", c.SampleRatio)
	}
	if c.OTLPEndpoint != "" {
		u, err := url.Parse(c.OTLPEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("OTLP endpoint %q: use a URL like http://collector:4318", c.OTLPEndpoint)
		}
	}
	return nil
}

// Tracing is the process's tracer provider and its propagator.
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// NewTracing returns a tracer provider exporting to the OTLP endpoint, or a
// no-op provider when none is configured. The W3C trace-context propagator
// is returned either way, so trace context passes through records even
// when this process exports nothing.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Tracing{
		Propagator: propagation.TraceContext{},
		shutdown:   func(context.Context) error { return nil },
	}
	if cfg.OTLPEndpoint == "" {
		t.Provider = noop.NewTracerProvider()
		return t, nil
	}
	endpoint := cfg.OTLPEndpoint
	if u, _ := url.Parse(endpoint); u.Path == "" || u.Path == "/" {
		// A base URL, as in OTEL_EXPORTER_OTLP_ENDPOINT: add the signal path.
		u.Path = "/v1/traces"
		endpoint = u.String()
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(cfg.Version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	t.Provider = tp
	t.shutdown = tp.Shutdown
	return t, nil
}

// Shutdown flushes spans not yet exported.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }
