package httpapi

import (
	"context"
	"io"
	"time"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/export"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/oauth"
	"github.com/coditect/coditect/internal/work"
)

// IdentityService is what the API calls on identity: exactly the methods of
// *identity.Service the handlers and the authentication use.
type IdentityService interface {
	Signup(ctx context.Context, p identity.SignupParams, c identity.Client) (identity.SignupResult, error)
	Login(ctx context.Context, p identity.LoginParams, c identity.Client) (identity.Tokens, error)
	Refresh(ctx context.Context, refreshToken string) (identity.Tokens, error)
	Logout(ctx context.Context, a coditect.Actor) error

	AuthenticateAccessToken(ctx context.Context, raw string) (coditect.Actor, error)
	AuthenticateCookie(ctx context.Context, raw string) (coditect.Actor, error)
	CheckCSRF(sid coditect.SessionID, got string) bool

	Me(ctx context.Context, a coditect.Actor, orgs identity.OrgReader) (identity.Me, error)
	Sessions(ctx context.Context, a coditect.Actor) ([]identity.SessionView, error)
	SecurityEvents(ctx context.Context, a coditect.Actor, limit int) ([]identity.AccountEvent, error)
	RevokeSession(ctx context.Context, a coditect.Actor, id coditect.SessionID) error

	MFAStart(ctx context.Context, a coditect.Actor) (identity.MFAEnrollment, error)
	MFAConfirm(ctx context.Context, a coditect.Actor, code string) ([]string, error)
	MFADisable(ctx context.Context, a coditect.Actor, code string) error

	RequestEmailVerification(ctx context.Context, a coditect.Actor) error
	ConfirmEmail(ctx context.Context, token string) error
	RequestPasswordReset(ctx context.Context, email string) error
	ResetPassword(ctx context.Context, token, password string) error
}

// AccountService is what the API calls on account: exactly the methods of
// *account.Service the handlers and the authentication use. Every method but
// ResolveTenant, AuthenticateAPIKey and the invitation-token ones works in the tenant
// of the context's actor and authorizes its role itself.
type AccountService interface {
	ResolveTenant(ctx context.Context, a coditect.Actor, org string) (coditect.Actor, error)
	AuthenticateAPIKey(ctx context.Context, key string) (coditect.Actor, error)

	CreateOrganization(ctx context.Context, name, slug string) (account.Organization, error)
	Organization(ctx context.Context) (account.Organization, error)
	RenameOrganization(ctx context.Context, name, ifMatch string) (account.Organization, error)
	DeleteOrganizationIfMatch(ctx context.Context, ifMatch string) error

	Members(ctx context.Context, p account.Page) ([]account.Membership, error)
	ChangeRole(ctx context.Context, id coditect.AccountID, role coditect.Role) (account.Membership, error)
	RemoveMember(ctx context.Context, id coditect.AccountID) error

	Invite(ctx context.Context, email string, role coditect.Role) (account.Invitation, error)
	Invitations(ctx context.Context, p account.Page) ([]account.Invitation, error)
	RevokeInvitation(ctx context.Context, id coditect.InvitationID) error
	InvitationByToken(ctx context.Context, token string) (account.PendingInvitation, error)
	AcceptInvitation(ctx context.Context, token string, who coditect.AccountID, email string, newAccount *account.Account) (account.Organization, account.Membership, error)

	CreateAPIKey(ctx context.Context, name string, role coditect.Role) (account.CreatedAPIKey, error)
	APIKeys(ctx context.Context, p account.Page) ([]account.APIKey, error)
	RevokeAPIKey(ctx context.Context, id coditect.APIKeyID) error
}

