package telemetry

import (
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/metric/noop"
)

// PgxTracer is the pgx tracer that makes a span of every SQL statement, batch (and each
// statement in it), COPY, prepare, connect and pool acquire that runs under a
// recording span. The SQL text is recorded, its parameters never (they carry personal
// data and secrets' hashes); statements without a parent span (River's polling) are
// not traced.
func (t *Telemetry) PgxTracer() pgx.QueryTracer {
	return otelpgx.NewTracer(
		otelpgx.WithTracerProvider(t.Tracer),
		otelpgx.WithMeterProvider(noop.NewMeterProvider()), // pool metrics come from postgres.NewPoolCollector
		otelpgx.WithDisableConnectionDetailsInAttributes(),
	)
}
