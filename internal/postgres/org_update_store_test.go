package postgres_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
)

func TestStoreOrganizationRename(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	var renamed account.Organization
	err := bn.store.InTx(bn.a, func(tx *postgres.Tx) error {
		cur, err := tx.OrganizationGetForUpdate(bn.a)
		if err != nil {
			return err
		}
		require.Equal(t, "tenant-a", cur.Name)
		renamed, err = tx.OrganizationRename(bn.a, "Tenant A, renamed")
		require.True(t, renamed.UpdatedAt.After(cur.UpdatedAt) || renamed.UpdatedAt.Equal(cur.UpdatedAt))
		return err
	})
	require.NoError(t, err)
	require.Equal(t, "Tenant A, renamed", renamed.Name)
	require.Equal(t, "tenant-a", renamed.Slug)
	got, err := bn.store.OrganizationGet(bn.a)
	require.NoError(t, err)
	require.Equal(t, renamed, got)

	t.Run("other tenant sees nothing", func(t *testing.T) {
		t.Parallel()
		err := bn.store.InTx(bn.b, func(tx *postgres.Tx) error {
			cur, err := tx.OrganizationGetForUpdate(bn.b)
			require.NoError(t, err)
			require.Equal(t, "tenant-b", cur.Name, "B's own organization only")
			_, err = tx.OrganizationRename(bn.b, "B")
			return err
		})
		require.NoError(t, err)
		a, err := bn.store.OrganizationGet(bn.a)
		require.NoError(t, err)
		require.Equal(t, "Tenant A, renamed", a.Name)
	})
	t.Run("a deleted organization is not found", func(t *testing.T) {
		t.Parallel()
		c, _ := newTenant(t, bn.store, "tenant-c")
		err := bn.store.InTx(c, func(tx *postgres.Tx) error {
			_, err := tx.OrganizationMarkDeleted(c)
			return err
		})
		require.NoError(t, err)
		err = bn.store.InTx(c, func(tx *postgres.Tx) error {
			_, err := tx.OrganizationGetForUpdate(c)
			return err
		})
		require.True(t, coditect.IsNotFound(err), "%v", err)
		err = bn.store.InTx(c, func(tx *postgres.Tx) error {
			_, err := tx.OrganizationRename(c, "Zombie")
			return err
		})
		require.True(t, coditect.IsNotFound(err), "%v", err)
	})
}

func TestStoreIdempotencyKeyAdapter(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	keys := postgres.IdempotencyKeys{Store: bn.store}
	expires := time.Now().Add(time.Hour)
	hash := []byte("request hash")

	ok, err := keys.IdempotencyClaim(bn.a, "account:1", "k", hash, expires)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = keys.IdempotencyClaim(bn.a, "account:1", "k", hash, expires)
	require.NoError(t, err)
	require.False(t, ok, "a live claim")
	gotHash, status, body, err := keys.IdempotencyLookup(bn.a, "account:1", "k")
	require.NoError(t, err)
	require.Equal(t, hash, gotHash)
	require.Zero(t, status, "in progress")
	require.Nil(t, body)

	// Released, the key can be claimed again.
	require.NoError(t, keys.IdempotencyRelease(bn.a, "account:1", "k"))
	_, _, _, err = keys.IdempotencyLookup(bn.a, "account:1", "k")
	require.True(t, coditect.IsNotFound(err))
	ok, err = keys.IdempotencyClaim(bn.a, "account:1", "k", hash, expires)
	require.NoError(t, err)
	require.True(t, ok)

	// Completed, it stays: releasing it does nothing.
	require.NoError(t, keys.IdempotencyComplete(bn.a, "account:1", "k", 201, []byte("sealed")))
	require.NoError(t, keys.IdempotencyRelease(bn.a, "account:1", "k"))
	_, status, body, err = keys.IdempotencyLookup(bn.a, "account:1", "k")
	require.NoError(t, err)
	require.Equal(t, 201, status)
	require.Equal(t, []byte("sealed"), body)

	t.Run("other tenant sees nothing", func(t *testing.T) {
		t.Parallel()
		_, _, _, err := keys.IdempotencyLookup(bn.b, "account:1", "k")
		require.True(t, coditect.IsNotFound(err))
		require.NoError(t, keys.IdempotencyRelease(bn.b, "account:1", "k"))
		require.True(t, coditect.IsNotFound(keys.IdempotencyComplete(bn.b, "account:1", "k", 500, []byte("x"))))
		ok, err := keys.IdempotencyClaim(bn.b, "account:1", "k", []byte("other"), expires)
		require.NoError(t, err)
		require.True(t, ok, "B's key of the same name is its own")
		_, status, body, err := keys.IdempotencyLookup(bn.a, "account:1", "k")
		require.NoError(t, err)
		require.Equal(t, 201, status)
		require.Equal(t, []byte("sealed"), body, "A's record unchanged")
	})
}
