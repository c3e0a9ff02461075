package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/export"
	"github.com/coditect/coditect/internal/postgres/internal/dbsqlc"
)

// Data exports (internal/export): the exports records, the snapshot the export job
// streams a tenant from, the export_files record of archives, and the importer's
// writes.

var (
	_ export.Store = ExportStore{}
	_ export.Tx    = (*Tx)(nil)
)

// ExportStore adapts Store to the export feature's Store interface.
type ExportStore struct{ *Store }

// InTenantTx implements export.Store: fn runs in one transaction scoped to the
// context's tenant (see Store.InTx).
func (s ExportStore) InTenantTx(ctx context.Context, fn func(export.Tx) error) error {
	return s.InTx(ctx, func(tx *Tx) error { return fn(tx) })
}

// eraseExports deletes a batch of the tenant's exports and expires their archive
// files in the same transaction (export_files outlives the tenant until the purge has
// deleted the files).
func eraseExports(ctx context.Context, r eraseRun) (map[string]int64, error) {
	ids, err := r.q.EraseExports(ctx, dbsqlc.EraseExportsParams{TenantID: r.tenant, Batch: r.limit})
	if err != nil || len(ids) == 0 {
		return one("exports", 0, err)
	}
	if _, err := r.q.ExportFilesExpireMany(ctx, dbsqlc.ExportFilesExpireManyParams{TenantID: r.tenant, ExportIds: ids}); err != nil {
		return nil, err
	}
	return one("exports", int64(len(ids)), nil)
}

func exportFrom(r dbsqlc.Export) (export.Export, error) {
	e := export.Export{ID: export.ID(r.ID), Status: export.Status(r.Status), CreatedAt: r.CreatedAt.UTC(), StartedAt: utcPtr(r.StartedAt),
		CompletedAt: utcPtr(r.CompletedAt), ExpiresAt: utcPtr(r.ExpiresAt), PurgedAt: utcPtr(r.PurgedAt), SizeBytes: r.SizeBytes, Error: r.Error}
	if r.RequestedBy != nil {
		e.RequestedBy = r.RequestedBy.String()
	}
	if r.StorageKey != nil {
		e.StorageKey = *r.StorageKey
	}
	e.Counts = map[string]int64{}
	if len(r.Counts) > 0 {
		if err := json.Unmarshal(r.Counts, &e.Counts); err != nil {
			return export.Export{}, err
		}
	}
	return e, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// ExportGet returns one export of the context's tenant.
func (s *Store) ExportGet(ctx context.Context, id export.ID) (export.Export, error) {
	var out export.Export
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		r, err := q.ExportGet(ctx, dbsqlc.ExportGetParams{TenantID: tenant, ID: uid(id)})
		if err != nil {
			return err
		}
		out, err = exportFrom(r)
		return err
	})
	return out, dbError(err, "export")
}

