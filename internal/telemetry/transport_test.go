package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/coditect/coditect/internal/config"
	"github.com/coditect/coditect/internal/telemetry"
)

// TestTransport: an outbound call is a client span under the caller's span, carries
// the W3C trace context to the server, and records no query string.
func TestTransport(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.NewWithExporter(config.Telemetry{ServiceName: "test", Sampler: "always_on"}, "v0", exp)
	require.NoError(t, err)
	require.True(t, tel.Enabled())

	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusPaymentRequired)
	}))
	t.Cleanup(srv.Close)

	ctx, parent := tel.Tracer.Tracer("test").Start(context.Background(), "parent")
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/charges?api_key=sk_live_secret", nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: tel.Transport(nil)}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	parent.End()
	require.Empty(t, req.Header.Get("traceparent"), "the caller's request is not modified")
	require.NoError(t, tel.Tracer.(*sdktrace.TracerProvider).ForceFlush(context.Background()))

	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	client := spans[0]
	require.Equal(t, trace.SpanKindClient, client.SpanKind)
	require.Equal(t, parent.SpanContext().SpanID(), client.Parent.SpanID())
	require.Equal(t, "00-"+client.SpanContext.TraceID().String()+"-"+client.SpanContext.SpanID().String()+"-01", got.Get("traceparent"))
	for _, a := range client.Attributes {
		require.NotContains(t, a.Value.Emit(), "sk_live_secret")
		if a.Key == "http.response.status_code" {
			require.Equal(t, int64(402), a.Value.AsInt64())
		}
	}
	require.Equal(t, "Error", client.Status.Code.String())
}

func TestOffWithoutEndpoint(t *testing.T) {
	t.Parallel()
	tel, err := telemetry.New(context.Background(), config.Telemetry{Protocol: "http/protobuf"}, "v0")
	require.NoError(t, err)
	require.False(t, tel.Enabled())
	tel, err = telemetry.New(context.Background(), config.Telemetry{Endpoint: "http://127.0.0.1:1", Protocol: "http/protobuf", Disabled: true}, "v0")
	require.NoError(t, err)
	require.False(t, tel.Enabled(), "OTEL_SDK_DISABLED wins")
	require.NoError(t, tel.Shutdown(context.Background()))
}

func TestChildOnly(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.NewWithExporter(config.Telemetry{Sampler: "always_on"}, "v0", exp)
	require.NoError(t, err)
	lib := tel.ChildOnly().Tracer("lib")
	_, orphan := lib.Start(context.Background(), "orphan")
	orphan.End()
	ctx, parent := tel.Tracer.Tracer("test").Start(context.Background(), "parent")
	_, child := lib.Start(ctx, "child")
	child.End()
	parent.End()
	require.NoError(t, tel.Tracer.(*sdktrace.TracerProvider).ForceFlush(context.Background()))
	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
	}
	require.Equal(t, []string{"child", "parent"}, names)
}
