package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// ChildOnly returns a provider whose tracers make spans only under a recording span:
// for libraries (Redis) that would otherwise start a new trace for every call made
// outside a request or job, such as each readiness probe's PING.
func (t *Telemetry) ChildOnly() trace.TracerProvider { return childOnlyProvider{tp: t.Tracer} }

type childOnlyProvider struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p childOnlyProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childOnlyTracer{t: p.tp.Tracer(name, opts...)}
}

type childOnlyTracer struct {
	embedded.Tracer
	t trace.Tracer
}

func (t childOnlyTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if parent := trace.SpanFromContext(ctx); !parent.IsRecording() {
		return ctx, parent // not recording: End and the rest do nothing
	}
	return t.t.Start(ctx, name, opts...)
}
