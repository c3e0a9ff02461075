package httpapi

import (
	"context"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/oauth"
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
