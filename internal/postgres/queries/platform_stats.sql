-- Platform-wide business numbers (migration 0020): global tables, not tenant data.

-- name: PlatformStatsAdd :exec
INSERT INTO platform_stats_hourly AS s (hour, shard, signups, api_calls)
VALUES (sqlc.arg(hour), sqlc.arg(shard), sqlc.arg(signups), sqlc.arg(api_calls))
ON CONFLICT (hour, shard) DO UPDATE
SET signups = s.signups + excluded.signups, api_calls = s.api_calls + excluded.api_calls;

-- name: TenantActivityMark :exec
-- The WHERE skips rewriting a row that is already as recent.
INSERT INTO tenant_activity AS a (organization_id, last_active_at)
VALUES (sqlc.arg(organization_id), sqlc.arg(at))
ON CONFLICT (organization_id) DO UPDATE
SET last_active_at = excluded.last_active_at
WHERE a.last_active_at < excluded.last_active_at;

-- name: PlatformStatsRead :one
-- The gauges' one read: counts and sums only, computed periodically (not per request).
SELECT
    (SELECT count(*) FROM tenant_slugs)::bigint AS tenants,
    (SELECT count(*) FROM tenant_activity WHERE last_active_at >= sqlc.arg(active_since))::bigint AS active_tenants,
    (SELECT coalesce(sum(signups), 0) FROM platform_stats_hourly)::bigint AS signups,
    (SELECT coalesce(sum(api_calls), 0) FROM platform_stats_hourly)::bigint AS api_calls;

-- name: TenantActivityPurge :execrows
DELETE FROM tenant_activity WHERE last_active_at < sqlc.arg(before);
