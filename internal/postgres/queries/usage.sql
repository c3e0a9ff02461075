-- Usage metering (internal/usage). usage_hourly and usage_daily are tenant tables:
-- every statement says tenant_id = sqlc.arg(tenant_id). usage_pending is the roll-up's
-- work list, keyed by organization_id (not tenant data; see migration 0010).

-- name: UsagePendingMark :exec
-- A flush marks its tenant as having hourly rows, first in its transaction (the row
-- lock orders it with the roll-up). DO UPDATE, not DO NOTHING, so the existing row is
-- locked; the WHERE keeps it from being rewritten when since is already older.
INSERT INTO usage_pending AS p (organization_id, since)
VALUES (sqlc.arg(organization_id), sqlc.arg(since))
ON CONFLICT (organization_id) DO UPDATE
SET since = excluded.since
WHERE p.since > excluded.since;

-- name: UsageHourlyAdd :exec
INSERT INTO usage_hourly AS h (tenant_id, hour, api_calls)
VALUES (sqlc.arg(tenant_id), sqlc.arg(hour), sqlc.arg(api_calls))
ON CONFLICT (tenant_id, hour) DO UPDATE
SET api_calls = h.api_calls + excluded.api_calls;

-- name: UsagePendingPage :many
-- The roll-up's cross-key page through the work list (on Citus a fan-out, once per
-- page of an hourly job): organizations with hours before sqlc.arg(before), after the
-- position.
SELECT organization_id
FROM usage_pending
WHERE since < sqlc.arg(before) AND organization_id > sqlc.arg(after)
ORDER BY organization_id
LIMIT sqlc.arg(batch)::integer;

-- name: UsageOrganizationShare :many
-- The roll-up's first statement for a tenant: the lock every insert into a tenant table
-- takes through its foreign key, taken up front so the roll-up and the eraser (which
-- locks the organization FOR UPDATE, then deletes usage rows) queue in one order
-- instead of deadlocking. No row: the organization is gone.
SELECT o.id
FROM organizations AS o
WHERE o.id = sqlc.arg(tenant_id)
FOR KEY SHARE;

-- name: UsagePendingLock :exec
-- Then the tenant's work-list row, taken as a flush takes it: an upsert, so it waits for
-- a flush of the tenant under way even when that flush is inserting the row (a
-- SELECT … FOR UPDATE would not see an uncommitted row, and the two could deadlock on
-- the hourly rows), and keeps the next flush from writing hourly rows until the
-- roll-up commits. DO UPDATE … WHERE false locks an existing row without rewriting it;
-- a row inserted here is settled (set or deleted) before the roll-up commits.
INSERT INTO usage_pending AS p (organization_id, since)
VALUES (sqlc.arg(organization_id), sqlc.arg(since))
ON CONFLICT (organization_id) DO UPDATE
SET since = p.since
WHERE false;

-- name: UsageRollupHours :one
-- Moves every hour before sqlc.arg(before) into its day, in one statement: the rows
-- deleted are exactly the rows summed, so no call is lost or counted twice, whatever
-- runs concurrently. (A data-modifying CTE always runs to completion.) Returns how
-- many hours and calls moved.
WITH moved AS (
    DELETE FROM usage_hourly AS h
    WHERE h.tenant_id = sqlc.arg(tenant_id) AND h.hour < sqlc.arg(before)
    RETURNING h.tenant_id, h.hour, h.api_calls
), added AS (
    INSERT INTO usage_daily AS d (tenant_id, day, api_calls)
    SELECT m.tenant_id, (m.hour AT TIME ZONE 'UTC')::date, sum(m.api_calls)::bigint
    FROM moved AS m
    GROUP BY m.tenant_id, (m.hour AT TIME ZONE 'UTC')::date
    ON CONFLICT (tenant_id, day) DO UPDATE
    SET api_calls = d.api_calls + excluded.api_calls
    RETURNING d.day
)
SELECT count(*)::bigint AS hours, COALESCE(sum(m.api_calls), 0)::bigint AS api_calls,
       (SELECT count(*) FROM added)::bigint AS days
FROM moved AS m;

-- name: UsageHourlyOldest :many
-- The oldest hour the tenant still has (none when every hour was rolled up).
SELECT h.hour
FROM usage_hourly AS h
WHERE h.tenant_id = sqlc.arg(tenant_id)
ORDER BY h.hour
LIMIT 1;

-- name: UsagePendingSet :exec
-- After a roll-up that left hours (the current one): since = the oldest left. An
-- upsert, so a tenant whose row went missing is back on the list.
INSERT INTO usage_pending (organization_id, since)
VALUES (sqlc.arg(organization_id), sqlc.arg(since))
ON CONFLICT (organization_id) DO UPDATE
SET since = excluded.since;

-- name: UsagePendingDelete :exec
DELETE FROM usage_pending
WHERE organization_id = sqlc.arg(organization_id);

-- name: UsageDays :many
-- The tenant's calls per UTC day in [since, until) (both midnights): the rolled-up days
-- plus the hours not yet rolled up, folded into their days, in one statement so one
-- snapshot sees each call exactly once even while a roll-up commits.
SELECT (u.day::timestamp AT TIME ZONE 'UTC')::timestamptz AS day, sum(u.api_calls)::bigint AS api_calls
FROM (
    SELECT d.day, d.api_calls
    FROM usage_daily AS d
    WHERE d.tenant_id = sqlc.arg(tenant_id)
      AND d.day >= (sqlc.arg(since)::timestamptz AT TIME ZONE 'UTC')::date
      AND d.day < (sqlc.arg(until)::timestamptz AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT (h.hour AT TIME ZONE 'UTC')::date, h.api_calls
    FROM usage_hourly AS h
    WHERE h.tenant_id = sqlc.arg(tenant_id)
      AND h.hour >= sqlc.arg(since)::timestamptz
      AND h.hour < sqlc.arg(until)::timestamptz
) AS u
GROUP BY u.day
ORDER BY u.day;

-- name: EraseUsageHourly :execrows
DELETE FROM usage_hourly AS x
WHERE x.tenant_id = sqlc.arg(tenant_id)
  AND x.hour IN (SELECT h.hour FROM usage_hourly AS h WHERE h.tenant_id = sqlc.arg(tenant_id) LIMIT sqlc.arg(batch)::integer);

-- name: EraseUsageDaily :execrows
DELETE FROM usage_daily AS x
WHERE x.tenant_id = sqlc.arg(tenant_id)
  AND x.day IN (SELECT d.day FROM usage_daily AS d WHERE d.tenant_id = sqlc.arg(tenant_id) LIMIT sqlc.arg(batch)::integer);
