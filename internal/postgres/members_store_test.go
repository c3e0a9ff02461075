package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/account"
	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/postgres"
)

// newAccount creates an account that belongs to no organization yet. Accounts are
// global; the transaction's tenant (ctx) only scopes the transaction.
func newAccount(t *testing.T, bn bundle, ctx context.Context) coditect.AccountID {
	t.Helper()
	id := coditect.NewID[coditect.AccountID]()
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) error {
		return tx.AccountCreate(ctx, account.Account{ID: id, Email: id.String() + "@example.com", Name: "someone", PasswordHash: "x"})
	})
	require.NoError(t, err)
	return id
}

// addMember creates an account and makes it a member of ctx's tenant with role.
func addMember(t *testing.T, bn bundle, ctx context.Context, role coditect.Role) coditect.AccountID {
	t.Helper()
	id := newAccount(t, bn, ctx)
	err := bn.store.InTx(ctx, func(tx *postgres.Tx) error { return tx.MembershipCreate(ctx, id, role) })
	require.NoError(t, err)
	return id
}

// inTx runs fn in one transaction of ctx's tenant.
func inTx(bn bundle, ctx context.Context, fn func(tx *postgres.Tx) error) error {
	return bn.store.InTx(ctx, fn)
}

func memberIDs(list []account.Membership) []coditect.AccountID {
	ids := make([]coditect.AccountID, len(list))
	for i, m := range list {
		ids[i] = m.AccountID
	}
	return ids
}

// accountRoles maps an account's organizations to its role there, from the
// account-keyed index.
func accountRoles(t *testing.T, bn bundle, id coditect.AccountID) map[coditect.TenantID]coditect.Role {
	t.Helper()
	ms, err := bn.store.AccountMemberships(context.Background(), id)
	require.NoError(t, err)
	out := map[coditect.TenantID]coditect.Role{}
	for _, m := range ms {
		out[m.Tenant] = m.Role
	}
	return out
}

