package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/identity/token"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
)

var secret = []byte("keys-test-secret-0123456789abcdef0123")

func TestKeysLifecycle(t *testing.T) {
	t.Parallel()
	store, _ := postgrestest.NewStore(t)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }

	keys, err := identity.NewKeys(ctx, store, secret, 15*time.Minute, clock)
	require.NoError(t, err)
	first := keys.KeySet().Current().ID
	require.NotEmpty(t, first)

	// A second replica starting up loads the same key rather than making another.
	other, err := identity.NewKeys(ctx, store, secret, 15*time.Minute, clock)
	require.NoError(t, err)
	require.Equal(t, first, other.KeySet().Current().ID)

	issuer, err := token.NewIssuer(keys.KeySet, "https://coditect.test", 15*time.Minute, clock)
	require.NoError(t, err)
	acct, sess := coditect.NewID[coditect.AccountID](), coditect.NewID[coditect.SessionID]()
	old, _, err := issuer.Issue(acct, sess)
	require.NoError(t, err)

	require.NoError(t, keys.Rotate(ctx))
	require.NotEqual(t, first, keys.KeySet().Current().ID, "a new key signs after rotation")
	_, err = issuer.Verify(old)
	require.NoError(t, err, "tokens signed with the previous key still verify")
	jwks, err := keys.KeySet().JWKS()
	require.NoError(t, err)
	require.Contains(t, string(jwks), first, "JWKS publishes the previous key too")

	require.NoError(t, other.Refresh(ctx))
	require.Equal(t, keys.KeySet().Current().ID, other.KeySet().Current().ID, "other replicas pick up the rotation")

	// Once retired for longer than twice the token lifetime, the old key drops out.
	now = now.Add(31 * time.Minute)
	require.NoError(t, keys.Refresh(ctx))
	for _, k := range keys.KeySet().Previous() {
		require.NotEqual(t, first, k.ID)
	}

	// The periodic job rotates only once the current key has aged.
	current := keys.KeySet().Current().ID
	require.NoError(t, keys.RotateIfOlder(ctx, 7*24*time.Hour))
	require.Equal(t, current, keys.KeySet().Current().ID, "a fresh key is kept")
	now = now.Add(8 * 24 * time.Hour)
	require.NoError(t, keys.RotateIfOlder(ctx, 7*24*time.Hour))
	require.NotEqual(t, current, keys.KeySet().Current().ID, "an old key is replaced")

	_, err = identity.NewKeys(ctx, store, []byte("another-secret-0123456789abcdef0123456"), 15*time.Minute, clock)
	require.ErrorContains(t, err, "CODITECT_SECRET_KEY", "a changed secret is reported, not silently replaced")
}
