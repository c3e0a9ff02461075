package worker

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/coditect/coditect/internal/telemetry"
)

// Tracing is River middleware that makes a job part of the trace that enqueued it:
// on insert it writes the W3C trace context of the inserting context into the job's
// metadata, and when a worker runs the job it starts a consumer span ("job <kind>")
// as a child of that context, so a request, its SQL and the jobs it enqueued form
// one trace. Add it to the store's job middleware (postgres.Store.WithJobMiddleware)
// and to the worker (Config.Middleware).
type Tracing struct {
	river.MiddlewareDefaults
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// NewTracing returns the middleware over t's provider and propagator.
func NewTracing(t *telemetry.Telemetry) *Tracing {
	return &Tracing{tracer: t.Tracer.Tracer(telemetry.ScopeName), prop: t.Propagator}
}

// InsertMany implements rivertype.JobInsertMiddleware.
func (m *Tracing) InsertMany(ctx context.Context, params []*rivertype.JobInsertParams,
	doInner func(context.Context) ([]*rivertype.JobInsertResult, error)) ([]*rivertype.JobInsertResult, error) {
	carrier := propagation.MapCarrier{}
	m.prop.Inject(ctx, carrier)
	if len(carrier) > 0 {
		for _, p := range params {
			meta := map[string]any{}
			if len(p.Metadata) > 0 {
				if err := json.Unmarshal(p.Metadata, &meta); err != nil {
					continue // not an object: leave what River or a caller put there alone
				}
			}
			for k, v := range carrier {
				meta[k] = v
			}
			if b, err := json.Marshal(meta); err == nil {
				p.Metadata = b
			}
		}
	}
	return doInner(ctx)
}

// Work implements rivertype.WorkerMiddleware.
func (m *Tracing) Work(ctx context.Context, job *rivertype.JobRow, next func(context.Context) error) error {
	var meta map[string]any
	carrier := propagation.MapCarrier{}
	if json.Unmarshal(job.Metadata, &meta) == nil {
		for _, k := range m.prop.Fields() {
			if s, ok := meta[k].(string); ok {
				carrier[k] = s
			}
		}
	}
	ctx = m.prop.Extract(ctx, carrier)
	ctx, span := m.tracer.Start(ctx, "job "+job.Kind, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "river"),
			attribute.String("messaging.destination.name", job.Queue),
			attribute.String("messaging.message.id", strconv.FormatInt(job.ID, 10)),
			attribute.String("job.kind", job.Kind),
			attribute.Int("job.attempt", job.Attempt),
		))
	defer span.End()
	err := next(ctx)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "job failed")
	}
	return err
}
