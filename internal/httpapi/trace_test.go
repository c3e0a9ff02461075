package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestServerSpans: a request is a server span named by its route pattern, continuing
// the caller's traceparent, with its status; an unmatched path is "unmatched" (never
// the raw path); probes are not traced.
func TestServerSpans(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	h := NewServer(Deps{Tracer: tp})

	req := httptest.NewRequest("GET", "/v1/openapi.json", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/orgs/secret-token-in-path/nope", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
	require.NoError(t, tp.ForceFlush(context.Background()))

	spans := exp.GetSpans()
	require.Len(t, spans, 2, "probes and /metrics are not traced")
	doc := spans[0]
	require.Equal(t, "GET /v1/openapi.json", doc.Name)
	require.Equal(t, trace.SpanKindServer, doc.SpanKind)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", doc.SpanContext.TraceID().String())
	require.Equal(t, "00f067aa0ba902b7", doc.Parent.SpanID().String())
	attrs := map[string]string{}
	for _, a := range doc.Attributes {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	require.Equal(t, "200", attrs["http.response.status_code"])
	require.NotEmpty(t, attrs["request_id"])

	miss := spans[1]
	require.Equal(t, routeUnmatched, miss.Name)
	require.False(t, miss.Parent.IsValid(), "a request without traceparent starts a trace")
	for _, a := range miss.Attributes {
		require.NotContains(t, a.Value.Emit(), "secret-token-in-path")
		if a.Key == "http.response.status_code" {
			require.Equal(t, int64(http.StatusNotFound), a.Value.AsInt64())
		}
	}
}

// BenchmarkServerTracing measures the per-request cost of the tracing middleware: off
// (no-op provider: the default when no OTLP endpoint is set) and on (SDK, every request
// sampled, spans batched to an exporter that drops them).
func BenchmarkServerTracing(b *testing.B) {
	for _, bc := range []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"off", nil},
		{"on", sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := NewServer(Deps{Tracer: bc.tp})
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/nope", nil))
			}
		})
	}
}
