// Package redis connects the platform to Redis through go-redis's UniversalClient, so
// one Redis, a Sentinel set or a Redis Cluster work unchanged. Every key is built by
// Key or TenantKey: versioned, and namespaced by tenant.
package redis

import (
	"context"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/coditect/coditect/internal/coditect"
)

// keyVersion prefixes every key, so a deploy that changes a value's format can move
// to a new prefix instead of reading old shapes.
const keyVersion = "v1"

// Nil is returned by reads of a missing key.
const Nil = goredis.Nil

// Client is the Redis client type the platform passes around.
type Client = goredis.UniversalClient

// Open returns a client for url (redis://, rediss:// or unix://). Timeouts are in
// milliseconds: Redis is a cache and a limiter, and a slow Redis must not slow the API.
func Open(url string) (Client, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	return goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:        []string{opt.Addr},
		DB:           opt.DB,
		Username:     opt.Username,
		Password:     opt.Password,
		TLSConfig:    opt.TLSConfig,
		Protocol:     3,
		DialTimeout:  250 * time.Millisecond,
		ReadTimeout:  100 * time.Millisecond,
		WriteTimeout: 100 * time.Millisecond,
		PoolTimeout:  200 * time.Millisecond,
		MaxRetries:   -1, // no retries: a cache miss is cheaper than a second timeout
		// No handshake extras: CLIENT SETINFO and MAINT_NOTIFICATIONS cost a round trip
		// per connection and fail on Redis before 7.2.
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}), nil
}

// Ping checks Redis answers; /readyz reports it (as degraded, not down: the API serves
// without Redis).
func Ping(ctx context.Context, c Client) error { return c.Ping(ctx).Err() }

// TenantKey returns a key that belongs to one tenant: v1:t:{<tenant>}:<parts…>. The
// braces are a Redis Cluster hash tag: all of a tenant's keys live in one slot, so
// multi-key operations on them work and a tenant's data can be dropped together.
func TenantKey(t coditect.TenantID, parts ...string) string {
	return keyVersion + ":t:{" + t.String() + "}:" + strings.Join(parts, ":")
}

// Key returns a key that belongs to no tenant (e.g. a per-IP limit): v1:g:<parts…>.
func Key(parts ...string) string {
	return keyVersion + ":g:" + strings.Join(parts, ":")
}
