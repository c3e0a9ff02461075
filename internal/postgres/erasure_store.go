package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/billing"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// Deleting an organization and erasing its tenant (account.DeleteOrganization and
// account.EraseTenant). The deletion itself is a handful of *Tx methods in the
// request's transaction; the erasure is EraseTenantBatch, called until it reports
// done, each call one short transaction scoped to the tenant.

// maxEraseBatch bounds one erase transaction (and erase_tenant_audit_logs refuses more).
const maxEraseBatch = 10000

// OrganizationMarkDeleted sets deleted_at on the transaction's organization and returns
// it. An organization already deleted is not found.
func (tx *Tx) OrganizationMarkDeleted(ctx context.Context) (account.Organization, error) {
	r, err := tx.q.OrganizationMarkDeleted(ctx, tenantUID(tx.tenant))
	if err != nil {
		return account.Organization{}, dbError(err, "organization")
	}
	return account.Organization{ID: coditect.TenantID(r.ID), Slug: r.Slug, Name: r.Name, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

// MembershipDeleteAll removes every membership of the transaction's tenant and the
// matching rows of the account-keyed index (account_memberships, by the account ids
// the delete returned, guarded by the tenant). Tasks assigned to members become
// unassigned (the foreign key's ON DELETE SET NULL).
func (tx *Tx) MembershipDeleteAll(ctx context.Context) (members, index int64, err error) {
	t := tenantUID(tx.tenant)
	ids, err := tx.q.MembershipDeleteAll(ctx, t)
	if err != nil || len(ids) == 0 {
		return 0, 0, dbError(err, "membership")
	}
	n, err := tx.q.AccountMembershipDeleteMany(ctx, dbsqlc.AccountMembershipDeleteManyParams{AccountIds: ids, TenantID: t})
	return int64(len(ids)), n, dbError(err, "membership")
}

// APIKeyRevokeAll revokes every unrevoked API key of the transaction's tenant. The
// prefix rows stay until the tenant is erased, so a presented key is found and seen
// revoked.
func (tx *Tx) APIKeyRevokeAll(ctx context.Context) (int64, error) {
	n, err := tx.q.APIKeyRevokeAll(ctx, tenantUID(tx.tenant))
	return n, dbError(err, "API key")
}

// OAuthClientRevokeAll revokes every active OAuth client of the transaction's tenant;
// their codes and tokens stop working at once.
func (tx *Tx) OAuthClientRevokeAll(ctx context.Context) (int64, error) {
	n, err := tx.q.OAuthClientRevokeAll(ctx, tenantUID(tx.tenant))
	return n, dbError(err, "OAuth client")
}

// InvitationRevokeAll revokes every pending invitation of the transaction's tenant.
func (tx *Tx) InvitationRevokeAll(ctx context.Context) (int64, error) {
	n, err := tx.q.InvitationRevokeAll(ctx, tenantUID(tx.tenant))
	return n, dbError(err, "invitation")
}

// TenantDeletionCreate writes the deletion record of the transaction's tenant (the
// OrganizationID in d is ignored: it is always the transaction's tenant). A second
// record for one organization is a conflict.
func (tx *Tx) TenantDeletionCreate(ctx context.Context, d account.TenantDeletion) error {
	counts := d.RowsDeleted
	if counts == nil {
		counts = map[string]int64{}
	}
	rows, err := json.Marshal(counts)
	if err != nil {
		return err
	}
	domains := d.Domains
	if domains == nil {
		domains = []string{}
	}
	err = tx.q.TenantDeletionCreate(ctx, dbsqlc.TenantDeletionCreateParams{OrganizationID: tenantUID(tx.tenant), Slug: d.Slug, Name: d.Name,
		Domains: domains, RequestedBy: optUID(d.RequestedBy), RowsDeleted: rows})
	return dbError(err, "organization deletion")
}

// TenantDeletionGet returns the deletion record of the context's tenant; not found
// when the organization was never deleted.
func (s *Store) TenantDeletionGet(ctx context.Context) (account.TenantDeletion, error) {
	var out account.TenantDeletion
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.TenantDeletionGet(ctx, tenant)
		if err != nil {
			return err
		}
		out = account.TenantDeletion{OrganizationID: coditect.TenantID(r.OrganizationID), Slug: r.Slug, Name: r.Name, Domains: r.Domains,
			RequestedBy: optAccount(r.RequestedBy), RequestedAt: r.RequestedAt, StartedAt: r.StartedAt, CompletedAt: r.CompletedAt}
		return json.Unmarshal(r.RowsDeleted, &out.RowsDeleted)
	})
	return out, dbError(err, "organization deletion")
}

