package export

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/coditect/coditect/internal/coditect"
)

// The archive format, version 1.
//
// An export is a gzip-compressed tar ("…tar.gz") of regular files, in this order:
//
//	manifest.json       Manifest: format, version, tenant, export, created_at, and per
//	                    file its row count, byte size and SHA-256 (hex) of the bytes
//	organization.jsonl  exactly one OrganizationRow
//	members.jsonl       MemberRow per membership
//	workspaces.jsonl    WorkspaceRow per workspace
//	projects.jsonl      ProjectRow per project
//	tasks.jsonl         TaskRow per task
//	audit_logs.jsonl    AuditLogRow per audit row
//
// A .jsonl file holds one JSON object per line, each line ending in "\n"; rows are in
// primary key order. Ids are UUID strings, times RFC 3339 UTC with up to microsecond
// precision (the database's), absent optional values null. Every row carries the
// tenant_id it belongs to, which is the manifest's tenant_id.
//
// Not exported, on purpose: password hashes, token and key hashes, secrets (API keys,
// invitations, OAuth clients, sessions), idempotency keys, and accounts themselves
// (accounts are global identities, not tenant data: members reference them by id).
// Tar entries are written with fixed metadata (mode 0600, modification time = the
// export's creation time), so exporting unchanged data twice gives identical bytes.
const (
	FormatName    = "coditect-tenant-export"
	FormatVersion = 1
	ManifestName  = "manifest.json"
)

// The data files of an archive, in the order they are written and imported (parents
// before children, so an import satisfies every foreign key as it goes).
const (
	FileOrganization = "organization.jsonl"
	FileMembers      = "members.jsonl"
	FileWorkspaces   = "workspaces.jsonl"
	FileProjects     = "projects.jsonl"
	FileTasks        = "tasks.jsonl"
	FileAuditLogs    = "audit_logs.jsonl"
)

// DataFiles lists the data files in archive order.
func DataFiles() []string {
	return []string{FileOrganization, FileMembers, FileWorkspaces, FileProjects, FileTasks, FileAuditLogs}
}

// Manifest is manifest.json, the first entry of an archive.
type Manifest struct {
	Format        string            `json:"format"`
	FormatVersion int               `json:"format_version"`
	TenantID      coditect.TenantID `json:"tenant_id"`
	ExportID      ID                `json:"export_id"`
	CreatedAt     time.Time         `json:"created_at"`
	Files         []FileEntry       `json:"files"`
}

// FileEntry describes one data file of the archive.
type FileEntry struct {
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// OrganizationRow is the tenant's organization.
type OrganizationRow struct {
	ID        coditect.TenantID `json:"id"`
	Slug      string            `json:"slug"`
	Name      string            `json:"name"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	DeletedAt *time.Time        `json:"deleted_at"`
}

// MemberRow is one membership: an account (by id) and its role.
type MemberRow struct {
	TenantID  coditect.TenantID  `json:"tenant_id"`
	AccountID coditect.AccountID `json:"account_id"`
	Role      coditect.Role      `json:"role"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// WorkspaceRow is one workspace.
type WorkspaceRow struct {
	TenantID    coditect.TenantID    `json:"tenant_id"`
	ID          coditect.WorkspaceID `json:"id"`
	Name        string               `json:"name"`
	Description string               `json:"description"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
}

// ProjectRow is one project.
type ProjectRow struct {
	TenantID    coditect.TenantID    `json:"tenant_id"`
	ID          coditect.ProjectID   `json:"id"`
	WorkspaceID coditect.WorkspaceID `json:"workspace_id"`
	Name        string               `json:"name"`
	Description string               `json:"description"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
}

// TaskRow is one task.
type TaskRow struct {
	TenantID    coditect.TenantID   `json:"tenant_id"`
	ID          coditect.TaskID     `json:"id"`
	ProjectID   coditect.ProjectID  `json:"project_id"`
	Title       string              `json:"title"`
	Description string              `json:"description"`
	Status      string              `json:"status"`
	AssigneeID  *coditect.AccountID `json:"assignee_id"`
	DueAt       *time.Time          `json:"due_at"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// AuditLogRow is one audit row. ActorID is the acting account's, API key's or OAuth
// client's id (a UUID string), null for the system.
type AuditLogRow struct {
	TenantID   coditect.TenantID   `json:"tenant_id"`
	ID         coditect.AuditLogID `json:"id"`
	ActorType  string              `json:"actor_type"`
	ActorID    *string             `json:"actor_id"`
	Action     string              `json:"action"`
	TargetType string              `json:"target_type"`
	TargetID   string              `json:"target_id"`
	IP         *netip.Addr         `json:"ip"`
	UserAgent  string              `json:"user_agent"`
	Changes    json.RawMessage     `json:"changes"`
	CreatedAt  time.Time           `json:"created_at"`
}
