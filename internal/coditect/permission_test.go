package coditect

import "testing"

func TestAuthorizeFollowsRoleOrder(t *testing.T) {
	t.Parallel()
	tenant := NewID[TenantID]()
	cases := []struct {
		role Role
		act  Action
		ok   bool
	}{
		{RoleViewer, ActReadWork, true}, {RoleViewer, ActWriteWork, false}, {RoleMember, ActWriteWork, true},
		{RoleMember, ActManageInvitations, false}, {RoleAdmin, ActManageInvitations, true}, {RoleAdmin, ActManageBilling, false},
		{RoleOwner, ActManageBilling, true}, {RoleOwner, ActDeleteOrganization, true}, {RoleOwner, Action("nope"), false},
		{Role("superuser"), ActReadWork, false},
	}
	for _, c := range cases {
		err := Authorize(Actor{Tenant: tenant, Role: c.role}, c.act)
		if (err == nil) != c.ok {
			t.Errorf("%s %s: got %v", c.role, c.act, err)
		}
		if err != nil && ErrorCode(err) != CodeForbidden {
			t.Errorf("want forbidden, got %v", err)
		}
	}
	if ErrorCode(Authorize(Actor{Role: RoleOwner}, ActReadWork)) != CodeNoTenant {
		t.Error("no tenant must fail closed")
	}
}
