package redis

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/coditect/coditect/internal/coditect"
)

// The caches, by the name their metrics carry.
const (
	// CacheSession holds verified credentials: sessions and API keys (TTL 1 h).
	CacheSession = "session"
	// CacheQuery holds expensive reads: memberships, organization settings,
	// entitlements, slug lookups (TTL 5 min).
	CacheQuery = "query"
	// CacheResponse holds whole API answers of selected GET routes (TTL 1 min).
	CacheResponse = "response"
)

// The time each cache keeps an entry.
const (
	SessionTTL  = time.Hour
	QueryTTL    = 5 * time.Minute
	ResponseTTL = time.Minute
)

// versionTTL outlives every entry: the version key only has to exist while a fill
// that read it may still be in flight.
const versionTTL = 2 * time.Hour

// Cache is the read-through cache every layer shares. Entries live in Redis hashes that
// belong to one owner — a tenant (v1:t:{tenant}:…) or an account (v1:a:{account}:…) —
// next to the owner's version key, all in one Cluster slot. Invalidating an owner
// bumps the version and drops all its hashes in one MULTI; a fill stores its entry only
// if the version is still the one it read before going to the database (a Lua
// compare-and-set), so a read that raced a write can never put the old value back.
//
// Every failure is a miss: with Redis down or slow the platform reads the database.
// Entries written before this process last saw Redis fail are not trusted, because an
// invalidation may have been lost meanwhile; a failed invalidation is handed to
// Retry (a durable job) so that other replicas stop trusting the entry too.
type Cache struct {
	c     Client
	m     *Metrics
	now   func() time.Time
	retry func(ctx context.Context, keys []string)
}

// NewCache returns a cache over c reporting to m. retry, when set, is called with the
// keys of an invalidation Redis refused, to run it again until it succeeds (see
// InvalidateKeys); nil leaves the distrust window as the only safeguard.
func NewCache(c Client, m *Metrics, retry func(ctx context.Context, keys []string)) *Cache {
	return &Cache{c: c, m: m, now: time.Now, retry: retry}
}

// owner is the prefix of one tenant's or one account's keys.
type owner string

func tenantOwner(t coditect.TenantID) owner   { return owner(keyVersion + ":t:{" + t.String() + "}") }
func accountOwner(a coditect.AccountID) owner { return owner(keyVersion + ":a:{" + a.String() + "}") }

func (o owner) version() string          { return string(o) + ":ver" }
func (o owner) hash(cache string) string { return string(o) + ":c:" + cache }

// ownerCaches are the hashes an owner may have; invalidation drops them all.
var ownerCaches = []string{CacheSession, CacheQuery, CacheResponse}

