package postgres_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/audit"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
)

func TestStoreAuditLogSearch(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ann, bob := bn.ownerA.Bytes(), coditect.NewID[coditect.AccountID]().Bytes()
	insert := func(actor [16]byte, action string) {
		err := bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
			return tx.AuditLogInsert(bn.a, audit.Entry{ID: coditect.NewID[coditect.AuditLogID](), ActorType: coditect.ActorAccount, ActorID: &actor, Action: action})
		})
		require.NoError(t, err)
	}
	insert(ann, "project.create")
	insert(bob, "project.create")
	mid := time.Now()
	time.Sleep(5 * time.Millisecond)
	insert(ann, "task.create")

	all, err := bn.store.AuditLogSearch(bn.a, audit.Filter{})
	require.NoError(t, err)
	require.Len(t, all, 3)
	byAnn, err := bn.store.AuditLogSearch(bn.a, audit.Filter{ActorID: &ann})
	require.NoError(t, err)
	require.Len(t, byAnn, 2)
	creates, err := bn.store.AuditLogSearch(bn.a, audit.Filter{Action: "project.create"})
	require.NoError(t, err)
	require.Len(t, creates, 2)
	late, err := bn.store.AuditLogSearch(bn.a, audit.Filter{Since: mid})
	require.NoError(t, err)
	require.Len(t, late, 1)
	require.Equal(t, "task.create", late[0].Action)
	early, err := bn.store.AuditLogSearch(bn.a, audit.Filter{Until: mid})
	require.NoError(t, err)
	require.Len(t, early, 2)
	page, err := bn.store.AuditLogSearch(bn.a, audit.Filter{Limit: 1, BeforeCreatedAt: all[0].CreatedAt, BeforeID: all[0].ID.Bytes()})
	require.NoError(t, err)
	require.Equal(t, all[1].ID, page[0].ID, "pages continue after the cursor")

	t.Run("other tenant sees nothing", func(t *testing.T) {
		list, err := bn.store.AuditLogSearch(bn.b, audit.Filter{ActorID: &ann})
		require.NoError(t, err)
		require.Empty(t, list)
	})
}