// eraseRun is one erase transaction.
type eraseRun struct {
	s      *Store
	p      *pipeTx
	q      *dbsqlc.Queries
	tenant uuid.UUID
	limit  int32
}

// eraseStep empties one table of the tenant, a batch per call, keeping the global
// lookups that point at its rows in step (deleted in the same transaction, by the
// values the batch returned, so a crash can never strand a lookup row).
type eraseStep struct {
	table   string   // the table the step empties; its count decides whether the step is done
	lookups []string // global lookup tables whose rows go with the table's
	run     func(ctx context.Context, r eraseRun) (map[string]int64, error)
}

func one(table string, n int64, err error) (map[string]int64, error) {
	return map[string]int64{table: n}, err
}

// eraseSteps lists, in foreign-key-safe order, every table that holds a tenant's rows.
// The organization row (and the slug and domain lookups) go last, in eraseFinish.
// TestEraserCoversEveryTenantTable fails when a tenant table or a table with a
// tenant_id column is missing here.
var eraseSteps = []eraseStep{
	{table: "river_job", run: eraseJobs},
	{table: "tasks", run: func(ctx context.Context, r eraseRun) (map[string]int64, error) {
		n, err := r.q.EraseTasks(ctx, dbsqlc.EraseTasksParams{TenantID: r.tenant, Batch: r.limit})
		return one("tasks", n, err)
	}},
	{table: "projects", run: func(ctx context.Context, r eraseRun) (map[string]int64, error) {
		n, err := r.q.EraseProjects(ctx, dbsqlc.EraseProjectsParams{TenantID: r.tenant, Batch: r.limit})
		return one("projects", n, err)
	}},
	{table: "workspaces", run: func(ctx context.Context, r eraseRun) (map[string]int64, error) {
		n, err := r.q.EraseWorkspaces(ctx, dbsqlc.EraseWorkspacesParams{TenantID: r.tenant, Batch: r.limit})
		return one("workspaces", n, err)
	}},
	{table: "exports", run: eraseExports},
	{table: "usage_hourly", run: eraseUsageHourly},
	{table: "usage_daily", run: eraseUsageDaily},
	{table: "subscriptions", run: eraseSubscriptions},
	{table: "billing_customers", lookups: []string{"stripe_customers"}, run: eraseBillingCustomers},
	{table: "invitations", lookups: []string{"invitation_tokens"}, run: func(ctx context.Context, r eraseRun) (map[string]int64, error) {
		hashes, err := r.q.EraseInvitations(ctx, dbsqlc.EraseInvitationsParams{TenantID: r.tenant, Batch: r.limit})
		if err != nil || len(hashes) == 0 {
			return one("invitations", 0, err)
		}
		n, err := r.q.InvitationTokensDeleteMany(ctx, dbsqlc.InvitationTokensDeleteManyParams{TokenHashes: hashes, TenantID: r.tenant})
		return map[string]int64{"invitations": int64(len(hashes)), "invitation_tokens": n}, err
	}},
	{table: "api_keys", lookups: []string{"api_key_prefixes"}, run: func(ctx context.Context, r eraseRun) (map[string]int64, error) {
		prefixes, err := r.q.EraseAPIKeys(ctx, dbsqlc.EraseAPIKeysParams{TenantID: r.tenant, Batch: r.limit})
		if err != nil || len(prefixes) == 0 {
			return one("api_keys", 0, err)
		}
		n, err := r.q.APIKeyPrefixesDeleteMany(ctx, dbsqlc.APIKeyPrefixesDeleteManyParams{Prefixes: prefixes, TenantID: r.tenant})
		return map[string]int64{"api_keys": int64(len(prefixes)), "api_key_prefixes": n}, err
	}},
	{table: "idempotency_keys", run: func(ctx context.Context, r eraseRun) (map[string]int64, error) {
		n, err := r.q.EraseIdempotencyKeys(ctx, dbsqlc.EraseIdempotencyKeysParams{TenantID: r.tenant, Batch: r.limit})
		return one("idempotency_keys", n, err)
	}},
	{table: "oauth_clients", lookups: []string{"oauth_client_ids"}, run: func(ctx context.Context, r eraseRun) (map[string]int64, error) {
		ids, err := r.q.EraseOAuthClients(ctx, dbsqlc.EraseOAuthClientsParams{TenantID: r.tenant, Batch: r.limit})
		if err != nil || len(ids) == 0 {
			return one("oauth_clients", 0, err)
		}
		n, err := r.q.OAuthClientIDsDeleteMany(ctx, dbsqlc.OAuthClientIDsDeleteManyParams{ClientIds: ids, TenantID: r.tenant})
		return map[string]int64{"oauth_clients": int64(len(ids)), "oauth_client_ids": n}, err
	}},
	{table: "oauth_requests", run: func(ctx context.Context, r eraseRun) (map[string]int64, error) {
		t := r.tenant
		n, err := r.q.EraseOAuthRequests(ctx, dbsqlc.EraseOAuthRequestsParams{TenantID: &t, Batch: r.limit})
		return one("oauth_requests", n, err)
	}},
	{table: "audit_logs", run: func(ctx context.Context, r eraseRun) (map[string]int64, error) {
		n, err := r.q.EraseAuditLogs(ctx, dbsqlc.EraseAuditLogsParams{TenantID: r.tenant, Batch: r.limit})
		return one("audit_logs", n, err)
	}},
	{table: "memberships", lookups: []string{"account_memberships"}, run: func(ctx context.Context, r eraseRun) (map[string]int64, error) {
		ids, err := r.q.EraseMemberships(ctx, dbsqlc.EraseMembershipsParams{TenantID: r.tenant, Batch: r.limit})
		if err != nil || len(ids) == 0 {
			return one("memberships", 0, err)
		}
		n, err := r.q.AccountMembershipDeleteMany(ctx, dbsqlc.AccountMembershipDeleteManyParams{AccountIds: ids, TenantID: r.tenant})
		return map[string]int64{"memberships": int64(len(ids)), "account_memberships": n}, err
	}},
}

