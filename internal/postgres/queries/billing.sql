-- Billing (internal/billing). billing_customers and subscriptions are tenant tables:
-- every statement says tenant_id = sqlc.arg(tenant_id). plans is reference data;
-- stripe_customers and stripe_events are global tables keyed by their own value.

-- name: PlanList :many
SELECT id, name, position, max_members, max_projects, api_rate_limit, export_allowed, audit_retention_days
FROM plans
ORDER BY position;

-- name: BillingCustomerGet :one
SELECT stripe_customer_id, usage_reported_through
FROM billing_customers
WHERE tenant_id = sqlc.arg(tenant_id);

-- name: BillingCustomerInsert :exec
-- The tenant's first customer wins: a second insert (two first checkouts at once) does
-- nothing, and the caller reads back the stored one.
INSERT INTO billing_customers (tenant_id, stripe_customer_id)
VALUES (sqlc.arg(tenant_id), sqlc.arg(stripe_customer_id))
ON CONFLICT (tenant_id) DO NOTHING;

-- name: StripeCustomerInsert :exec
-- The global lookup row of a customer, written with the tenant's row.
INSERT INTO stripe_customers (stripe_customer_id, tenant_id)
VALUES (sqlc.arg(stripe_customer_id), sqlc.arg(tenant_id))
ON CONFLICT (stripe_customer_id) DO NOTHING;

-- name: BillingUsageReportedSet :exec
UPDATE billing_customers
SET usage_reported_through = sqlc.arg(through)
WHERE tenant_id = sqlc.arg(tenant_id)
  AND (usage_reported_through IS NULL OR usage_reported_through < sqlc.arg(through));

-- name: StripeCustomerTenant :one
SELECT tenant_id FROM stripe_customers WHERE stripe_customer_id = sqlc.arg(stripe_customer_id);

-- name: StripeCustomersPage :many
-- The usage report's cross-key page through every customer (on Citus a fan-out, once
-- per page of the periodic job).
SELECT stripe_customer_id, tenant_id
FROM stripe_customers
WHERE stripe_customer_id > sqlc.arg(after)
ORDER BY stripe_customer_id
LIMIT sqlc.arg(batch)::integer;

-- name: SubscriptionGet :one
SELECT stripe_subscription_id, plan_id, status, quantity, current_period_end, cancel_at_period_end, trial_end,
       past_due_since, downgraded_at, state_at, state_rank, dunning_at
FROM subscriptions
WHERE tenant_id = sqlc.arg(tenant_id);

-- name: SubscriptionGetForUpdate :one
SELECT stripe_subscription_id, plan_id, status, quantity, current_period_end, cancel_at_period_end, trial_end,
       past_due_since, downgraded_at, state_at, state_rank, dunning_at
FROM subscriptions
WHERE tenant_id = sqlc.arg(tenant_id)
FOR UPDATE;

-- name: SubscriptionPut :execrows
-- An existing row is replaced only by a state at least as new (state_at, then
-- state_rank): two events for a subscription that has no row yet both insert, and the
-- one that loses the race must not overwrite a newer state. 0 rows: the state was stale.
INSERT INTO subscriptions (tenant_id, stripe_subscription_id, plan_id, status, quantity, current_period_end,
    cancel_at_period_end, trial_end, past_due_since, downgraded_at, state_at, state_rank, dunning_at)
VALUES (sqlc.arg(tenant_id), sqlc.arg(stripe_subscription_id), sqlc.arg(plan_id), sqlc.arg(status), sqlc.arg(quantity),
    sqlc.narg(current_period_end), sqlc.arg(cancel_at_period_end), sqlc.narg(trial_end), sqlc.narg(past_due_since),
    sqlc.narg(downgraded_at), sqlc.arg(state_at), sqlc.arg(state_rank), sqlc.narg(dunning_at))
ON CONFLICT (tenant_id) DO UPDATE
SET stripe_subscription_id = excluded.stripe_subscription_id, plan_id = excluded.plan_id, status = excluded.status,
    quantity = excluded.quantity, current_period_end = excluded.current_period_end,
    cancel_at_period_end = excluded.cancel_at_period_end, trial_end = excluded.trial_end,
    past_due_since = excluded.past_due_since, downgraded_at = excluded.downgraded_at, state_at = excluded.state_at,
    state_rank = excluded.state_rank, dunning_at = excluded.dunning_at, updated_at = now()
WHERE subscriptions.tenant_id = sqlc.arg(tenant_id)
  AND (subscriptions.state_at, subscriptions.state_rank) <= (excluded.state_at, excluded.state_rank);

-- name: BillingMemberCount :one
SELECT count(*) FROM memberships WHERE tenant_id = sqlc.arg(tenant_id);

-- name: BillingOwnerIDs :many
SELECT account_id FROM memberships WHERE tenant_id = sqlc.arg(tenant_id) AND role = 'owner' ORDER BY account_id LIMIT 100;

-- name: BillingOrganizationName :one
SELECT name FROM organizations WHERE id = sqlc.arg(tenant_id);

-- name: StripeEventInsert :execrows
INSERT INTO stripe_events (event_id, type, created, payload)
VALUES (sqlc.arg(event_id), sqlc.arg(type), sqlc.arg(created), sqlc.arg(payload))
ON CONFLICT (event_id) DO NOTHING;

-- name: StripeEventPayload :one
SELECT payload FROM stripe_events WHERE event_id = sqlc.arg(event_id);

-- name: StripeEventDone :exec
UPDATE stripe_events SET processed_at = now(), outcome = sqlc.arg(outcome) WHERE event_id = sqlc.arg(event_id);

-- name: StripeEventClaim :execrows
-- Marks an event processed unless it was already: a handler with side effects (emails)
-- claims its event in its own transaction, so a retry after a lost done-mark does not
-- repeat them.
UPDATE stripe_events SET processed_at = now(), outcome = sqlc.arg(outcome)
WHERE event_id = sqlc.arg(event_id) AND processed_at IS NULL;

-- name: EraseBillingCustomers :many
-- The eraser's step: the tenant's customer row, returning its id so the global lookup
-- row goes in the same transaction.
DELETE FROM billing_customers
WHERE tenant_id = sqlc.arg(tenant_id)
RETURNING stripe_customer_id;

-- name: StripeCustomersDeleteMany :execrows
DELETE FROM stripe_customers
WHERE stripe_customer_id = ANY (sqlc.arg(ids)::text[]) AND tenant_id = sqlc.arg(tenant_id);

-- name: EraseSubscriptions :execrows
DELETE FROM subscriptions WHERE tenant_id = sqlc.arg(tenant_id);

-- name: BillingProjectCount :one
-- Plan limits: the tenant's projects, counted in the transaction that creates one.
SELECT count(*) FROM projects WHERE tenant_id = sqlc.arg(tenant_id);

-- name: BillingSeatCount :one
-- Plan limits: the tenant's members and its pending (live) invitations.
SELECT (SELECT count(*) FROM memberships AS m WHERE m.tenant_id = sqlc.arg(tenant_id))::bigint AS members,
       (SELECT count(*) FROM invitations AS i
        WHERE i.tenant_id = sqlc.arg(tenant_id) AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now())::bigint AS pending;
