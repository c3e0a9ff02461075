package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coditect/coditect/internal/config"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/ratelimit"
	"github.com/coditect/coditect/internal/redis"
	"github.com/coditect/coditect/internal/telemetry"
	"github.com/coditect/coditect/internal/worker"
)

// redisLayer is what Redis gives a process: the caches and the shared rate limiter.
// A nil *redisLayer (REDIS_URL unset) means no caches and in-process rate limits.
type redisLayer struct {
	client  redis.Client
	metrics *redis.Metrics
	// cache is the caches' shared core; an invalidation Redis refuses becomes a
	// cache.invalidate job.
	cache *redis.Cache
	// retrying runs those jobs: the same core without the hook, so a job that fails
	// retries itself instead of enqueuing another.
	retrying *redis.Cache
	// caching is CODITECT_CACHE: serve reads from the caches. Invalidation happens
	// whenever Redis is configured, so a process with caching off never leaves
	// another's entries stale.
	caching bool
}

// openRedis connects to REDIS_URL, registers the Redis metrics with reg and makes
// every committed write in a tenant drop that tenant's cache entries.
func openRedis(cfg config.Config, store *postgres.Store, reg prometheus.Registerer, log *slog.Logger, tel *telemetry.Telemetry) (*redisLayer, error) {
	if cfg.RedisURL == "" {
		return nil, nil
	}
	c, err := redis.Open(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	if tel.Enabled() {
		if err := redis.Trace(c, tel.ChildOnly()); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("REDIS_URL: tracing: %w", err)
		}
	}
	m := redis.NewMetrics(reg)
	redis.Instrument(c, m)
	retry := func(ctx context.Context, keys []string) {
		if err := store.EnqueueSystem(ctx, worker.CacheInvalidateArgs{Keys: keys}); err != nil {
			log.ErrorContext(ctx, "a cache invalidation failed and could not be queued for retry", "error", err.Error())
		}
	}
	rl := &redisLayer{client: c, metrics: m, cache: redis.NewCache(c, m, retry), retrying: redis.NewCache(c, m, nil), caching: cfg.Cache}
	store.OnTenantWrite(rl.cache.InvalidateTenant)
	return rl, nil
}

func (rl *redisLayer) close() {
	if rl != nil {
		_ = rl.client.Close()
	}
}

// limiter is the API's rate limiter: in Redis with the in-process fallback, or only
// in process without Redis.
func (rl *redisLayer) limiter() ratelimit.Limiter {
	local := ratelimit.NewLocal(nil)
	if rl == nil {
		return local
	}
	return redis.NewLimiter(rl.client, rl.metrics, local)
}

// readCache is the cache reads (and API answers) go through, nil when caching is off.
func (rl *redisLayer) readCache() *redis.Cache {
	if rl == nil || !rl.caching {
		return nil
	}
	return rl.cache
}

// invalidator runs cache.invalidate jobs; without Redis they fail until a worker
// with REDIS_URL picks them up.
func (rl *redisLayer) invalidator() worker.CacheInvalidator {
	if rl == nil {
		return noRedis{}
	}
	return rl.retrying
}

type noRedis struct{}

func (noRedis) InvalidateKeys(context.Context, []string) error {
	return errNoRedis
}

var errNoRedis = errors.New("REDIS_URL is not set in this worker: a cache invalidation needs Redis")