func TestStoreMembers(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	tenantA := coditect.MustParseID[coditect.TenantID](tenantOf(t, bn, bn.a))
	tenantB := coditect.MustParseID[coditect.TenantID](tenantOf(t, bn, bn.b))
	m1 := addMember(t, bn, bn.a, coditect.RoleMember)
	m2 := addMember(t, bn, bn.a, coditect.RoleAdmin)

	list, err := bn.store.MembershipList(bn.a, account.Page{})
	require.NoError(t, err)
	require.Equal(t, []coditect.AccountID{bn.ownerA, m1, m2}, memberIDs(list), "oldest first")
	require.Equal(t, tenantA, list[1].Tenant)
	require.Equal(t, coditect.RoleMember, list[1].Role)

	t.Run("pages", func(t *testing.T) {
		var seen []coditect.AccountID
		page := account.Page{Limit: 2}
		for {
			list, err := bn.store.MembershipList(bn.a, page)
			require.NoError(t, err)
			seen = append(seen, memberIDs(list)...)
			if len(list) < page.Limit {
				break
			}
			last := list[len(list)-1]
			page.CreatedAt, page.ID = last.CreatedAt, last.AccountID.Bytes()
		}
		require.Equal(t, []coditect.AccountID{bn.ownerA, m1, m2}, seen)
	})

	var owners int
	require.NoError(t, inTx(bn, bn.a, func(tx *postgres.Tx) (err error) {
		owners, err = tx.MembershipOwnersForUpdate(bn.a)
		return err
	}))
	require.Equal(t, 1, owners)

	require.NoError(t, inTx(bn, bn.a, func(tx *postgres.Tx) error {
		m, err := tx.MembershipGetForUpdate(bn.a, m2)
		require.NoError(t, err)
		require.Equal(t, coditect.RoleAdmin, m.Role)
		require.Equal(t, m2, m.AccountID)
		return tx.MembershipUpdateRole(bn.a, m2, coditect.RoleOwner)
	}))
	got, err := bn.store.MembershipGet(bn.a, m2)
	require.NoError(t, err)
	require.Equal(t, coditect.RoleOwner, got.Role)
	require.Equal(t, map[coditect.TenantID]coditect.Role{tenantA: coditect.RoleOwner}, accountRoles(t, bn, m2),
		"the account-keyed index follows the role")
	require.NoError(t, inTx(bn, bn.a, func(tx *postgres.Tx) (err error) {
		owners, err = tx.MembershipOwnersForUpdate(bn.a)
		return err
	}))
	require.Equal(t, 2, owners)

	t.Run("owners are locked until the transaction ends", func(t *testing.T) {
		conn := appConn(t, bn)
		ctx := context.Background()
		err := inTx(bn, bn.a, func(tx *postgres.Tx) error {
			n, err := tx.MembershipOwnersForUpdate(bn.a)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			// Another transaction cannot lock (so cannot demote) an owner meanwhile.
			other, err := conn.Begin(ctx)
			require.NoError(t, err)
			defer other.Rollback(ctx)
			_, err = other.Exec(ctx, "SET LOCAL app.tenant_id = '"+tenantA.String()+"'")
			require.NoError(t, err)
			_, err = other.Exec(ctx, "SELECT 1 FROM memberships WHERE tenant_id = $1 AND account_id = $2 FOR UPDATE NOWAIT",
				tenantA.String(), m2.String())
			require.ErrorContains(t, err, "could not obtain lock")
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("other tenant sees nothing", func(t *testing.T) {
		list, err := bn.store.MembershipList(bn.b, account.Page{})
		require.NoError(t, err)
		require.Equal(t, []coditect.AccountID{bn.ownerB}, memberIDs(list))
		err = inTx(bn, bn.b, func(tx *postgres.Tx) error {
			_, err := tx.MembershipGetForUpdate(bn.b, m2)
			return err
		})
		requireNotFound(t, err)
		requireNotFound(t, inTx(bn, bn.b, func(tx *postgres.Tx) error { return tx.MembershipUpdateRole(bn.b, m2, coditect.RoleViewer) }))
		requireNotFound(t, inTx(bn, bn.b, func(tx *postgres.Tx) error { return tx.MembershipDelete(bn.b, m2) }))
		require.NoError(t, inTx(bn, bn.b, func(tx *postgres.Tx) (err error) {
			owners, err = tx.MembershipOwnersForUpdate(bn.b)
			return err
		}))
		require.Equal(t, 1, owners, "B counts only its own owner")
		got, err := bn.store.MembershipGet(bn.a, m2)
		require.NoError(t, err)
		require.Equal(t, coditect.RoleOwner, got.Role, "tenant B's attempts changed nothing")
		require.Equal(t, map[coditect.TenantID]coditect.Role{tenantA: coditect.RoleOwner}, accountRoles(t, bn, m2))
	})

	t.Run("a member of two tenants is changed in one only", func(t *testing.T) {
		require.NoError(t, inTx(bn, bn.b, func(tx *postgres.Tx) error { return tx.MembershipCreate(bn.b, m2, coditect.RoleViewer) }))
		require.NoError(t, inTx(bn, bn.b, func(tx *postgres.Tx) error { return tx.MembershipUpdateRole(bn.b, m2, coditect.RoleMember) }))
		require.Equal(t, map[coditect.TenantID]coditect.Role{tenantA: coditect.RoleOwner, tenantB: coditect.RoleMember}, accountRoles(t, bn, m2))
		require.NoError(t, inTx(bn, bn.b, func(tx *postgres.Tx) error { return tx.MembershipDelete(bn.b, m2) }))
		require.Equal(t, map[coditect.TenantID]coditect.Role{tenantA: coditect.RoleOwner}, accountRoles(t, bn, m2))
		got, err := bn.store.MembershipGet(bn.a, m2)
		require.NoError(t, err)
		require.Equal(t, coditect.RoleOwner, got.Role)
	})

	require.NoError(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.MembershipDelete(bn.a, m1) }))
	_, err = bn.store.MembershipGet(bn.a, m1)
	requireNotFound(t, err)
	require.Empty(t, accountRoles(t, bn, m1), "the account-keyed index row goes too")
	requireNotFound(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.MembershipDelete(bn.a, m1) }))
	requireNotFound(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.MembershipUpdateRole(bn.a, m1, coditect.RoleAdmin) }))
}

func createInvitation(t *testing.T, bn bundle, ctx context.Context, token string, role coditect.Role, expires time.Time) account.Invitation {
	t.Helper()
	inviter, _ := coditect.ActorFrom(ctx)
	inv := account.Invitation{ID: coditect.NewID[coditect.InvitationID](), Email: token + "@example.com", Role: role,
		InvitedBy: &inviter.AccountID, TokenHash: []byte(token), ExpiresAt: expires}
	require.NoError(t, inTx(bn, ctx, func(tx *postgres.Tx) error { return tx.InvitationCreate(ctx, inv) }))
	return inv
}

