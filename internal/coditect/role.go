package coditect

// Role is a member's or API key's level inside one organization.
type Role string

// The roles, lowest to highest.
const (
	RoleViewer Role = "viewer" // read everything in the organization
	RoleMember Role = "member" // write work items
	RoleAdmin  Role = "admin"  // members, invitations, API keys, audit logs, exports
	RoleOwner  Role = "owner"  // billing, deleting the organization
)

// Roles returns every role from lowest to highest.
func Roles() []Role { return []Role{RoleViewer, RoleMember, RoleAdmin, RoleOwner} }

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleMember:
		return 2
	case RoleAdmin:
		return 3
	case RoleOwner:
		return 4
	}
	return 0
}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r is min or higher. An unknown role is below everything.
func (r Role) AtLeast(min Role) bool { return r.rank() > 0 && r.rank() >= min.rank() }
