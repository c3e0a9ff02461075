// Package telemetry sets up OpenTelemetry tracing from the configuration and
// enriches the structured logs: every line written inside a request or a job carries
// its trace_id, span_id, request_id, tenant_id and account_id, and secrets are
// redacted whatever a caller hands the logger.
//
// Nothing here is global: New returns the tracer provider and propagator that run()
// passes to the HTTP server, the database pool, Redis, the mailer and the workers.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/coditect/coditect/internal/config"
)

// ScopeName names the tracer of CODITECT's own spans (HTTP server, jobs, mail, outbound
// HTTP).
const ScopeName = "github.com/coditect/coditect"

// Telemetry is the process's tracing: a provider to start spans from and the W3C
// propagator for trace context crossing process boundaries (HTTP, job metadata).
type Telemetry struct {
	// Tracer is the SDK provider when tracing is on, a no-op one otherwise (a no-op
	// span still carries an incoming trace context onwards).
	Tracer trace.TracerProvider
	// Propagator reads and writes traceparent, tracestate and baggage.
	Propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// Propagator is W3C trace context plus baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Off is telemetry with tracing off.
func Off() *Telemetry {
	return &Telemetry{Tracer: noop.NewTracerProvider(), Propagator: Propagator(), shutdown: func(context.Context) error { return nil }}
}

// New builds tracing from cfg: off unless an OTLP endpoint is set, otherwise an SDK
// provider batching spans to the OTLP exporter (http/protobuf or grpc). version is the
// service.version resource attribute. Call Shutdown to flush before exiting.
func New(ctx context.Context, cfg config.Telemetry, version string) (*Telemetry, error) {
	if !cfg.Enabled() {
		return Off(), nil
	}
	exp, err := newExporter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return NewWithExporter(cfg, version, exp)
}

// NewWithExporter is New with the span exporter given (tests pass an in-memory one).
func NewWithExporter(cfg config.Telemetry, version string, exp sdktrace.SpanExporter) (*Telemetry, error) {
	attrs := []attribute.KeyValue{semconv.ServiceName(cmpOr(cfg.ServiceName, "coditect")), semconv.ServiceVersion(version)}
	for k, v := range cfg.ResourceAttributes {
		attrs = append(attrs, attribute.String(k, v))
	}
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, attrs...))
	if err != nil {
		// Only a schema URL conflict between semconv versions; keep our attributes.
		res = resource.NewSchemaless(attrs...)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler(cfg.Sampler, cfg.SamplerArg)),
	)
	return &Telemetry{Tracer: tp, Propagator: Propagator(), shutdown: tp.Shutdown}, nil
}

// Shutdown flushes the spans still buffered and stops the exporter.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return t.shutdown(ctx)
}

// Enabled says whether spans are recorded.
func (t *Telemetry) Enabled() bool {
	_, ok := t.Tracer.(*sdktrace.TracerProvider)
	return ok
}

func newExporter(ctx context.Context, cfg config.Telemetry) (sdktrace.SpanExporter, error) {
	endpoint := cfg.TracesEndpoint
	if cfg.Protocol == "grpc" {
		if endpoint == "" {
			endpoint = cfg.Endpoint
		}
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint), otlptracegrpc.WithHeaders(cfg.Headers))
		if err != nil {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
		}
		return exp, nil
	}
	if endpoint == "" {
		// The base endpoint gets the signal's path appended, as the specification says.
		u, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return nil, errors.New("OTEL_EXPORTER_OTLP_ENDPOINT: not a valid URL")
		}
		u.Path = strings.TrimRight(u.Path, "/") + "/v1/traces"
		endpoint = u.String()
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint), otlptracehttp.WithHeaders(cfg.Headers))
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	return exp, nil
}

func sampler(name string, arg float64) sdktrace.Sampler {
	switch name {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(arg)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(arg))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

func cmpOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