func getInvitation(t *testing.T, bn bundle, ctx context.Context, id coditect.InvitationID) account.Invitation {
	t.Helper()
	var out account.Invitation
	require.NoError(t, inTx(bn, ctx, func(tx *postgres.Tx) (err error) {
		out, err = tx.InvitationGetForUpdate(ctx, id)
		return err
	}))
	return out
}

func TestStoreInvitations(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	tenantA := coditect.MustParseID[coditect.TenantID](tenantOf(t, bn, bn.a))
	live := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	inv := createInvitation(t, bn, bn.a, "invite-1", coditect.RoleMember, live)

	got := getInvitation(t, bn, bn.a, inv.ID)
	require.Equal(t, inv.Email, got.Email)
	require.Equal(t, coditect.RoleMember, got.Role)
	require.Equal(t, bn.ownerA, *got.InvitedBy)
	require.Equal(t, []byte("invite-1"), got.TokenHash)
	require.True(t, live.Equal(got.ExpiresAt))
	require.Nil(t, got.AcceptedAt)
	require.Nil(t, got.RevokedAt)

	list, err := bn.store.InvitationList(bn.a, account.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, inv.ID, list[0].ID)

	tenant, id, err := bn.store.InvitationByToken(context.Background(), []byte("invite-1"))
	require.NoError(t, err)
	require.Equal(t, tenantA, tenant)
	require.Equal(t, inv.ID, id)
	_, _, err = bn.store.InvitationByToken(context.Background(), []byte("nope"))
	requireNotFound(t, err)

	t.Run("a token in use is a conflict", func(t *testing.T) {
		dup := account.Invitation{ID: coditect.NewID[coditect.InvitationID](), Email: "dup@example.com", Role: coditect.RoleViewer,
			TokenHash: []byte("invite-1"), ExpiresAt: live}
		err := inTx(bn, bn.b, func(tx *postgres.Tx) error { return tx.InvitationCreate(bn.b, dup) })
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
		list, err := bn.store.InvitationList(bn.b, account.Page{})
		require.NoError(t, err)
		require.Empty(t, list, "nothing of the failed attempt remains")
	})

	t.Run("other tenant sees nothing", func(t *testing.T) {
		joiner := newAccount(t, bn, bn.b)
		list, err := bn.store.InvitationList(bn.b, account.Page{})
		require.NoError(t, err)
		require.Empty(t, list)
		err = inTx(bn, bn.b, func(tx *postgres.Tx) error {
			_, err := tx.InvitationGetForUpdate(bn.b, inv.ID)
			return err
		})
		requireNotFound(t, err)
		requireNotFound(t, inTx(bn, bn.b, func(tx *postgres.Tx) error { return tx.InvitationAccept(bn.b, inv.ID, joiner) }))
		requireNotFound(t, inTx(bn, bn.b, func(tx *postgres.Tx) error { return tx.InvitationRevoke(bn.b, inv.ID) }))
		got := getInvitation(t, bn, bn.a, inv.ID)
		require.Nil(t, got.AcceptedAt, "tenant B's attempts changed nothing")
		require.Nil(t, got.RevokedAt)
		require.Empty(t, accountRoles(t, bn, joiner), "and made no membership")
	})

	joiner := newAccount(t, bn, bn.a)
	require.NoError(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationAccept(bn.a, inv.ID, joiner) }))
	got = getInvitation(t, bn, bn.a, inv.ID)
	require.NotNil(t, got.AcceptedAt)
	require.Equal(t, joiner, *got.AcceptedBy)
	m, err := bn.store.MembershipGet(bn.a, joiner)
	require.NoError(t, err)
	require.Equal(t, coditect.RoleMember, m.Role, "the membership has the invitation's role")
	require.Equal(t, map[coditect.TenantID]coditect.Role{tenantA: coditect.RoleMember}, accountRoles(t, bn, joiner))

	t.Run("an accepted invitation cannot be accepted or revoked again", func(t *testing.T) {
		second := newAccount(t, bn, bn.a)
		requireNotFound(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationAccept(bn.a, inv.ID, second) }))
		requireNotFound(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationRevoke(bn.a, inv.ID) }))
		again := getInvitation(t, bn, bn.a, inv.ID)
		require.Equal(t, joiner, *again.AcceptedBy)
		require.True(t, got.AcceptedAt.Equal(*again.AcceptedAt))
		require.Nil(t, again.RevokedAt)
		require.Empty(t, accountRoles(t, bn, second))
	})

	t.Run("accepting as an existing member rolls back", func(t *testing.T) {
		other := createInvitation(t, bn, bn.a, "invite-member", coditect.RoleAdmin, live)
		err := inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationAccept(bn.a, other.ID, joiner) })
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
		require.Nil(t, getInvitation(t, bn, bn.a, other.ID).AcceptedAt)
		m, err := bn.store.MembershipGet(bn.a, joiner)
		require.NoError(t, err)
		require.Equal(t, coditect.RoleMember, m.Role)
	})

	t.Run("revoked", func(t *testing.T) {
		rev := createInvitation(t, bn, bn.a, "invite-revoked", coditect.RoleViewer, live)
		require.NoError(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationRevoke(bn.a, rev.ID) }))
		first := getInvitation(t, bn, bn.a, rev.ID).RevokedAt
		require.NotNil(t, first)
		require.NoError(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationRevoke(bn.a, rev.ID) }), "revoking twice is fine")
		require.True(t, first.Equal(*getInvitation(t, bn, bn.a, rev.ID).RevokedAt))
		who := newAccount(t, bn, bn.a)
		requireNotFound(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationAccept(bn.a, rev.ID, who) }))
		require.Empty(t, accountRoles(t, bn, who))
		tenant, id, err := bn.store.InvitationByToken(context.Background(), []byte("invite-revoked"))
		require.NoError(t, err, "the token still resolves, to an invitation that says it is revoked")
		require.Equal(t, tenantA, tenant)
		require.Equal(t, rev.ID, id)
		requireNotFound(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationRevoke(bn.a, coditect.NewID[coditect.InvitationID]()) }))
	})

	t.Run("expired", func(t *testing.T) {
		old := createInvitation(t, bn, bn.a, "invite-old", coditect.RoleViewer, time.Now().Add(-time.Minute))
		who := newAccount(t, bn, bn.a)
		requireNotFound(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationAccept(bn.a, old.ID, who) }))
		require.Nil(t, getInvitation(t, bn, bn.a, old.ID).AcceptedAt)
		require.Empty(t, accountRoles(t, bn, who))
	})

	t.Run("set token", func(t *testing.T) {
		pending := createInvitation(t, bn, bn.a, "placeholder", coditect.RoleViewer, live)
		later := live.Add(time.Hour)
		require.NoError(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationSetToken(bn.a, pending.ID, []byte("minted"), later) }))
		require.Equal(t, []byte("minted"), getInvitation(t, bn, bn.a, pending.ID).TokenHash)
		_, _, err := bn.store.InvitationByToken(context.Background(), []byte("placeholder"))
		requireNotFound(t, err)
		tenant, id, err := bn.store.InvitationByToken(context.Background(), []byte("minted"))
		require.NoError(t, err)
		require.Equal(t, tenantA, tenant)
		require.Equal(t, pending.ID, id)

		err = inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.InvitationSetToken(bn.a, pending.ID, []byte("invite-1"), later) })
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err), "a hash in use")
		require.Equal(t, []byte("minted"), getInvitation(t, bn, bn.a, pending.ID).TokenHash, "rolled back")
		_, id, err = bn.store.InvitationByToken(context.Background(), []byte("minted"))
		require.NoError(t, err)
		require.Equal(t, pending.ID, id)

		t.Run("other tenant sees nothing", func(t *testing.T) {
			err := inTx(bn, bn.b, func(tx *postgres.Tx) error { return tx.InvitationSetToken(bn.b, pending.ID, []byte("hijack"), later) })
			requireNotFound(t, err)
			require.Equal(t, []byte("minted"), getInvitation(t, bn, bn.a, pending.ID).TokenHash)
			_, _, err = bn.store.InvitationByToken(context.Background(), []byte("hijack"))
			requireNotFound(t, err)
			_, id, err := bn.store.InvitationByToken(context.Background(), []byte("minted"))
			require.NoError(t, err)
			require.Equal(t, pending.ID, id)
		})
	})

	t.Run("pages", func(t *testing.T) {
		all, err := bn.store.InvitationList(bn.a, account.Page{})
		require.NoError(t, err)
		require.Greater(t, len(all), 2)
		var seen []coditect.InvitationID
		page := account.Page{Limit: 2}
		for {
			list, err := bn.store.InvitationList(bn.a, page)
			require.NoError(t, err)
			for _, i := range list {
				seen = append(seen, i.ID)
			}
			if len(list) < page.Limit {
				break
			}
			last := list[len(list)-1]
			page.CreatedAt, page.ID = last.CreatedAt, last.ID.Bytes()
		}
		require.Len(t, seen, len(all))
		for i, inv := range all {
			require.Equal(t, inv.ID, seen[i])
		}
	})
}

