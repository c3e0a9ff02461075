// Package export produces and reads archives of one tenant's data: an admin requests
// an export (RequestExport), a background job streams every row of the tenant into a
// gzip-compressed tar of JSON Lines files with a manifest of counts and checksums
// (Service.Run), the admin downloads it until it expires (Download), a periodic job
// deletes expired archives (PurgeExpired), and `coditect tenant import` loads an
// archive into a database that does not have the tenant (Import).
//
// Memory stays flat however large the tenant: rows travel from the database in keyset
// pages (PageSize rows, one round trip each) straight into temporary JSONL files, and
// from those into the tar/gzip stream written to the Files store; the importer does the
// reverse. Nothing holds more than one page of rows.
//
// The archive format is documented on Manifest and the row types in format.go.
package export

import (
	"context"
	"encoding/hex"
	"io"
	"time"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
)

// Error codes the export feature adds to the vocabulary. Each has a generic Kind that
// decides its HTTP status.
const (
	// CodeInProgress: an export of the tenant is already pending or running (409).
	CodeInProgress coditect.Code = "export.in_progress"
	// CodeNotReady: the export has not completed yet (409).
	CodeNotReady coditect.Code = "export.not_ready"
	// CodeFailed: the export failed; there is nothing to download (409).
	CodeFailed coditect.Code = "export.failed"
	// CodeExpired: the export expired and its archive is (or is about to be) deleted.
	// Its Kind is not_found (404), the nearest generic code there is; a generic "gone"
	// code mapped to 410 would fit it better.
	CodeExpired coditect.Code = "export.expired"
	// CodeBadArchive: Import was given something that is not a valid, intact export.
	CodeBadArchive coditect.Code = "export.bad_archive"
	// CodeTenantExists: Import found the organization (or its slug) in the database.
	CodeTenantExists coditect.Code = "export.tenant_exists"
)

// ID identifies an export inside its tenant. Its text form is a canonical UUID.
type ID [16]byte

// NewID returns a fresh time-ordered export id.
func NewID() ID { return coditect.NewID[ID]() }

// ParseID parses a canonical UUID.
func ParseID(s string) (ID, error) { return coditect.ParseID[ID](s) }

// IsZero reports whether the id is unset.
func (id ID) IsZero() bool { return id == ID{} }

// Bytes returns the 16 raw bytes, for adapters that store UUIDs natively.
func (id ID) Bytes() [16]byte { return id }

// String returns the canonical lowercase form.
func (id ID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
	return string(b[:])
}

// MarshalText implements encoding.TextMarshaler, so ids are JSON strings.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Status is where an export is in its life (the API's export status).
type Status string

// The export statuses.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
)

