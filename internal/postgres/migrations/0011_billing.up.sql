-- Billing with Stripe (issue 7): plans as reference data, each organization's Stripe
-- customer and subscription, the global lookup from a Stripe customer to its tenant,
-- and the received webhook events (de-duplicated by event id).

-- The plans and their entitlements. Small, read on every entitlement check and
-- changed only by migrations: a reference table on Citus. A NULL limit is no limit.
-- Stripe prices are configuration (STRIPE_PRICE_<PLAN>), not data.
CREATE TABLE plans (
    id                   text    NOT NULL PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_]{0,31}$'),
    name                 text    NOT NULL,
    position             integer NOT NULL UNIQUE, -- display order, cheapest first
    max_members          integer CHECK (max_members > 0),
    max_projects         integer CHECK (max_projects > 0),
    api_rate_limit       integer NOT NULL CHECK (api_rate_limit > 0), -- requests per minute
    export_allowed       boolean NOT NULL,
    audit_retention_days integer NOT NULL CHECK (audit_retention_days > 0)
);

INSERT INTO plans (id, name, position, max_members, max_projects, api_rate_limit, export_allowed, audit_retention_days) VALUES
    ('free',       'Free',       0, 3,    3,    600,   false, 7),
    ('pro',        'Pro',        1, 25,   50,   3000,  true,  90),
    ('business',   'Business',   2, 250,  NULL, 12000, true,  365),
    ('enterprise', 'Enterprise', 3, NULL, NULL, 60000, true,  2555);

-- An organization's Stripe customer, created lazily by the first checkout or portal
-- visit. usage_reported_through is the last UTC day whose API calls went to Stripe as
-- a meter event.
CREATE TABLE billing_customers (
    tenant_id              uuid        NOT NULL PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    stripe_customer_id     text        NOT NULL CHECK (stripe_customer_id <> ''),
    usage_reported_through date,
    created_at             timestamptz NOT NULL DEFAULT now()
);

-- Stripe customer → tenant, for webhooks: a global lookup keyed by its own value (like
-- tenant_slugs), distributed by stripe_customer_id.
CREATE TABLE stripe_customers (
    stripe_customer_id text NOT NULL PRIMARY KEY,
    tenant_id          uuid NOT NULL
);

-- An organization's subscription as Stripe last told us. One per organization: a new
-- subscription replaces an ended one. state_at and state_rank order the events that
-- set it (event created time, then created < updated < deleted), so an older event
-- arriving late never overwrites a newer state. past_due_since starts dunning;
-- downgraded_at is set by the grace-period job and cleared by a paid invoice. plan_id
-- names a row of plans, checked by billing (which maps Stripe prices to plans): every
-- foreign key of a tenant table includes tenant_id, and plans has none.
CREATE TABLE subscriptions (
    tenant_id              uuid        NOT NULL PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    stripe_subscription_id text        NOT NULL,
    plan_id                text        NOT NULL,
    status                 text        NOT NULL,
    quantity               integer     NOT NULL CHECK (quantity >= 0),
    current_period_end     timestamptz,
    cancel_at_period_end   boolean     NOT NULL DEFAULT false,
    trial_end              timestamptz,
    past_due_since         timestamptz,
    downgraded_at          timestamptz,
    state_at               timestamptz NOT NULL,
    state_rank             smallint    NOT NULL,
    updated_at             timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['billing_customers', 'subscriptions']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
            WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)$p$, t);
    END LOOP;
END
$$;

-- Every Stripe webhook event received, once: the endpoint inserts the row and
-- enqueues its processing job in one transaction, so a duplicate delivery finds the
-- row and does nothing. Not tenant data (the tenant is found while processing);
-- distributed by event_id.
CREATE TABLE stripe_events (
    event_id     text        NOT NULL PRIMARY KEY,
    type         text        NOT NULL,
    created      timestamptz NOT NULL, -- the event's own creation time, at Stripe
    payload      jsonb       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    outcome      text
);

GRANT SELECT ON plans TO coditect_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON billing_customers, stripe_customers, subscriptions, stripe_events TO coditect_app;