func createAPIKey(t *testing.T, bn bundle, ctx context.Context, prefix string) account.APIKey {
	t.Helper()
	actor, _ := coditect.ActorFrom(ctx)
	expires := time.Now().Add(24 * time.Hour).Truncate(time.Microsecond)
	k := account.APIKey{ID: coditect.NewID[coditect.APIKeyID](), Name: "ci " + prefix, Prefix: prefix, SecretHash: []byte("secret-" + prefix),
		Role: coditect.RoleMember, CreatedBy: &actor.AccountID, ExpiresAt: &expires}
	require.NoError(t, inTx(bn, ctx, func(tx *postgres.Tx) error { return tx.APIKeyCreate(ctx, k) }))
	return k
}

func TestStoreAPIKeys(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	tenantA := coditect.MustParseID[coditect.TenantID](tenantOf(t, bn, bn.a))
	k1 := createAPIKey(t, bn, bn.a, "cdt_k1")
	k2 := createAPIKey(t, bn, bn.a, "cdt_k2")

	got, err := bn.store.APIKeyGet(bn.a, k1.ID)
	require.NoError(t, err)
	require.Equal(t, "ci cdt_k1", got.Name)
	require.Equal(t, "cdt_k1", got.Prefix)
	require.Equal(t, []byte("secret-cdt_k1"), got.SecretHash)
	require.Equal(t, coditect.RoleMember, got.Role)
	require.Equal(t, bn.ownerA, *got.CreatedBy)
	require.True(t, k1.ExpiresAt.Equal(*got.ExpiresAt))
	require.Nil(t, got.LastUsedAt)
	require.Nil(t, got.RevokedAt)
	list, err := bn.store.APIKeyList(bn.a, account.Page{})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, k1.ID, list[0].ID)
	list, err = bn.store.APIKeyList(bn.a, account.Page{Limit: 1, CreatedAt: list[0].CreatedAt, ID: list[0].ID.Bytes()})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, k2.ID, list[0].ID, "the next page")

	tenant, id, err := bn.store.APIKeyByPrefix(context.Background(), "cdt_k1")
	require.NoError(t, err)
	require.Equal(t, tenantA, tenant)
	require.Equal(t, k1.ID, id)
	_, _, err = bn.store.APIKeyByPrefix(context.Background(), "cdt_nope")
	requireNotFound(t, err)

	t.Run("a prefix is unique across tenants", func(t *testing.T) {
		err := inTx(bn, bn.b, func(tx *postgres.Tx) error {
			return tx.APIKeyCreate(bn.b, account.APIKey{ID: coditect.NewID[coditect.APIKeyID](), Name: "dup", Prefix: "cdt_k1",
				SecretHash: []byte("x"), Role: coditect.RoleViewer})
		})
		require.Equal(t, coditect.Code("api_key.prefix_taken"), coditect.ErrorCode(err))
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
		list, err := bn.store.APIKeyList(bn.b, account.Page{})
		require.NoError(t, err)
		require.Empty(t, list)
	})

	t.Run("other tenant sees nothing", func(t *testing.T) {
		_, err := bn.store.APIKeyGet(bn.b, k1.ID)
		requireNotFound(t, err)
		list, err := bn.store.APIKeyList(bn.b, account.Page{})
		require.NoError(t, err)
		require.Empty(t, list)
		requireNotFound(t, inTx(bn, bn.b, func(tx *postgres.Tx) error { return tx.APIKeyRevoke(bn.b, k2.ID) }))
		got, err := bn.store.APIKeyGet(bn.a, k2.ID)
		require.NoError(t, err)
		require.Nil(t, got.RevokedAt, "tenant B's attempt changed nothing")
	})

	require.NoError(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.APIKeyRevoke(bn.a, k1.ID) }))
	got, err = bn.store.APIKeyGet(bn.a, k1.ID)
	require.NoError(t, err)
	require.NotNil(t, got.RevokedAt)
	first := *got.RevokedAt
	require.NoError(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.APIKeyRevoke(bn.a, k1.ID) }), "revoking twice is fine")
	got, err = bn.store.APIKeyGet(bn.a, k1.ID)
	require.NoError(t, err)
	require.True(t, first.Equal(*got.RevokedAt))
	tenant, id, err = bn.store.APIKeyByPrefix(context.Background(), "cdt_k1")
	require.NoError(t, err, "a revoked key is still found by its prefix, and is seen revoked")
	require.Equal(t, tenantA, tenant)
	require.Equal(t, k1.ID, id)
	requireNotFound(t, inTx(bn, bn.a, func(tx *postgres.Tx) error { return tx.APIKeyRevoke(bn.a, coditect.NewID[coditect.APIKeyID]()) }))
	got, err = bn.store.APIKeyGet(bn.a, k2.ID)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt, "only k1 is revoked")
}

