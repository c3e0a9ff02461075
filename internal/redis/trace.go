package redis

import (
	"github.com/redis/go-redis/extra/redisotel/v9"
	"go.opentelemetry.io/otel/trace"
)

// Trace makes every command (and pipeline) c sends a client span under the
// caller's span. Only command names are recorded, never arguments: keys name tenants
// and values hold sessions and counters.
func Trace(c Client, tp trace.TracerProvider) error {
	return redisotel.InstrumentTracing(c,
		redisotel.WithTracerProvider(tp),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
		redisotel.WithDialFilter(true),
	)
}
