package coditect

import "context"

// ActorKind says whether a human account or the platform itself is acting.
type ActorKind string

// The kinds of actor.
const (
	ActorAccount ActorKind = "account" // a signed-in person, via session, JWT or OAuth token
	ActorAPIKey  ActorKind = "api_key" // an organization's API key
	ActorSystem  ActorKind = "system"  // a background job or maintenance task
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
}

// SystemActor returns the actor background jobs run as inside one tenant. It holds the
// owner role because jobs act on the platform's behalf, after the request that
// enqueued them was authorized.
func SystemActor(tenant TenantID) Actor {
	return Actor{Kind: ActorSystem, Tenant: tenant, Role: RoleOwner}
}

// ID returns the acting principal's id for audit rows: account id, API key id, or "".
func (a Actor) ID() string {
	switch a.Kind {
	case ActorAccount:
		return a.AccountID.String()
	case ActorAPIKey:
		return a.APIKeyID.String()
	}
	return ""
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