// Export is one requested export of a tenant's data.
type Export struct {
	ID     ID     `json:"id"`
	Status Status `json:"status"`
	// RequestedBy is the requesting principal's id (account, API key or OAuth client,
	// as in audit rows), "" for the system.
	RequestedBy string     `json:"requested_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	// ExpiresAt is when a completed export stops being downloadable.
	ExpiresAt *time.Time `json:"expires_at"`
	// Expired is true once ExpiresAt has passed (the archive is or will soon be deleted).
	// The service computes it when it reads an export.
	Expired bool `json:"expired"`
	// SizeBytes is the archive's size, once completed.
	SizeBytes int64 `json:"size_bytes"`
	// Counts is the number of rows of each file in the archive, by file name without
	// ".jsonl" ("tasks", "audit_logs", …), once completed.
	Counts map[string]int64 `json:"counts"`
	// Error is a message safe to show when the export failed.
	Error string `json:"error,omitempty"`

	// PurgedAt is when the purge deleted the archive.
	PurgedAt *time.Time `json:"-"`
	// StorageKey is where the archive is kept in the Files store.
	StorageKey string `json:"-"`
}

// Page asks for up to Limit exports, newest first, before the position (CreatedAt, ID)
// of the last export of the previous page; the zero Page is the first page.
type Page struct {
	Limit     int
	CreatedAt time.Time
	ID        [16]byte
}

// ExportArgs is the job that produces one export. It belongs to the export's tenant.
type ExportArgs struct {
	coditect.TenantJob
	ExportID ID `json:"export_id"`
}

// Kind implements coditect.Job.
func (ExportArgs) Kind() string { return "export.run" }

// File is an archive file the store tracks until it is deleted (export_files).
type File struct {
	Tenant     coditect.TenantID
	ExportID   ID
	StorageKey string
	ExpiresAt  time.Time
}

// Files keeps the archives: the local directory (storage.Dir) by default, object
// storage later. A missing key is an error matching fs.ErrNotExist; the writer Create
// returns publishes on Close and, if it has an Abort() error method, is aborted with it
// on failure (see package storage for the full contract).
type Files interface {
	Create(ctx context.Context, key string) (io.WriteCloser, error)
	Open(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Delete(ctx context.Context, key string) error
}

// Store is what the export feature needs from the database. Every method but the
// System… and account ones works in the context's tenant; unknown ids and another
// tenant's ids are not found.
type Store interface {
	// InTenantTx runs fn in one transaction scoped to the context's tenant.
	InTenantTx(ctx context.Context, fn func(Tx) error) error
	ExportGet(ctx context.Context, id ID) (Export, error)
	ExportList(ctx context.Context, p Page) ([]Export, error)
	// ExportSnapshot runs fn over one consistent, read-only view of the context
	// tenant's data (a REPEATABLE READ transaction): every page read through the
	// Snapshot sees the data as it was when the first one ran.
	ExportSnapshot(ctx context.Context, fn func(Snapshot) error) error

	// SystemExportFilesExpired returns up to limit archive files, of any tenant, whose
	// expiry has passed (a declared cross-tenant maintenance read of export_files,
	// which is not tenant data).
	SystemExportFilesExpired(ctx context.Context, limit int) ([]File, error)
	// AccountsExisting returns which of ids are accounts of this database.
	AccountsExisting(ctx context.Context, ids []coditect.AccountID) ([]coditect.AccountID, error)
}

// Tx is everything the export feature changes inside one tenant-scoped transaction.
type Tx interface {
	// ExportCreate inserts a pending export; a pending or running export of the
	// tenant already there is a conflict with code CodeInProgress.
	ExportCreate(ctx context.Context, e Export) (Export, error)
	// ExportGetForUpdate reads an export and locks it until the transaction ends.
	ExportGetForUpdate(ctx context.Context, id ID) (Export, error)
	// ExportSave writes an export's status, times, size, counts, key and error.
	ExportSave(ctx context.Context, e Export) (Export, error)
	// ExportFileSave records (or moves the expiry of) the transaction tenant's archive
	// file f.ExportID; f.Tenant is ignored.
	ExportFileSave(ctx context.Context, f File) error
	// ExportFileForget removes the record of an archive file whose expiry has passed;
	// it reports whether there was one (a record whose expiry moved is kept).
	ExportFileForget(ctx context.Context, id ID) (bool, error)
	AuditLogInsert(ctx context.Context, e audit.Entry) error
	// Enqueue adds a job of this tenant, run only if the transaction commits.
	Enqueue(ctx context.Context, job coditect.TenantBoundJob) error

	// The importer's writes: rows exactly as exported (ids and times included) into
	// the transaction's tenant. ImportOrganization also claims the slug and, when domain
	// is not empty, the domain (taken → CodeTenantExists); an organization with that id
	// already there is CodeTenantExists too. ImportMembers also writes the
	// account-keyed index of memberships.
	ImportOrganization(ctx context.Context, o OrganizationRow, domain string) error
	ImportMembers(ctx context.Context, rows []MemberRow) error
	ImportWorkspaces(ctx context.Context, rows []WorkspaceRow) error
	ImportProjects(ctx context.Context, rows []ProjectRow) error
	ImportTasks(ctx context.Context, rows []TaskRow) error
	ImportAuditLogs(ctx context.Context, rows []AuditLogRow) error
}

// Snapshot reads the tenant's rows for an export, a keyset page at a time: up to
// limit rows whose key is greater than after, in key order (the zero key starts).
// Each call is one round trip.
type Snapshot interface {
	Organization(ctx context.Context) (OrganizationRow, error)
	Members(ctx context.Context, after coditect.AccountID, limit int) ([]MemberRow, error)
	Workspaces(ctx context.Context, after coditect.WorkspaceID, limit int) ([]WorkspaceRow, error)
	Projects(ctx context.Context, after coditect.ProjectID, limit int) ([]ProjectRow, error)
	Tasks(ctx context.Context, after coditect.TaskID, limit int) ([]TaskRow, error)
	AuditLogs(ctx context.Context, after coditect.AuditLogID, limit int) ([]AuditLogRow, error)
}
