package redis

import (
	"context"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
)

// AccountReader is account.TenantReader with the reads every request makes served
// from the cache: a member's role in a tenant (query cache), an API key's record
// (session cache) and the organization (query cache). Each lives in its tenant's
// hashes, which every committed write in the tenant drops (see Cache.InvalidateTenant):
// a role change, a removal or a revoked key takes effect on the next request.
type AccountReader struct {
	account.TenantReader
	cache *Cache
}

// NewAccountReader wraps next with the caches.
func NewAccountReader(next account.TenantReader, cache *Cache) *AccountReader {
	return &AccountReader{TenantReader: next, cache: cache}
}

// MembershipGet implements account.TenantReader.
func (r *AccountReader) MembershipGet(ctx context.Context, id coditect.AccountID) (account.Membership, error) {
	t, err := coditect.TenantFrom(ctx)
	if err != nil {
		return account.Membership{}, err
	}
	var c cachedMembership
	st, hit := r.cache.Get(ctx, t, CacheQuery, "member:"+id.String(), QueryTTL, &c)
	if hit && c.Tenant == t && c.AccountID == id {
		return account.Membership(c), nil
	}
	m, err := r.TenantReader.MembershipGet(ctx, id)
	if err == nil {
		r.cache.Fill(ctx, st, QueryTTL, cachedMembership(m))
	}
	return m, err
}

// APIKeyGet implements account.TenantReader. The record carries the key's secret hash
// (never the key), role, expiry and revocation; the caller checks them as usual.
func (r *AccountReader) APIKeyGet(ctx context.Context, id coditect.APIKeyID) (account.APIKey, error) {
	t, err := coditect.TenantFrom(ctx)
	if err != nil {
		return account.APIKey{}, err
	}
	var c cachedAPIKey
	st, hit := r.cache.Get(ctx, t, CacheSession, "apikey:"+id.String(), SessionTTL, &c)
	if hit && c.ID == id {
		return account.APIKey(c), nil
	}
	k, err := r.TenantReader.APIKeyGet(ctx, id)
	if err == nil {
		r.cache.Fill(ctx, st, SessionTTL, cachedAPIKey(k))
	}
	return k, err
}

// OrganizationGet implements account.TenantReader.
func (r *AccountReader) OrganizationGet(ctx context.Context) (account.Organization, error) {
	t, err := coditect.TenantFrom(ctx)
	if err != nil {
		return account.Organization{}, err
	}
	var c cachedOrganization
	st, hit := r.cache.Get(ctx, t, CacheQuery, "organization", QueryTTL, &c)
	if hit && c.ID == t {
		return account.Organization(c), nil
	}
	o, err := r.TenantReader.OrganizationGet(ctx)
	if err == nil {
		r.cache.Fill(ctx, st, QueryTTL, cachedOrganization(o))
	}
	return o, err
}

// Lookups is account.Lookups with the two lookups of every request cached, in process
// first and then in Redis: a slug's tenant (query cache) and an API key prefix's key
// (session cache). A prefix names one key forever. A slug can move to a new
// organization once its old one is erased, so a caller that finds nothing in the
// cached tenant asks again with ForgetSlug first; the in-process copy of a slug lives
// only localSlugTTL.
type Lookups struct {
	account.Lookups
	cache    *Cache
	prefixes *local[tenantAndKey]
	slugs    *local[coditect.TenantID]
}

// In-process lifetimes and sizes of the hottest lookups.
const (
	localSlugTTL  = 10 * time.Second
	localEntryMax = 100_000
)

// NewLookups wraps next with the caches.
func NewLookups(next account.Lookups, cache *Cache) *Lookups {
	return &Lookups{Lookups: next, cache: cache,
		prefixes: newLocal[tenantAndKey](SessionTTL, localEntryMax), slugs: newLocal[coditect.TenantID](localSlugTTL, localEntryMax)}
}

type tenantAndKey struct {
	Tenant coditect.TenantID
	Key    coditect.APIKeyID
}

func slugKey(slug string) string     { return Key("slug", slug) }
func prefixKey(prefix string) string { return Key("apikey", prefix) }

// TenantBySlug implements account.Lookups.
func (l *Lookups) TenantBySlug(ctx context.Context, slug string) (coditect.TenantID, error) {
	now := l.cache.now()
	if t, ok := l.slugs.get(slug, now); ok {
		l.cache.m.result(CacheQuery, "hit")
		return t, nil
	}
	var t coditect.TenantID
	if l.cache.getGlobal(ctx, CacheQuery, slugKey(slug), QueryTTL, &t) && !t.IsZero() {
		l.slugs.put(slug, t, now)
		return t, nil
	}
	t, err := l.Lookups.TenantBySlug(ctx, slug)
	if err == nil {
		l.cache.fillGlobal(ctx, slugKey(slug), QueryTTL, t)
		l.slugs.put(slug, t, now)
	}
	return t, err
}

// ForgetSlug drops a slug's cached tenant (account.Service calls it before asking
// again when the cached tenant did not know the caller).
func (l *Lookups) ForgetSlug(ctx context.Context, slug string) {
	l.slugs.drop(slug)
	_ = l.cache.c.Del(ctx, slugKey(slug)).Err()
}

// APIKeyByPrefix implements account.Lookups.
func (l *Lookups) APIKeyByPrefix(ctx context.Context, prefix string) (coditect.TenantID, coditect.APIKeyID, error) {
	now := l.cache.now()
	if v, ok := l.prefixes.get(prefix, now); ok {
		l.cache.m.result(CacheSession, "hit")
		return v.Tenant, v.Key, nil
	}
	var v tenantAndKey
	if l.cache.getGlobal(ctx, CacheSession, prefixKey(prefix), SessionTTL, &v) && !v.Tenant.IsZero() {
		l.prefixes.put(prefix, v, now)
		return v.Tenant, v.Key, nil
	}
	t, id, err := l.Lookups.APIKeyByPrefix(ctx, prefix)
	if err == nil {
		l.cache.fillGlobal(ctx, prefixKey(prefix), SessionTTL, tenantAndKey{t, id})
		l.prefixes.put(prefix, tenantAndKey{t, id}, now)
	}
	return t, id, err
}
