package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/postgres"
)

func TestStoreWorkLocksAndCounts(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	w := createWorkspace(t, bn, bn.a, "W")
	p := createProject(t, bn, bn.a, w.ID, "P")
	task := createTask(t, bn, bn.a, p.ID, "T1")
	createTask(t, bn, bn.a, p.ID, "T2")

	err := bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
		gw, err := tx.WorkspaceGetForUpdate(bn.a, w.ID)
		require.NoError(t, err)
		require.Equal(t, "W", gw.Name)
		gp, err := tx.ProjectGetForUpdate(bn.a, p.ID)
		require.NoError(t, err)
		require.Equal(t, "P", gp.Name)
		gt, err := tx.TaskGetForUpdate(bn.a, task.ID)
		require.NoError(t, err)
		require.Equal(t, "T1", gt.Title)
		n, err := tx.ProjectCountInWorkspace(bn.a, w.ID)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = tx.TaskCountInProject(bn.a, p.ID)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		n, err = tx.TaskCountInWorkspace(bn.a, w.ID)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		return nil
	})
	require.NoError(t, err)

	t.Run("other tenant sees nothing", func(t *testing.T) {
		err := bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			_, err := tx.WorkspaceGetForUpdate(bn.b, w.ID)
			requireNotFound(t, err)
			_, err = tx.ProjectGetForUpdate(bn.b, p.ID)
			requireNotFound(t, err)
			_, err = tx.TaskGetForUpdate(bn.b, task.ID)
			requireNotFound(t, err)
			n, err := tx.ProjectCountInWorkspace(bn.b, w.ID)
			require.NoError(t, err)
			require.Zero(t, n)
			n, err = tx.TaskCountInProject(bn.b, p.ID)
			require.NoError(t, err)
			require.Zero(t, n)
			n, err = tx.TaskCountInWorkspace(bn.b, w.ID)
			require.NoError(t, err)
			require.Zero(t, n)
			return nil
		})
		require.NoError(t, err)
	})
}
