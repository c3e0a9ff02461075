package coditect

import "context"

// ActorKind says who is acting: a person, an organization's API key or OAuth client,
// or the platform itself.
type ActorKind string

// The kinds of actor.
const (
	ActorAccount ActorKind = "account" // a signed-in person, via session, JWT or OAuth token
	ActorAPIKey  ActorKind = "api_key" // an organization's API key
	ActorSystem  ActorKind = "system"  // a background job or maintenance task
	// ActorOAuthClient is an organization's OAuth client acting for that organization
	// with a client-credentials access token (no person involved). Like an API key it
	// is bound to its one tenant; its role comes from the token's scopes.
	ActorOAuthClient ActorKind = "oauth_client"
)

// Actor is who a piece of work is done for. Tenant is zero until the request's {org}
// (or a job's tenant_id) has been resolved and checked; the store refuses to touch
// tenant tables without it.
type Actor struct {
	Kind      ActorKind
	AccountID AccountID // set for ActorAccount
	APIKeyID  APIKeyID  // set for ActorAPIKey
	SessionID SessionID // set when the account authenticated with a session
	Tenant    TenantID  // the organization the actor works in; zero = none yet
	Role      Role      // the actor's role in Tenant
	// Delegated marks a person's credential that was issued to a third-party
	// application (an OAuth access token): it acts as the person, but at most with
	// RoleCap in any organization, and never manages the account itself.
	Delegated bool
	RoleCap   Role // with Delegated: the highest role the token allows; "" = no organization access
	// OAuthClientID is set for ActorOAuthClient: the client's id in its tenant.
	OAuthClientID OAuthClientID
}

// SystemActor returns the actor background jobs run as inside one tenant. It holds the
// owner role because jobs act on the platform's behalf, after the request that
// enqueued them was authorized.
func SystemActor(tenant TenantID) Actor {
	return Actor{Kind: ActorSystem, Tenant: tenant, Role: RoleOwner}
}

// ID returns the acting principal's id for audit rows: account id, API key id, OAuth
// client id, or "".
func (a Actor) ID() string {
	if id := a.AuditActorID(); id != nil {
		return formatUUID(*id)
	}
	return ""
}

// AuditActorID returns the acting principal's id as an audit row's actor_id: the
// account, API key or OAuth client id; nil for the system (and an unknown kind).
func (a Actor) AuditActorID() *[16]byte {
	var id [16]byte
	switch a.Kind {
	case ActorAccount:
		id = a.AccountID
	case ActorAPIKey:
		id = a.APIKeyID
	case ActorOAuthClient:
		id = a.OAuthClientID
	default:
		return nil
	}
	return &id
}

// CapRole lowers the actor's role to its delegation cap, if any.
func (a Actor) CapRole() Actor {
	if a.Delegated && (a.RoleCap == "" || !a.RoleCap.AtLeast(a.Role)) {
		a.Role = a.RoleCap
	}
	return a
}

type actorKey struct{}

// WithActor returns a context carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// TenantFrom returns the tenant the context is scoped to. It fails closed: no actor,
// or an actor without a tenant, is an error, never "all tenants".
func TenantFrom(ctx context.Context) (TenantID, error) {
	a, ok := ActorFrom(ctx)
	if !ok || a.Tenant.IsZero() {
		return TenantID{}, Errorf(CodeNoTenant, "no tenant in context")
	}
	return a.Tenant, nil
}
