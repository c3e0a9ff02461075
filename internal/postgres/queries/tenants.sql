-- Organizations (tenants) and the global lookups that find them.

-- name: TenantSlugClaim :execrows
-- Claims a slug for a tenant; 0 rows means the slug is taken.
INSERT INTO tenant_slugs (slug, tenant_id)
VALUES ($1, $2)
ON CONFLICT (slug) DO NOTHING;

-- name: TenantDomainClaim :execrows
INSERT INTO tenant_domains (domain, tenant_id)
VALUES ($1, $2)
ON CONFLICT (domain) DO NOTHING;

-- name: TenantIDBySlug :one
SELECT tenant_id FROM tenant_slugs WHERE slug = $1;

-- name: TenantIDByDomain :one
SELECT tenant_id FROM tenant_domains WHERE domain = $1;

-- name: OrganizationCreate :one
INSERT INTO organizations (id, slug, name)
VALUES (sqlc.arg(tenant_id), sqlc.arg(slug), sqlc.arg(name))
RETURNING id, slug, name, created_at, updated_at;

-- name: OrganizationGet :one
SELECT id, slug, name, created_at, updated_at
FROM organizations
WHERE id = sqlc.arg(tenant_id) AND deleted_at IS NULL;

-- name: MembershipCreate :exec
INSERT INTO memberships (tenant_id, account_id, role)
VALUES ($1, $2, $3);

-- name: MembershipGet :one
SELECT tenant_id, account_id, role, created_at, updated_at
FROM memberships
WHERE tenant_id = $1 AND account_id = $2;
