package postgres_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
)

func TestStoreAccountEvents(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	ip := netip.MustParseAddr("203.0.113.7")
	for _, ev := range []string{"login.failed", "login.succeeded"} {
		require.NoError(t, bn.store.AccountEventAdd(ctx, identity.AccountEvent{ID: coditect.NewID[coditect.AccountEventID](), AccountID: bn.ownerA,
			Event: ev, IP: &ip, UserAgent: "test"}))
	}
	list, err := bn.store.AccountEvents(ctx, bn.ownerA, 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "login.succeeded", list[0].Event, "newest first")
	require.Equal(t, ip, *list[0].IP)
	one, err := bn.store.AccountEvents(ctx, bn.ownerA, 1)
	require.NoError(t, err)
	require.Len(t, one, 1)

	t.Run("other account sees nothing", func(t *testing.T) {
		list, err := bn.store.AccountEvents(ctx, bn.ownerB, 10)
		require.NoError(t, err)
		require.Empty(t, list)
	})
	t.Run("append-only for the application", func(t *testing.T) {
		conn := appConn(t, bn)
		_, err := conn.Exec(ctx, "DELETE FROM account_events")
		require.ErrorContains(t, err, "permission denied")
	})
}