// WorkService is workspaces, projects and tasks: exactly the methods of *work.Service
// the handlers use. Each works in the tenant of the context's actor, authorizes its
// role itself (reads viewer or higher, writes member or higher), validates its input,
// checks If-Match inside its write transaction and writes the change's audit row.
type WorkService interface {
	CreateWorkspace(ctx context.Context, p work.CreateWorkspaceParams) (work.Workspace, error)
	Workspace(ctx context.Context, id coditect.WorkspaceID) (work.Workspace, error)
	Workspaces(ctx context.Context, p work.Page) ([]work.Workspace, error)
	UpdateWorkspace(ctx context.Context, id coditect.WorkspaceID, p work.UpdateWorkspaceParams, ifMatch string) (work.Workspace, error)
	DeleteWorkspace(ctx context.Context, id coditect.WorkspaceID, ifMatch string) error

	CreateProject(ctx context.Context, p work.CreateProjectParams) (work.Project, error)
	Project(ctx context.Context, id coditect.ProjectID) (work.Project, error)
	Projects(ctx context.Context, f work.ProjectFilter, p work.Page) ([]work.Project, error)
	UpdateProject(ctx context.Context, id coditect.ProjectID, p work.UpdateProjectParams, ifMatch string) (work.Project, error)
	DeleteProject(ctx context.Context, id coditect.ProjectID, ifMatch string) error

	CreateTask(ctx context.Context, p work.CreateTaskParams) (work.Task, error)
	Task(ctx context.Context, id coditect.TaskID) (work.Task, error)
	Tasks(ctx context.Context, f work.TaskFilter, p work.Page) ([]work.Task, error)
	UpdateTask(ctx context.Context, id coditect.TaskID, p work.UpdateTaskParams, ifMatch string) (work.Task, error)
	DeleteTask(ctx context.Context, id coditect.TaskID, ifMatch string) error
}

// AuditService is the audit log's reading side (*audit.Service): admin or higher,
// newest first.
type AuditService interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

// ExportService is the organization's data exports: exactly the methods of
// *export.Service the handlers use. Each works in the tenant of the context's actor and
// authorizes its role itself (admin or higher); an unknown id, or another
// organization's, is not found.
type ExportService interface {
	// RequestExport records a pending export and enqueues the job that produces it.
	RequestExport(ctx context.Context) (export.Export, error)
	Export(ctx context.Context, id export.ID) (export.Export, error)
	// Exports returns a page of exports, newest first.
	Exports(ctx context.Context, p export.Page) ([]export.Export, error)
	// Download opens a completed, unexpired export's archive, with its size and a file
	// name for it; the caller closes the reader.
	Download(ctx context.Context, id export.ID) (io.ReadCloser, int64, string, error)
}

// IdempotencyStore keeps Idempotency-Key claims and the responses to replay, per
// tenant (the context's) and principal; postgres.IdempotencyKeys implements it. Each
// change is its own short transaction, visible to a concurrent retry at once.
type IdempotencyStore interface {
	// IdempotencyClaim claims key until expires, or takes over an expired claim (or
	// an unfinished one whose server died, for the same request). False: a live
	// claim exists; look it up.
	IdempotencyClaim(ctx context.Context, principal, key string, requestHash []byte, expires time.Time) (bool, error)
	// IdempotencyComplete stores the response of a claimed key.
	IdempotencyComplete(ctx context.Context, principal, key string, status int, response []byte) error
	// IdempotencyRelease drops an unfinished claim, so a retry runs again.
	IdempotencyRelease(ctx context.Context, principal, key string) error
	// IdempotencyLookup returns a live claim's request hash and, once complete, its
	// status and response (status 0 while the first request runs); not found when
	// there is no live claim.
	IdempotencyLookup(ctx context.Context, principal, key string) (requestHash []byte, status int, response []byte, err error)
}

// OAuthTokenVerifier checks the OAuth provider's opaque access tokens for the API's
// authentication: *oauth.Provider implements it.
type OAuthTokenVerifier interface {
	VerifyAccessToken(ctx context.Context, raw string) (oauth.AccessToken, error)
}

// OAuthClientService is an organization's OAuth client registration: exactly the
// methods of *oauth.Provider the handlers use. Each works in the tenant of the
// context's actor and authorizes its role itself (admin or owner).
type OAuthClientService interface {
	RegisterClient(ctx context.Context, p oauth.ClientParams) (oauth.Client, string, error)
	ListClients(ctx context.Context, p oauth.Page) ([]oauth.Client, error)
	GetClient(ctx context.Context, id oauth.ClientUUID) (oauth.Client, error)
	RevokeClient(ctx context.Context, id oauth.ClientUUID) (oauth.Client, error)
}

// orgReader lets identity.Me read each organization through the account service,
// which authorizes with the tenant-scoped actor Me puts in the context.
type orgReader struct{ accounts AccountService }

// OrganizationGet implements identity.OrgReader.
func (o orgReader) OrganizationGet(ctx context.Context) (account.Organization, error) {
	return o.accounts.Organization(ctx)
}
