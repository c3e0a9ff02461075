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

// Roles lists every role from lowest to highest.
var Roles = []Role{RoleViewer, RoleMember, RoleAdmin, RoleOwner}

func (r Role) rank() int {
	for i, x := range Roles {
		if x == r {
			return i + 1
		}
	}
	return 0
}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r is min or higher. An unknown role is below everything.
func (r Role) AtLeast(min Role) bool { return r.rank() > 0 && r.rank() >= min.rank() }