// ExportList returns a page of the context tenant's exports, newest first.
func (s *Store) ExportList(ctx context.Context, p export.Page) ([]export.Export, error) {
	before, beforeID := p.CreatedAt, uuid.UUID(p.ID)
	if before.IsZero() {
		before, beforeID = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), uuid.Max
	}
	var out []export.Export
	err := s.read(ctx, func(q *dbsqlc.Queries, tenant uuid.UUID) error {
		rows, err := q.ExportList(ctx, dbsqlc.ExportListParams{TenantID: tenant, Limit: pageLimit(p.Limit), BeforeCreatedAt: before, BeforeID: beforeID})
		if err != nil {
			return err
		}
		for _, r := range rows {
			e, err := exportFrom(r)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, dbError(err, "export")
}

// ExportCreate inserts a pending export of the transaction's tenant. Another pending
// or running export of the tenant is a conflict (export.in_progress).
func (tx *Tx) ExportCreate(ctx context.Context, e export.Export) (export.Export, error) {
	var by *uuid.UUID
	if e.RequestedBy != "" {
		u, err := uuid.Parse(e.RequestedBy)
		if err != nil {
			return export.Export{}, coditect.Errorf(coditect.CodeInvalid, "requested_by is not a UUID")
		}
		by = &u
	}
	r, err := tx.q.ExportCreate(ctx, dbsqlc.ExportCreateParams{TenantID: tenantUID(tx.tenant), ID: uid(e.ID), RequestedBy: by})
	if err != nil {
		if coditect.ErrorKind(dbError(err, "export")) == coditect.CodeConflict {
			return export.Export{}, &coditect.Error{Code: export.CodeInProgress, Kind: coditect.CodeConflict,
				Message: "an export of this organization is already under way", Err: err}
		}
		return export.Export{}, dbError(err, "export")
	}
	out, err := exportFrom(r)
	return out, dbError(err, "export")
}

// ExportGetForUpdate reads an export of the transaction's tenant and locks it.
func (tx *Tx) ExportGetForUpdate(ctx context.Context, id export.ID) (export.Export, error) {
	r, err := tx.q.ExportGetForUpdate(ctx, dbsqlc.ExportGetForUpdateParams{TenantID: tenantUID(tx.tenant), ID: uid(id)})
	if err != nil {
		return export.Export{}, dbError(err, "export")
	}
	out, err := exportFrom(r)
	return out, dbError(err, "export")
}

// ExportSave writes an export's state (everything but its id, requester and creation
// time).
func (tx *Tx) ExportSave(ctx context.Context, e export.Export) (export.Export, error) {
	counts := e.Counts
	if counts == nil {
		counts = map[string]int64{}
	}
	b, err := json.Marshal(counts)
	if err != nil {
		return export.Export{}, err
	}
	var key *string
	if e.StorageKey != "" {
		key = &e.StorageKey
	}
	r, err := tx.q.ExportSave(ctx, dbsqlc.ExportSaveParams{TenantID: tenantUID(tx.tenant), ID: uid(e.ID), Status: string(e.Status),
		StartedAt: e.StartedAt, CompletedAt: e.CompletedAt, ExpiresAt: e.ExpiresAt, PurgedAt: e.PurgedAt, StorageKey: key,
		SizeBytes: e.SizeBytes, Counts: b, Error: e.Error})
	if err != nil {
		return export.Export{}, dbError(err, "export")
	}
	out, err := exportFrom(r)
	return out, dbError(err, "export")
}

// ExportFileSave records the transaction tenant's archive file f.ExportID, or moves its
// expiry.
func (tx *Tx) ExportFileSave(ctx context.Context, f export.File) error {
	err := tx.q.ExportFileSave(ctx, dbsqlc.ExportFileSaveParams{OrganizationID: tenantUID(tx.tenant), ExportID: uid(f.ExportID),
		StorageKey: f.StorageKey, ExpiresAt: f.ExpiresAt})
	return dbError(err, "export file")
}

// ExportFileForget removes the record of the transaction tenant's archive file id if
// its expiry has passed, reporting whether it did.
func (tx *Tx) ExportFileForget(ctx context.Context, id export.ID) (bool, error) {
	n, err := tx.q.ExportFileForget(ctx, dbsqlc.ExportFileForgetParams{OrganizationID: tenantUID(tx.tenant), ExportID: uid(id)})
	return n > 0, dbError(err, "export file")
}

// SystemExportFilesExpired returns up to limit archive files of any tenant whose expiry
// has passed, oldest expiry first. export_files is not a tenant table (no RLS, no
// tenant_id): this is a global read, like the session purge's.
func (s *Store) SystemExportFilesExpired(ctx context.Context, limit int) ([]export.File, error) {
	var out []export.File
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.ExportFilesExpired(ctx, int32(max(1, min(limit, 10000))))
		for _, r := range rows {
			out = append(out, export.File{Tenant: coditect.TenantID(r.OrganizationID), ExportID: export.ID(r.ExportID),
				StorageKey: r.StorageKey, ExpiresAt: r.ExpiresAt.UTC()})
		}
		return err
	})
	return out, dbError(err, "export file")
}

// AccountsExisting returns which of ids are accounts of this database.
func (s *Store) AccountsExisting(ctx context.Context, ids []coditect.AccountID) ([]coditect.AccountID, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		in[i] = uid(id)
	}
	var out []coditect.AccountID
	err := s.global(ctx, func(q *dbsqlc.Queries) error {
		rows, err := q.AccountsExisting(ctx, in)
		for _, r := range rows {
			out = append(out, coditect.AccountID(r))
		}
		return err
	})
	return out, dbError(err, "account")
}

// ExportSnapshot runs fn over one REPEATABLE READ, read-only transaction scoped to the
// context's tenant: every page read through the snapshot sees the tenant as it was at
// the first read, so an export is consistent (no task without its project) however
// long it streams. Each page is one round trip; the transaction holds one connection
// for the export's duration.
func (s *Store) ExportSnapshot(ctx context.Context, fn func(export.Snapshot) error) error {
	sc, err := tenantScope(ctx)
	if err != nil {
		return err
	}
	sc.readOnly = true
	err = s.inTx(ctx, sc, func(p *pipeTx) error {
		// Goes out with BEGIN and the SET LOCAL, before any query takes a snapshot.
		if _, err := p.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			return err
		}
		return fn(exportSnapshot{q: dbsqlc.New(p), tenant: uuid.UUID(sc.tenant)})
	})
	return dbError(err, "export")
}

type exportSnapshot struct {
	q      *dbsqlc.Queries
	tenant uuid.UUID
}

