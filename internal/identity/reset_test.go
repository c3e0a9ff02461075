package identity_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
	"github.com/coditect/coditect/internal/identity/token"
	"github.com/coditect/coditect/internal/postgres"
	"github.com/coditect/coditect/internal/postgres/postgrestest"
)

// TestPasswordResetEndsSessionsAndOAuthGrants: whoever knew the old password may have
// signed in elsewhere or approved applications; a reset ends both, for that account only.
func TestPasswordResetEndsSessionsAndOAuthGrants(t *testing.T) {
	t.Parallel()
	store, db := postgrestest.NewStore(t)
	admin := postgrestest.Pool(t, db.AdminURL)
	key, err := token.GenerateKey("")
	require.NoError(t, err)
	ks, err := token.NewKeySet(key)
	require.NoError(t, err)
	issuer, err := token.NewIssuer(func() token.KeySet { return ks }, "https://coditect.test", 15*time.Minute, nil)
	require.NoError(t, err)
	svc, err := identity.NewService(identity.Config{
		Argon2:    identity.Argon2Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1},
		AppSecret: []byte("an application secret of at least 32 bytes, for tests"), BaseURL: "https://coditect.test", BaseDomain: "coditect.test",
	}, identity.Deps{Store: store, Accounts: postgres.AccountStore{Store: store}, Tokens: issuer, Throttle: identity.NewMemoryThrottle(nil),
		Mailer: noMail{}, Jobs: store, Grants: store})
	require.NoError(t, err)
	ctx := context.Background()
	ann, err := svc.Signup(ctx, identity.SignupParams{Email: "ann@example.test", Password: password, Name: "Ann", OrganizationName: "Acme"}, identity.Client{})
	require.NoError(t, err)
	bob, err := svc.Signup(ctx, identity.SignupParams{Email: "bob@example.test", Password: password, Name: "Bob", OrganizationName: "Globex"}, identity.Client{})
	require.NoError(t, err)
	for i, acct := range []coditect.AccountID{ann.Account.ID, bob.Account.ID} {
		_, err := admin.Exec(ctx, `INSERT INTO oauth_requests (signature, kind, request_id, client_id, account_id, request, requested_at)
			VALUES ($1, 'access_token', $1, 'c', $2, '{}', now())`, []string{"sig-ann", "sig-bob"}[i], acct.String())
		require.NoError(t, err)
	}

	const tok = "passwordreset_test-token"
	h := sha256.Sum256([]byte(tok))
	require.NoError(t, store.EmailTokenCreate(ctx, identity.EmailToken{Hash: h[:], AccountID: ann.Account.ID, Purpose: identity.PurposePasswordReset,
		Email: "ann@example.test", ExpiresAt: time.Now().Add(time.Hour)}))
	require.NoError(t, svc.ResetPassword(ctx, tok, "a brand new passphrase 9"))

	active := func(sig string) bool {
		var a bool
		require.NoError(t, admin.QueryRow(ctx, "SELECT active FROM oauth_requests WHERE signature = $1", sig).Scan(&a))
		return a
	}
	require.False(t, active("sig-ann"), "Ann's application grants ended")
	require.True(t, active("sig-bob"), "another account's grants are untouched")
	_, err = svc.Refresh(ctx, ann.Tokens.RefreshToken)
	require.Error(t, err, "Ann's sessions ended")
	_, err = svc.Refresh(ctx, bob.Tokens.RefreshToken)
	require.NoError(t, err, "Bob's session lives on")
}
