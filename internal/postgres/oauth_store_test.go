package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/oauth"
	"github.com/coditect/coditect/internal/postgres"
)

func createOAuthClient(t *testing.T, s postgres.OAuthStore, ctx context.Context, clientID string) oauth.Client {
	t.Helper()
	var c oauth.Client
	err := s.InTenantTx(ctx, func(tx oauth.Tx) (err error) {
		c, err = tx.OAuthClientCreate(ctx, oauth.Client{ID: coditect.NewID[oauth.ClientUUID](), ClientID: clientID, Name: "CLI",
			SecretHash: make([]byte, 32), RedirectURIs: []string{"https://app.example/cb"},
			GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid"}})
		return err
	})
	require.NoError(t, err)
	return c
}

func TestOAuthStoreClients(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	s := postgres.OAuthStore{Store: bn.store}
	tenantA, err := coditect.TenantFrom(bn.a)
	require.NoError(t, err)

	c := createOAuthClient(t, s, bn.a, "oc_alpha")
	require.Equal(t, tenantA, c.Tenant)
	require.Equal(t, []string{"https://app.example/cb"}, c.RedirectURIs)
	require.Equal(t, []string{"authorization_code", "refresh_token"}, c.GrantTypes)
	require.Nil(t, c.RevokedAt)

	got, err := s.OAuthClientGet(bn.a, c.ID)
	require.NoError(t, err)
	require.Equal(t, c, got)
	list, err := s.OAuthClientList(bn.a, oauth.Page{})
	require.NoError(t, err)
	require.Equal(t, []oauth.Client{c}, list)

	t.Run("lookup by client_id needs no tenant", func(t *testing.T) {
		tenant, key, err := s.OAuthClientLookup(context.Background(), "oc_alpha")
		require.NoError(t, err)
		require.Equal(t, tenantA, tenant)
		require.Equal(t, c.ID, key)
		_, _, err = s.OAuthClientLookup(context.Background(), "oc_nope")
		requireNotFound(t, err)
	})

	t.Run("a client_id is unique across tenants", func(t *testing.T) {
		err := s.InTenantTx(bn.b, func(tx oauth.Tx) error {
			_, err := tx.OAuthClientCreate(bn.b, oauth.Client{ID: coditect.NewID[oauth.ClientUUID](), ClientID: "oc_alpha", Name: "dup",
				GrantTypes: []string{"client_credentials"}, SecretHash: make([]byte, 32)})
			return err
		})
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
	})

	t.Run("other tenant sees nothing", func(t *testing.T) {
		_, err := s.OAuthClientGet(bn.b, c.ID)
		requireNotFound(t, err)
		list, err := s.OAuthClientList(bn.b, oauth.Page{})
		require.NoError(t, err)
		require.Empty(t, list)
		err = s.InTenantTx(bn.b, func(tx oauth.Tx) error {
			_, err := tx.OAuthClientRevoke(bn.b, c.ID)
			return err
		})
		requireNotFound(t, err)
		got, err := s.OAuthClientGet(bn.a, c.ID)
		require.NoError(t, err)
		require.Nil(t, got.RevokedAt, "tenant B's revoke changed nothing")
	})

	t.Run("no tenant, no client read", func(t *testing.T) {
		_, err := s.OAuthClientGet(context.Background(), c.ID)
		require.Equal(t, coditect.CodeNoTenant, coditect.ErrorCode(err))
	})

	t.Run("row-level security hides clients without a tenant", func(t *testing.T) {
		conn, err := pgx.Connect(context.Background(), bn.db.AppURL)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		var n int
		require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM oauth_clients").Scan(&n))
		require.Zero(t, n)
	})

	t.Run("pages", func(t *testing.T) {
		c2 := createOAuthClient(t, s, bn.a, "oc_beta")
		page, err := s.OAuthClientList(bn.a, oauth.Page{Limit: 1})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, c.ID, page[0].ID)
		page, err = s.OAuthClientList(bn.a, oauth.Page{Limit: 1, CreatedAt: page[0].CreatedAt, ID: page[0].ID})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, c2.ID, page[0].ID)
	})

	t.Run("revoke", func(t *testing.T) {
		var revoked oauth.Client
		err := s.InTenantTx(bn.a, func(tx oauth.Tx) (err error) {
			revoked, err = tx.OAuthClientRevoke(bn.a, c.ID)
			return err
		})
		require.NoError(t, err)
		require.NotNil(t, revoked.RevokedAt)
		err = s.InTenantTx(bn.a, func(tx oauth.Tx) error {
			_, err := tx.OAuthClientRevoke(bn.a, c.ID)
			return err
		})
		requireNotFound(t, err)
	})
}

