package account_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
)

func TestRenameOrganization(t *testing.T) {
	t.Parallel()
	f := setup(t)
	admin := coditect.WithActor(context.Background(), f.a.admin)
	before, err := f.svc.Organization(admin)
	require.NoError(t, err)
	etag := account.OrganizationETag(before)

	got, err := f.svc.RenameOrganization(admin, "  Acme Corp ", etag)
	require.NoError(t, err)
	require.Equal(t, "Acme Corp", got.Name)
	require.Equal(t, "acme", got.Slug)
	require.NotEqual(t, etag, account.OrganizationETag(got))

	t.Run("a stale If-Match changes nothing", func(t *testing.T) {
		_, err := f.svc.RenameOrganization(admin, "Stale", etag)
		require.Equal(t, coditect.CodePrecondition, coditect.ErrorKind(err))
		now, err := f.svc.Organization(admin)
		require.NoError(t, err)
		require.Equal(t, "Acme Corp", now.Name)
		require.Equal(t, 1, count(t, f, "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'organization.update'", f.a.id))
	})
	t.Run("the same name writes nothing", func(t *testing.T) {
		same, err := f.svc.RenameOrganization(admin, "Acme Corp", "*")
		require.NoError(t, err)
		require.Equal(t, account.OrganizationETag(got), account.OrganizationETag(same))
		require.Equal(t, 1, count(t, f, "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'organization.update'", f.a.id))
	})
	t.Run("validation and roles", func(t *testing.T) {
		for _, name := range []string{"", "   ", strings.Repeat("x", 201), "a\x00b", "tab\tname"} {
			_, err := f.svc.RenameOrganization(admin, name, "")
			require.Equal(t, coditect.CodeInvalid, coditect.ErrorKind(err), "%q", name)
		}
		member := f.a.admin
		member.Role = coditect.RoleMember
		_, err := f.svc.RenameOrganization(coditect.WithActor(context.Background(), member), "Member Inc", "")
		require.Equal(t, coditect.CodeForbidden, coditect.ErrorKind(err))
	})
	t.Run("other tenant sees nothing", func(t *testing.T) {
		b := coditect.WithActor(context.Background(), f.b.admin)
		_, err := f.svc.RenameOrganization(b, "Globex Two", etag)
		require.Equal(t, coditect.CodePrecondition, coditect.ErrorKind(err), "A's tag is not B's")
		renamed, err := f.svc.RenameOrganization(b, "Globex Two", "")
		require.NoError(t, err)
		require.Equal(t, f.b.id, renamed.ID)
		a, err := f.svc.Organization(admin)
		require.NoError(t, err)
		require.Equal(t, "Acme Corp", a.Name)
	})
}

func TestDeleteOrganizationIfMatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	owner := coditect.WithActor(context.Background(), f.a.owner)
	org, err := f.svc.Organization(owner)
	require.NoError(t, err)
	_, err = f.svc.RenameOrganization(owner, "Renamed", "")
	require.NoError(t, err)

	err = f.svc.DeleteOrganizationIfMatch(owner, account.OrganizationETag(org))
	require.Equal(t, coditect.CodePrecondition, coditect.ErrorKind(err))
	now, err := f.svc.Organization(owner)
	require.NoError(t, err, "still there")
	require.NoError(t, f.svc.DeleteOrganizationIfMatch(owner, account.OrganizationETag(now)))
	_, err = f.svc.Organization(owner)
	require.True(t, coditect.IsNotFound(err))
	_, err = f.svc.Organization(coditect.WithActor(context.Background(), f.b.owner))
	require.NoError(t, err, "B untouched")
}

func count(t *testing.T, f fixture, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.admin.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}
