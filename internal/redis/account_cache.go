package redis

import (
	"context"

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
	var m account.Membership
	st, hit := r.cache.Get(ctx, t, CacheQuery, "member:"+id.String(), QueryTTL, &m)
	if hit && m.Tenant == t && m.AccountID == id {
		return m, nil
	}
	m, err = r.TenantReader.MembershipGet(ctx, id)
	if err == nil {
		r.cache.Fill(ctx, st, QueryTTL, m)
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
	var k account.APIKey
	st, hit := r.cache.Get(ctx, t, CacheSession, "apikey:"+id.String(), SessionTTL, &k)
	if hit && k.ID == id {
		return k, nil
	}
	k, err = r.TenantReader.APIKeyGet(ctx, id)
	if err == nil {
		r.cache.Fill(ctx, st, SessionTTL, k)
	}
	return k, err
}

// OrganizationGet implements account.TenantReader.
func (r *AccountReader) OrganizationGet(ctx context.Context) (account.Organization, error) {
	t, err := coditect.TenantFrom(ctx)
	if err != nil {
		return account.Organization{}, err
	}
	var o account.Organization
	st, hit := r.cache.Get(ctx, t, CacheQuery, "organization", QueryTTL, &o)
	if hit && o.ID == t {
		return o, nil
	}
	o, err = r.TenantReader.OrganizationGet(ctx)
	if err == nil {
		r.cache.Fill(ctx, st, QueryTTL, o)
	}
	return o, err
}

// Lookups is account.Lookups with the two lookups of every request cached: a slug's
// tenant (query cache) and an API key prefix's key (session cache). A prefix names one
// key forever. A slug can move to a new organization once its old one is erased, so a
// caller that finds nothing in the cached tenant asks again with ForgetSlug first.
type Lookups struct {
	account.Lookups
	cache *Cache
}

// NewLookups wraps next with the caches.
func NewLookups(next account.Lookups, cache *Cache) *Lookups {
	return &Lookups{Lookups: next, cache: cache}
}

type tenantAndKey struct {
	Tenant coditect.TenantID
	Key    coditect.APIKeyID
}

func slugKey(slug string) string     { return Key("slug", slug) }
func prefixKey(prefix string) string { return Key("apikey", prefix) }

// TenantBySlug implements account.Lookups.
func (l *Lookups) TenantBySlug(ctx context.Context, slug string) (coditect.TenantID, error) {
	var t coditect.TenantID
	if l.cache.getGlobal(ctx, CacheQuery, slugKey(slug), QueryTTL, &t) && !t.IsZero() {
		return t, nil
	}
	t, err := l.Lookups.TenantBySlug(ctx, slug)
	if err == nil {
		l.cache.fillGlobal(ctx, slugKey(slug), QueryTTL, t)
	}
	return t, err
}

// ForgetSlug drops a slug's cached tenant (account.Service calls it before asking
// again when the cached tenant did not know the caller).
func (l *Lookups) ForgetSlug(ctx context.Context, slug string) {
	_ = l.cache.c.Del(ctx, slugKey(slug)).Err()
}

// APIKeyByPrefix implements account.Lookups.
func (l *Lookups) APIKeyByPrefix(ctx context.Context, prefix string) (coditect.TenantID, coditect.APIKeyID, error) {
	var v tenantAndKey
	if l.cache.getGlobal(ctx, CacheSession, prefixKey(prefix), SessionTTL, &v) && !v.Tenant.IsZero() {
		return v.Tenant, v.Key, nil
	}
	t, id, err := l.Lookups.APIKeyByPrefix(ctx, prefix)
	if err == nil {
		l.cache.fillGlobal(ctx, prefixKey(prefix), SessionTTL, tenantAndKey{t, id})
	}
	return t, id, err
}