// finalTables are the tables eraseFinish empties: the organization row and the slug
// and domain lookups, once everything else is gone.
var finalTables = []string{"organizations", "tenant_slugs", "tenant_domains"}

// ErasedTables lists every table the eraser removes a tenant's rows from, in the order
// it does so. Tests compare it with the manifest and the schema.
func ErasedTables() []string {
	var out []string
	for _, st := range eraseSteps {
		out = append(out, st.table)
		out = append(out, st.lookups...)
	}
	return append(out, finalTables...)
}

// eraseJobs deletes the tenant's River jobs that are not running (queued, scheduled,
// retryable, finished): their arguments name the tenant and would otherwise run
// against, or keep data of, an erased tenant. river_job is coordinator-local, not a
// tenant table; River's GIN index on args finds the rows. Running jobs are left alone
// (River's cleaner removes them once finished), and so are erase jobs (one waiting to
// be retried must survive a run of the eraser outside it) and Stripe cancellations
// (they carry the subscription id and must run after the rows are gone).
func eraseJobs(ctx context.Context, r eraseRun) (map[string]int64, error) {
	match, err := json.Marshal(map[string]coditect.TenantID{"tenant_id": coditect.TenantID(r.tenant)})
	if err != nil {
		return nil, err
	}
	ptx, err := r.p.pgxTx(ctx)
	if err != nil {
		return nil, err
	}
	res, err := r.s.jobs.JobDeleteManyTx(ctx, ptx, river.NewJobDeleteManyParams().First(int(r.limit)).
		Where("args @> @erase_tenant::jsonb", river.NamedArgs{"erase_tenant": match}).
		// The erase job itself, and the cancellation of the Stripe subscription (it
		// carries what it needs, and must outlive the rows).
		Where("kind <> ALL(@keep_kinds::text[])", river.NamedArgs{"keep_kinds": []string{account.EraseArgs{}.Kind(),
			billing.CancelSubscriptionArgs{}.Kind()}}))
	if err != nil {
		return nil, err
	}
	return one("river_job", int64(len(res.Jobs)), nil)
}

