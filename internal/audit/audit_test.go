package audit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
)

// failingReader fails the test if the service reaches the store: role and input checks
// must come first.
type failingReader struct{ t *testing.T }

func (f failingReader) AuditLogSearch(context.Context, Filter) ([]Entry, error) {
	f.t.Fatal("store reached")
	return nil, nil
}

func TestListChecksRoleAndInputFirst(t *testing.T) {
	t.Parallel()
	s := NewService(failingReader{t})
	tenant := coditect.NewID[coditect.TenantID]()
	member := coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, Tenant: tenant, Role: coditect.RoleMember})
	_, err := s.List(member, Filter{})
	require.Equal(t, coditect.CodeForbidden, coditect.ErrorCode(err))
	admin := coditect.WithActor(context.Background(), coditect.Actor{Kind: coditect.ActorAccount, Tenant: tenant, Role: coditect.RoleAdmin})
	now := time.Now()
	_, err = s.List(admin, Filter{Since: now, Until: now.Add(-time.Hour)})
	require.Equal(t, coditect.CodeInvalid, coditect.ErrorCode(err))
	_, err = s.List(context.Background(), Filter{})
	require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
}