func TestStoreAPIKeysTouch(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	tenantA := coditect.MustParseID[coditect.TenantID](tenantOf(t, bn, bn.a))
	tenantB := coditect.MustParseID[coditect.TenantID](tenantOf(t, bn, bn.b))
	ka := createAPIKey(t, bn, bn.a, "cdt_ka")
	ka2 := createAPIKey(t, bn, bn.a, "cdt_ka2")
	kb := createAPIKey(t, bn, bn.b, "cdt_kb")
	lastUsed := func(ctx context.Context, id coditect.APIKeyID) *time.Time {
		t.Helper()
		k, err := bn.store.APIKeyGet(ctx, id)
		require.NoError(t, err)
		return k.LastUsedAt
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	t1 := t0.Add(time.Minute)

	require.NoError(t, bn.store.APIKeysTouch(context.Background(), nil), "nothing to do")
	err := bn.store.APIKeysTouch(context.Background(), map[coditect.TenantID]map[coditect.APIKeyID]time.Time{
		tenantA: {ka.ID: t1, ka2.ID: t0, coditect.NewID[coditect.APIKeyID](): t1},
		tenantB: {kb.ID: t0},
	})
	require.NoError(t, err, "an unknown key is skipped")
	require.True(t, t1.Equal(*lastUsed(bn.a, ka.ID)))
	require.True(t, t0.Equal(*lastUsed(bn.a, ka2.ID)))
	require.True(t, t0.Equal(*lastUsed(bn.b, kb.ID)))

	t.Run("only forward", func(t *testing.T) {
		err := bn.store.APIKeysTouch(context.Background(), map[coditect.TenantID]map[coditect.APIKeyID]time.Time{
			tenantA: {ka.ID: t0, ka2.ID: t1},
		})
		require.NoError(t, err)
		require.True(t, t1.Equal(*lastUsed(bn.a, ka.ID)), "an older use does not move it back")
		require.True(t, t1.Equal(*lastUsed(bn.a, ka2.ID)), "a newer use moves it forward")
	})

	t.Run("other tenant touches nothing", func(t *testing.T) {
		later := t1.Add(time.Hour)
		err := bn.store.APIKeysTouch(context.Background(), map[coditect.TenantID]map[coditect.APIKeyID]time.Time{
			tenantB: {ka.ID: later},
		})
		require.NoError(t, err)
		require.True(t, t1.Equal(*lastUsed(bn.a, ka.ID)), "tenant A's key is untouched through tenant B")
		require.True(t, t0.Equal(*lastUsed(bn.b, kb.ID)))
	})

	t.Run("a bad tenant fails alone", func(t *testing.T) {
		later := t1.Add(time.Hour)
		err := bn.store.APIKeysTouch(context.Background(), map[coditect.TenantID]map[coditect.APIKeyID]time.Time{
			{}:      {ka.ID: later},
			tenantB: {kb.ID: later},
		})
		require.Error(t, err, "no tenant: fails closed")
		require.True(t, later.Equal(*lastUsed(bn.b, kb.ID)), "the other tenant is still touched")
		require.True(t, t1.Equal(*lastUsed(bn.a, ka.ID)))
	})
}