// An entry (a cache field's value) is the time it was written, 8 bytes of unix
// milliseconds by the writer's clock, then the value in JSON. Types whose API form
// hides fields the cache must keep (secrets' hashes, Stripe ids) are stored as their
// cache twins (see cachedSession…), converted field for field: a field added to the
// original breaks the conversion at compile time instead of vanishing from the cache.
// (JSON, not gob: gob re-sends and re-compiles type information with every value,
// about four times the CPU on the hot path.)
func encodeEntry(at time.Time, v any) ([]byte, error) {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 256), uint64(at.UnixMilli()))
	if r, ok := v.(rawValue); ok { // already encoded by the caller: kept as is
		return append(b, r...), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

func decodeEntry(raw []byte, dst any) (at int64, err error) {
	if len(raw) < 8 {
		return 0, errors.New("short cache entry")
	}
	at = int64(binary.BigEndian.Uint64(raw))
	if r, ok := dst.(*rawValue); ok {
		*r = raw[8:]
		return at, nil
	}
	return at, json.Unmarshal(raw[8:], dst)
}

// rawValue is a value its caller encodes itself (an API answer).
type rawValue []byte

// Stamp is what a miss hands back to Fill: the owner's version when the read began.
type Stamp struct {
	o     owner
	cache string
	field string
	ver   string
	ok    bool // the lookup reached Redis: a fill may be attempted
}

// get looks field up in o's cache hash. A hit decodes into dst. A miss returns the
// stamp to fill with.
func (c *Cache) get(ctx context.Context, o owner, cache, field string, ttl time.Duration, dst any) (Stamp, bool) {
	st := Stamp{o: o, cache: cache, field: field}
	pipe := c.c.Pipeline()
	hget := pipe.HGet(ctx, o.hash(cache), field)
	ver := pipe.Get(ctx, o.version())
	_, err := pipe.Exec(ctx)
	if err != nil && !errors.Is(err, goredis.Nil) {
		c.m.result(cache, "error")
		return st, false
	}
	st.ver, st.ok = ver.Val(), true
	raw, err := hget.Bytes()
	if err != nil {
		c.m.result(cache, "miss")
		return st, false
	}
	at, err := decodeEntry(raw, dst)
	if err != nil || !c.fresh(at, ttl) {
		c.m.result(cache, "miss")
		return st, false
	}
	c.m.result(cache, "hit")
	return st, true
}

// fresh reports whether an entry written at (unix ms) may still be served: younger than
// ttl and written after this process last saw Redis fail (plus a second for clock skew
// between replicas).
func (c *Cache) fresh(at int64, ttl time.Duration) bool {
	now := c.now().UnixMilli()
	if now-at > ttl.Milliseconds() || at > now+int64(time.Minute/time.Millisecond) {
		return false
	}
	if failed := c.m.lastFailure.Load(); failed != 0 && at <= failed+1000 {
		return false
	}
	return true
}

// fillScript stores a field only if the owner's version is still the one the reader saw.
var fillScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1]) or ''
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1`)

// fill stores v under st's field, unless the owner was invalidated since st was taken.
func (c *Cache) fill(ctx context.Context, st Stamp, ttl time.Duration, v any) {
	if !st.ok {
		return // Redis failed on the lookup: don't add a write to a struggling server
	}
	e, err := encodeEntry(c.now(), v)
	if err != nil {
		return
	}
	// The hash lives as long as its longest-lived entry may: ttl after the last fill.
	_ = fillScript.Run(ctx, c.c, []string{st.o.version(), st.o.hash(st.cache)},
		st.ver, st.field, e, strconv.FormatInt(ttl.Milliseconds(), 10)).Err()
}

// invalidate drops everything cached for o and bumps its version so that no fill begun
// before now can store. When Redis refuses, the keys go to the retry hook.
func (c *Cache) invalidate(ctx context.Context, o owner) {
	keys := []string{o.version()}
	for _, name := range ownerCaches {
		keys = append(keys, o.hash(name))
	}
	_ = c.InvalidateKeys(ctx, keys) // a failure went to the retry hook
}

// InvalidateKeys bumps the version keys (…:ver) among keys and deletes the others, in
// one MULTI. On failure the retry hook gets the keys; the worker's retry job calls
// InvalidateKeys again (without a hook) until Redis takes it.
func (c *Cache) InvalidateKeys(ctx context.Context, keys []string) error {
	pipe := c.c.TxPipeline()
	var del []string
	for _, k := range keys {
		if len(k) > 4 && k[len(k)-4:] == ":ver" {
			pipe.Incr(ctx, k)
			pipe.PExpire(ctx, k, versionTTL)
			continue
		}
		del = append(del, k)
	}
	if len(del) > 0 {
		pipe.Del(ctx, del...)
	}
	_, err := pipe.Exec(ctx)
	if err != nil {
		if c.retry != nil {
			c.retry(context.WithoutCancel(ctx), keys)
		}
		return err
	}
	for _, name := range ownerCaches {
		c.m.invalidated.WithLabelValues(name).Inc()
	}
	return nil
}

// InvalidateTenant drops every cache entry of tenant t: its credentials, query results
// and API answers. The PostgreSQL store calls it after every write transaction in a
// tenant commits, so no write can leave a stale entry behind, whoever made it.
func (c *Cache) InvalidateTenant(ctx context.Context, t coditect.TenantID) {
	c.invalidate(ctx, tenantOwner(t))
}

// InvalidateAccount drops every cache entry of account a (its sessions).
func (c *Cache) InvalidateAccount(ctx context.Context, a coditect.AccountID) {
	c.invalidate(ctx, accountOwner(a))
}

// Get looks up field in tenant t's cache (one of the Cache… names); a hit decodes into
// dst. On a miss, compute the value and hand it to Fill with the stamp.
func (c *Cache) Get(ctx context.Context, t coditect.TenantID, cache, field string, ttl time.Duration, dst any) (Stamp, bool) {
	return c.get(ctx, tenantOwner(t), cache, field, ttl, dst)
}

// Fill stores a value computed after a miss (see Get).
func (c *Cache) Fill(ctx context.Context, st Stamp, ttl time.Duration, v any) {
	c.fill(ctx, st, ttl, v)
}

// lastFailureNow records that Redis failed just now (the distrust window's start).
func (m *Metrics) failedNow(now time.Time) { m.lastFailure.Store(now.UnixMilli()) }

// atomicMillis is a timestamp in unix milliseconds shared between goroutines.
type atomicMillis = atomic.Int64

// getGlobal looks up a value that belongs to no tenant or account and never changes
// meaning while it exists (an API key prefix's key), or that is checked after use
// (a slug's tenant).
func (c *Cache) getGlobal(ctx context.Context, cache, key string, ttl time.Duration, dst any) bool {
	raw, err := c.c.Get(ctx, key).Bytes()
	switch {
	case errors.Is(err, goredis.Nil):
		c.m.result(cache, "miss")
		return false
	case err != nil:
		c.m.result(cache, "error")
		return false
	}
	at, err := decodeEntry(raw, dst)
	if err != nil || !c.fresh(at, ttl) {
		c.m.result(cache, "miss")
		return false
	}
	c.m.result(cache, "hit")
	return true
}

// fillGlobal stores a global value (see getGlobal).
func (c *Cache) fillGlobal(ctx context.Context, key string, ttl time.Duration, v any) {
	e, err := encodeEntry(c.now(), v)
	if err != nil {
		return
	}
	_ = c.c.Set(ctx, key, e, ttl).Err()
}

// LookupResponse implements httpapi.ResponseCache: the response cache of tenant t.
func (c *Cache) LookupResponse(ctx context.Context, t coditect.TenantID, key string) ([]byte, func([]byte), bool) {
	var raw rawValue
	st, hit := c.get(ctx, tenantOwner(t), CacheResponse, key, ResponseTTL, &raw)
	if hit {
		return raw, func([]byte) {}, true
	}
	return nil, func(entry []byte) { c.fill(ctx, st, ResponseTTL, rawValue(entry)) }, false
}
