package coditect

// Action is something an actor may do inside an organization.
type Action string

// The actions, grouped by the lowest role allowed to take them.
const (
	ActReadOrganization   Action = "organization.read"
	ActReadWork           Action = "work.read"
	ActReadMembers        Action = "members.read"
	ActWriteWork          Action = "work.write"
	ActUpdateOrganization Action = "organization.update"
	ActManageMembers      Action = "members.manage"
	ActManageInvitations  Action = "invitations.manage"
	ActManageAPIKeys      Action = "api_keys.manage"
	ActManageOAuthClients Action = "oauth_clients.manage"
	ActReadAuditLogs      Action = "audit_logs.read"
	ActExport             Action = "exports.manage"
	ActReadBilling        Action = "billing.read"
	ActManageBilling      Action = "billing.manage"
	ActDeleteOrganization Action = "organization.delete"
)

// MinRole is the one permission table: the lowest role that may take an action. An
// unknown action needs a role above owner, so it is denied.
func MinRole(a Action) Role {
	switch a {
	case ActReadOrganization, ActReadWork, ActReadMembers:
		return RoleViewer
	case ActWriteWork:
		return RoleMember
	case ActUpdateOrganization, ActManageMembers, ActManageInvitations, ActManageAPIKeys, ActManageOAuthClients,
		ActReadAuditLogs, ActExport, ActReadBilling:
		return RoleAdmin
	case ActManageBilling, ActDeleteOrganization:
		return RoleOwner
	}
	return Role("")
}

// Authorize returns a forbidden error unless the actor's role in its tenant allows a.
func Authorize(actor Actor, a Action) error {
	if actor.Tenant.IsZero() {
		return Errorf(CodeNoTenant, "no tenant in context")
	}
	min := MinRole(a)
	if min == "" || !actor.Role.AtLeast(min) {
		return &Error{Code: CodeForbidden, Message: "your role in this organization does not allow this (" + string(a) + " needs " + roleName(min) + ")"}
	}
	return nil
}

func roleName(r Role) string {
	if r == "" {
		return "a role nobody has"
	}
	return string(r) + " or higher"
}