func TestOAuthStoreRequests(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	s := postgres.OAuthStore{Store: bn.store}
	ctx := context.Background()
	tenantA, err := coditect.TenantFrom(bn.a)
	require.NoError(t, err)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	req := oauth.StoredRequest{Signature: "sig-1", Kind: oauth.KindRefreshToken, RequestID: "req-1", ClientID: "oc_alpha",
		Tenant: tenantA, AccountID: bn.ownerA, Data: []byte(`{"id":"req-1"}`), RequestedAt: time.Now().UTC().Truncate(time.Microsecond),
		ExpiresAt: &exp, Active: true}
	require.NoError(t, s.OAuthRequestCreate(ctx, req))

	got, err := s.OAuthRequestGet(ctx, oauth.KindRefreshToken, "sig-1")
	require.NoError(t, err)
	require.JSONEq(t, string(req.Data), string(got.Data))
	got.Data = req.Data
	got.RequestedAt = got.RequestedAt.UTC()
	e := got.ExpiresAt.UTC()
	got.ExpiresAt = &e
	require.Equal(t, req, got)

	t.Run("kind is part of the key", func(t *testing.T) {
		_, err := s.OAuthRequestGet(ctx, oauth.KindAccessToken, "sig-1")
		requireNotFound(t, err)
		pkce := req
		pkce.Kind = oauth.KindPKCE
		require.NoError(t, s.OAuthRequestCreate(ctx, pkce))
		require.NoError(t, s.OAuthRequestDelete(ctx, oauth.KindPKCE, "sig-1"))
		_, err = s.OAuthRequestGet(ctx, oauth.KindRefreshToken, "sig-1")
		require.NoError(t, err, "deleting the PKCE session left the refresh token")
	})

	t.Run("deactivate is compare-and-set", func(t *testing.T) {
		ok, err := s.OAuthRequestDeactivate(ctx, oauth.KindRefreshToken, "sig-1")
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = s.OAuthRequestDeactivate(ctx, oauth.KindRefreshToken, "sig-1")
		require.NoError(t, err)
		require.False(t, ok)
		got, err := s.OAuthRequestGet(ctx, oauth.KindRefreshToken, "sig-1")
		require.NoError(t, err)
		require.False(t, got.Active)
		ok, err = s.OAuthRequestDeactivate(ctx, oauth.KindRefreshToken, "missing")
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("by request id", func(t *testing.T) {
		for _, sig := range []string{"at-1", "at-2"} {
			at := req
			at.Signature, at.Kind, at.AccountID = sig, oauth.KindAccessToken, coditect.AccountID{}
			require.NoError(t, s.OAuthRequestCreate(ctx, at))
		}
		rt := req
		rt.Signature = "sig-2"
		require.NoError(t, s.OAuthRequestCreate(ctx, rt))
		other := req
		other.Signature, other.RequestID = "sig-3", "req-2"
		require.NoError(t, s.OAuthRequestCreate(ctx, other))

		require.NoError(t, s.OAuthRequestDeleteByRequestID(ctx, oauth.KindAccessToken, "req-1"))
		_, err := s.OAuthRequestGet(ctx, oauth.KindAccessToken, "at-1")
		requireNotFound(t, err)
		_, err = s.OAuthRequestGet(ctx, oauth.KindAccessToken, "at-2")
		requireNotFound(t, err)

		require.NoError(t, s.OAuthRequestDeactivateByRequestID(ctx, oauth.KindRefreshToken, "req-1"))
		got, err := s.OAuthRequestGet(ctx, oauth.KindRefreshToken, "sig-2")
		require.NoError(t, err)
		require.False(t, got.Active)
		got, err = s.OAuthRequestGet(ctx, oauth.KindRefreshToken, "sig-3")
		require.NoError(t, err)
		require.True(t, got.Active, "another grant's token is untouched")
	})

	t.Run("purge removes only expired rows", func(t *testing.T) {
		past := time.Now().Add(-time.Minute)
		old := req
		old.Signature, old.ExpiresAt = "old", &past
		require.NoError(t, s.OAuthRequestCreate(ctx, old))
		forever := req
		forever.Signature, forever.ExpiresAt = "forever", nil
		require.NoError(t, s.OAuthRequestCreate(ctx, forever))
		n, err := bn.store.SystemPurgeExpiredOAuthRequests(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, err = s.OAuthRequestGet(ctx, oauth.KindRefreshToken, "old")
		requireNotFound(t, err)
		_, err = s.OAuthRequestGet(ctx, oauth.KindRefreshToken, "forever")
		require.NoError(t, err)
	})
}
