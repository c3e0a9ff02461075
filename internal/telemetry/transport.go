package telemetry

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Transport wraps an http.RoundTripper for outbound calls (Stripe, webhooks…): each
// request gets a client span, named "METHOD host", child of the span in the
// request's context, and carries the W3C trace context to the server. Only the
// scheme, host and path are recorded: query strings and headers may hold secrets.
// A nil base means http.DefaultTransport.
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, tracer: t.Tracer.Tracer(ScopeName), prop: t.Propagator}
}

type transport struct {
	base   http.RoundTripper
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := t.tracer.Start(r.Context(), r.Method+" "+r.URL.Host, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLFull(r.URL.Scheme+"://"+r.URL.Host+r.URL.Path),
			semconv.ServerAddress(r.URL.Hostname()),
		))
	defer span.End()
	// RoundTrippers must not change the caller's request: headers go on a clone.
	r = r.Clone(ctx)
	t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return resp, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
	}
	return resp, nil
}

// Actor attributes: set on the current span where the actor becomes known (HTTP
// authentication, job start). Never metric labels.
const (
	AttrTenantID  = attribute.Key("tenant_id")
	AttrAccountID = attribute.Key("account_id")
)
