package postgres

// TableClass says how a table is placed on a Citus cluster.
type TableClass string

// The table classes.
const (
	// DistributedByTenant tables hold one tenant's rows, are sharded by the tenant
	// column and co-located with each other; every statement filters that column.
	DistributedByTenant TableClass = "distributed_by_tenant"
	// DistributedByKey tables are global lookups or identities sharded by their own key
	// (email → account, slug → tenant, …).
	DistributedByKey TableClass = "distributed_by_key"
	// Reference tables are small, read-mostly and copied to every node.
	Reference TableClass = "reference"
	// CoordinatorLocal tables stay on the coordinator (River's job tables, migrations).
	CoordinatorLocal TableClass = "coordinator_local"
)

// Table is one row of the manifest.
type Table struct {
	Name   string
	Class  TableClass
	Column string // the distribution column; for DistributedByTenant, the tenant column
}

// Manifest lists every table in the schema with its class. `coditect citus` and the
// query checker read it; a test fails when a migration adds a table it does not list.
func Manifest() []Table {
	return []Table{
		{"organizations", DistributedByTenant, "id"},
		{"memberships", DistributedByTenant, "tenant_id"},
		{"workspaces", DistributedByTenant, "tenant_id"},
		{"projects", DistributedByTenant, "tenant_id"},
		{"tasks", DistributedByTenant, "tenant_id"},
		{"audit_logs", DistributedByTenant, "tenant_id"},
		{"api_keys", DistributedByTenant, "tenant_id"},
		{"idempotency_keys", DistributedByTenant, "tenant_id"},
		{"invitations", DistributedByTenant, "tenant_id"},

		{"accounts", DistributedByKey, "id"},
		{"account_emails", DistributedByKey, "email"},
		{"account_memberships", DistributedByKey, "account_id"},
		{"sessions", DistributedByKey, "account_id"},
		{"tenant_slugs", DistributedByKey, "slug"},
		{"tenant_domains", DistributedByKey, "domain"},
		{"api_key_prefixes", DistributedByKey, "prefix"},
		{"recovery_codes", DistributedByKey, "account_id"},
		{"account_events", DistributedByKey, "account_id"},
		{"email_tokens", DistributedByKey, "token_hash"},
		{"invitation_tokens", DistributedByKey, "token_hash"},

		{"signing_keys", Reference, "id"},

		// OAuth2 / OpenID Connect provider (migration 0003) — add its tables here.
		{"oauth_clients", DistributedByTenant, "tenant_id"},
		{"oauth_client_ids", DistributedByKey, "client_id"},
		{"oauth_requests", DistributedByKey, "signature"},

		// Organization deletion (migration 0005): the record that outlives the tenant,
		// keyed by organization_id (not tenant_id: it is not tenant data).
		{"tenant_deletions", DistributedByKey, "organization_id"},

		// Data exports (migration 0008): the tenant's export requests, and the record of
		// each archive file, which outlives an erased tenant until the purge deletes it.
		{"exports", DistributedByTenant, "tenant_id"},
		{"export_files", DistributedByKey, "organization_id"},

		// Usage metering (migration 0010): API calls per tenant and hour, rolled up per
		// day, and the roll-up's work list of organizations with hourly rows (keyed by
		// organization_id: not tenant data).
		{"usage_hourly", DistributedByTenant, "tenant_id"},
		{"usage_daily", DistributedByTenant, "tenant_id"},
		{"usage_pending", DistributedByKey, "organization_id"},

		// Billing (migration 0011): plans are reference data; each tenant's customer and
		// subscription; the customer → tenant lookup and the webhook event log are keyed
		// by their own values (not tenant data).
		{"plans", Reference, "id"},
		{"billing_customers", DistributedByTenant, "tenant_id"},
		{"subscriptions", DistributedByTenant, "tenant_id"},
		{"stripe_customers", DistributedByKey, "stripe_customer_id"},
		{"stripe_events", DistributedByKey, "event_id"},
		// Platform-wide business numbers (migration 0020): hourly sums over all tenants
		// (no tenant's data) and each organization's last API call, keyed by its own id.
		{"platform_stats_hourly", DistributedByKey, "hour"},
		{"tenant_activity", DistributedByKey, "organization_id"},

		{"schema_migrations", CoordinatorLocal, ""},
		{"river_migration", CoordinatorLocal, ""},
		{"river_job", CoordinatorLocal, ""},
		{"river_leader", CoordinatorLocal, ""},
		{"river_queue", CoordinatorLocal, ""},
		{"river_notification", CoordinatorLocal, ""},
	}
}