// EraseTenantBatch runs one erase transaction for the context's tenant, which must have
// a deletion record (else not found, and nothing is touched). It locks the record and
// the organization row (so no insert into a tenant table can slip in meanwhile), then
// deletes up to limit rows of the first table in eraseSteps that still has any, adding
// the counts to the record's rows_deleted in the same transaction. When every table is
// empty it deletes the organization row, frees the slug and domains and stamps
// completed_at, and reports Done. Every call either makes progress or finishes, and a
// call after completion is a no-op that reports Done.
func (s *Store) EraseTenantBatch(ctx context.Context, limit int) (account.ErasedBatch, error) {
	sc, err := tenantScope(ctx)
	if err != nil {
		return account.ErasedBatch{}, err
	}
	if limit <= 0 || limit > maxEraseBatch {
		return account.ErasedBatch{}, coditect.Errorf(coditect.CodeInvalid, "erase batch must be 1 to %d rows", maxEraseBatch)
	}
	var out account.ErasedBatch
	err = s.inTx(ctx, sc, func(p *pipeTx) error {
		r := eraseRun{s: s, p: p, q: dbsqlc.New(p), tenant: uuid.UUID(sc.tenant), limit: int32(limit)}
		d, err := r.q.TenantDeletionBegin(ctx, r.tenant)
		if err != nil {
			return err
		}
		if d.CompletedAt != nil {
			out.Done = true
			return nil
		}
		org, err := r.q.OrganizationLockDeleted(ctx, r.tenant)
		if err != nil {
			return err
		}
		if len(org) == 1 && org[0] == nil {
			// A record for a live organization would be a bug; never erase one.
			return coditect.Errorf(coditect.CodeConflict, "organization %s is not marked deleted", sc.tenant)
		}
		for _, st := range eraseSteps {
			counts, err := st.run(ctx, r)
			if err != nil {
				return fmt.Errorf("erase %s: %w", st.table, err)
			}
			if counts[st.table] == 0 {
				continue
			}
			out = account.ErasedBatch{Table: st.table, Rows: counts[st.table]}
			return addRows(ctx, r, counts)
		}
		if err := eraseFinish(ctx, r, d.Slug, d.Domains); err != nil {
			return err
		}
		out.Done = true
		return nil
	})
	if err != nil {
		return account.ErasedBatch{}, dbError(err, "organization deletion")
	}
	return out, nil
}

// eraseFinish deletes the organization row (only if marked deleted), frees its slug
// and domains (by the values recorded at deletion, guarded by the tenant) and stamps
// completed_at. It runs when every other table is empty, in the same transaction that
// found them so, with the organization row locked.
func eraseFinish(ctx context.Context, r eraseRun, slug string, domains []string) error {
	orgs, err := r.q.EraseOrganization(ctx, r.tenant)
	if err != nil {
		return err
	}
	slugs, err := r.q.TenantSlugRelease(ctx, dbsqlc.TenantSlugReleaseParams{Slug: slug, TenantID: r.tenant})
	if err != nil {
		return err
	}
	var hosts int64
	if len(domains) > 0 {
		if hosts, err = r.q.TenantDomainsRelease(ctx, dbsqlc.TenantDomainsReleaseParams{Domains: domains, TenantID: r.tenant}); err != nil {
			return err
		}
	}
	if err := addRows(ctx, r, map[string]int64{"organizations": orgs, "tenant_slugs": slugs, "tenant_domains": hosts}); err != nil {
		return err
	}
	return r.q.TenantDeletionComplete(ctx, r.tenant)
}

// addRows adds a batch's nonzero counts to the deletion record.
func addRows(ctx context.Context, r eraseRun, counts map[string]int64) error {
	for k, n := range counts {
		if n == 0 {
			delete(counts, k)
		}
	}
	if len(counts) == 0 {
		return nil
	}
	b, err := json.Marshal(counts)
	if err != nil {
		return err
	}
	return r.q.TenantDeletionAddRows(ctx, dbsqlc.TenantDeletionAddRowsParams{Counts: b, OrganizationID: r.tenant})
}