func limit32(n int) int32 { return int32(max(1, min(n, 10000))) }

func (s exportSnapshot) Organization(ctx context.Context) (export.OrganizationRow, error) {
	r, err := s.q.ExportOrganizationRow(ctx, s.tenant)
	if err != nil {
		return export.OrganizationRow{}, dbError(err, "organization")
	}
	return export.OrganizationRow{ID: coditect.TenantID(r.ID), Slug: r.Slug, Name: r.Name, CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(), DeletedAt: utcPtr(r.DeletedAt)}, nil
}

func (s exportSnapshot) Members(ctx context.Context, after coditect.AccountID, limit int) ([]export.MemberRow, error) {
	rows, err := s.q.ExportMemberPage(ctx, dbsqlc.ExportMemberPageParams{TenantID: s.tenant, After: uid(after), Limit: limit32(limit)})
	out := make([]export.MemberRow, len(rows))
	for i, r := range rows {
		out[i] = export.MemberRow{TenantID: coditect.TenantID(r.TenantID), AccountID: coditect.AccountID(r.AccountID), Role: coditect.Role(r.Role),
			CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	}
	return out, dbError(err, "membership")
}

func (s exportSnapshot) Workspaces(ctx context.Context, after coditect.WorkspaceID, limit int) ([]export.WorkspaceRow, error) {
	rows, err := s.q.ExportWorkspacePage(ctx, dbsqlc.ExportWorkspacePageParams{TenantID: s.tenant, After: uid(after), Limit: limit32(limit)})
	out := make([]export.WorkspaceRow, len(rows))
	for i, r := range rows {
		out[i] = export.WorkspaceRow{TenantID: coditect.TenantID(r.TenantID), ID: coditect.WorkspaceID(r.ID), Name: r.Name,
			Description: r.Description, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	}
	return out, dbError(err, "workspace")
}

func (s exportSnapshot) Projects(ctx context.Context, after coditect.ProjectID, limit int) ([]export.ProjectRow, error) {
	rows, err := s.q.ExportProjectPage(ctx, dbsqlc.ExportProjectPageParams{TenantID: s.tenant, After: uid(after), Limit: limit32(limit)})
	out := make([]export.ProjectRow, len(rows))
	for i, r := range rows {
		out[i] = export.ProjectRow{TenantID: coditect.TenantID(r.TenantID), ID: coditect.ProjectID(r.ID), WorkspaceID: coditect.WorkspaceID(r.WorkspaceID),
			Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	}
	return out, dbError(err, "project")
}

func (s exportSnapshot) Tasks(ctx context.Context, after coditect.TaskID, limit int) ([]export.TaskRow, error) {
	rows, err := s.q.ExportTaskPage(ctx, dbsqlc.ExportTaskPageParams{TenantID: s.tenant, After: uid(after), Limit: limit32(limit)})
	out := make([]export.TaskRow, len(rows))
	for i, r := range rows {
		t := export.TaskRow{TenantID: coditect.TenantID(r.TenantID), ID: coditect.TaskID(r.ID), ProjectID: coditect.ProjectID(r.ProjectID),
			Title: r.Title, Description: r.Description, Status: r.Status, DueAt: utcPtr(r.DueAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
		if r.AssigneeID != nil {
			a := coditect.AccountID(*r.AssigneeID)
			t.AssigneeID = &a
		}
		out[i] = t
	}
	return out, dbError(err, "task")
}

func (s exportSnapshot) AuditLogs(ctx context.Context, after coditect.AuditLogID, limit int) ([]export.AuditLogRow, error) {
	rows, err := s.q.ExportAuditLogPage(ctx, dbsqlc.ExportAuditLogPageParams{TenantID: s.tenant, After: uid(after), Limit: limit32(limit)})
	out := make([]export.AuditLogRow, len(rows))
	for i, r := range rows {
		a := export.AuditLogRow{TenantID: coditect.TenantID(r.TenantID), ID: coditect.AuditLogID(r.ID), ActorType: r.ActorType, Action: r.Action,
			TargetType: r.TargetType, TargetID: r.TargetID, IP: r.Ip, UserAgent: r.UserAgent, Changes: json.RawMessage(r.Changes), CreatedAt: r.CreatedAt.UTC()}
		if r.ActorID != nil {
			id := r.ActorID.String()
			a.ActorID = &id
		}
		out[i] = a
	}
	return out, dbError(err, "audit log")
}

// ImportOrganization creates the transaction's tenant from an export: its slug and
// domain claims, then the organization row with its original times. A taken slug or
// domain, or an existing organization with that id, is export.tenant_exists.
func (tx *Tx) ImportOrganization(ctx context.Context, o export.OrganizationRow, domain string) error {
	t := tenantUID(tx.tenant)
	if o.ID != tx.tenant {
		return coditect.Errorf(coditect.CodeInvalid, "the organization is not the transaction's tenant")
	}
	exists := func(what string, err error) error {
		return &coditect.Error{Code: export.CodeTenantExists, Kind: coditect.CodeConflict, Message: what + " already exists in this database", Err: err}
	}
	n, err := tx.q.TenantSlugClaim(ctx, dbsqlc.TenantSlugClaimParams{Slug: o.Slug, TenantID: t})
	if err != nil {
		return dbError(err, "organization")
	}
	if n == 0 {
		return exists("an organization with the slug "+o.Slug, nil)
	}
	if domain != "" {
		if n, err = tx.q.TenantDomainClaim(ctx, dbsqlc.TenantDomainClaimParams{Domain: domain, TenantID: t}); err != nil {
			return dbError(err, "organization")
		}
		if n == 0 {
			return exists("the domain "+domain, nil)
		}
	}
	err = tx.q.ImportOrganization(ctx, dbsqlc.ImportOrganizationParams{TenantID: t, Slug: o.Slug, Name: o.Name, CreatedAt: o.CreatedAt,
		UpdatedAt: o.UpdatedAt, DeletedAt: o.DeletedAt})
	if err != nil {
		if coditect.ErrorKind(dbError(err, "organization")) == coditect.CodeConflict {
			return exists("the organization "+o.ID.String(), err)
		}
		return dbError(err, "organization")
	}
	return nil
}

// importRows checks that every row of a batch is the transaction tenant's and marshals
// the batch as the JSON array the Import… statements read (they take the tenant from
// the transaction, never from the rows).
func importRows[R any](tx *Tx, rows []R, tenantOf func(R) coditect.TenantID) ([]byte, error) {
	for _, r := range rows {
		if tenantOf(r) != tx.tenant {
			return nil, coditect.Errorf(coditect.CodeInvalid, "an imported row belongs to another tenant")
		}
	}
	if rows == nil {
		rows = []R{}
	}
	return json.Marshal(rows)
}

// ImportMembers writes memberships (and the account-keyed index) as exported.
func (tx *Tx) ImportMembers(ctx context.Context, rows []export.MemberRow) error {
	b, err := importRows(tx, rows, func(r export.MemberRow) coditect.TenantID { return r.TenantID })
	if err != nil {
		return err
	}
	t := tenantUID(tx.tenant)
	if err := tx.q.ImportMemberships(ctx, dbsqlc.ImportMembershipsParams{TenantID: t, Rows: b}); err != nil {
		return dbError(err, "membership")
	}
	return dbError(tx.q.ImportAccountMemberships(ctx, dbsqlc.ImportAccountMembershipsParams{TenantID: t, Rows: b}), "membership")
}

// ImportWorkspaces writes workspaces as exported.
func (tx *Tx) ImportWorkspaces(ctx context.Context, rows []export.WorkspaceRow) error {
	b, err := importRows(tx, rows, func(r export.WorkspaceRow) coditect.TenantID { return r.TenantID })
	if err != nil {
		return err
	}
	return dbError(tx.q.ImportWorkspaces(ctx, dbsqlc.ImportWorkspacesParams{TenantID: tenantUID(tx.tenant), Rows: b}), "workspace")
}

// ImportProjects writes projects as exported.
func (tx *Tx) ImportProjects(ctx context.Context, rows []export.ProjectRow) error {
	b, err := importRows(tx, rows, func(r export.ProjectRow) coditect.TenantID { return r.TenantID })
	if err != nil {
		return err
	}
	return dbError(tx.q.ImportProjects(ctx, dbsqlc.ImportProjectsParams{TenantID: tenantUID(tx.tenant), Rows: b}), "project")
}

// ImportTasks writes tasks as exported.
func (tx *Tx) ImportTasks(ctx context.Context, rows []export.TaskRow) error {
	b, err := importRows(tx, rows, func(r export.TaskRow) coditect.TenantID { return r.TenantID })
	if err != nil {
		return err
	}
	return dbError(tx.q.ImportTasks(ctx, dbsqlc.ImportTasksParams{TenantID: tenantUID(tx.tenant), Rows: b}), "task")
}

// ImportAuditLogs writes audit rows as exported.
func (tx *Tx) ImportAuditLogs(ctx context.Context, rows []export.AuditLogRow) error {
	b, err := importRows(tx, rows, func(r export.AuditLogRow) coditect.TenantID { return r.TenantID })
	if err != nil {
		return err
	}
	return dbError(tx.q.ImportAuditLogs(ctx, dbsqlc.ImportAuditLogsParams{TenantID: tenantUID(tx.tenant), Rows: b}), "audit log")
}
