package postgres_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity"
)

// Identity data is global (keyed by account or token), so its isolation tests are
// between accounts: X = bn.ownerA, Y = bn.ownerB.

func newSession(t *testing.T, bn bundle, acc coditect.AccountID, refresh string, expires time.Time) identity.Session {
	t.Helper()
	ip := netip.MustParseAddr("192.0.2.7")
	s := identity.Session{ID: coditect.NewID[coditect.SessionID](), AccountID: acc, RefreshHash: []byte(refresh),
		CookieHash: []byte("cookie-" + refresh), UserAgent: "test-agent", IP: &ip, ExpiresAt: expires}
	require.NoError(t, bn.store.SessionCreate(context.Background(), s))
	return s
}

func sessionIDs(list []identity.Session) []coditect.SessionID {
	ids := make([]coditect.SessionID, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	return ids
}

func TestStoreAccountGetAndVerify(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()

	acc, err := bn.store.AccountGet(ctx, bn.ownerA)
	require.NoError(t, err)
	require.Equal(t, "tenant-a@example.com", acc.Email)
	require.Nil(t, acc.EmailVerifiedAt)
	_, err = bn.store.AccountGet(ctx, coditect.NewID[coditect.AccountID]())
	requireNotFound(t, err)

	t.Run("verifying another address changes nothing", func(t *testing.T) {
		requireNotFound(t, bn.store.AccountMarkEmailVerified(ctx, bn.ownerA, "tenant-b@example.com"))
		requireNotFound(t, bn.store.AccountMarkEmailVerified(ctx, coditect.NewID[coditect.AccountID](), "tenant-a@example.com"))
		acc, err := bn.store.AccountGet(ctx, bn.ownerA)
		require.NoError(t, err)
		require.Nil(t, acc.EmailVerifiedAt)
	})

	require.NoError(t, bn.store.AccountMarkEmailVerified(ctx, bn.ownerA, "tenant-a@example.com"))
	acc, err = bn.store.AccountGet(ctx, bn.ownerA)
	require.NoError(t, err)
	require.NotNil(t, acc.EmailVerifiedAt)
	first := *acc.EmailVerifiedAt
	require.NoError(t, bn.store.AccountMarkEmailVerified(ctx, bn.ownerA, "tenant-a@example.com"), "verifying twice is fine")
	acc, err = bn.store.AccountGet(ctx, bn.ownerA)
	require.NoError(t, err)
	require.True(t, first.Equal(*acc.EmailVerifiedAt), "the first verification time is kept")

	other, err := bn.store.AccountGet(ctx, bn.ownerB)
	require.NoError(t, err)
	require.Nil(t, other.EmailVerifiedAt, "another account is untouched")
}

func TestStoreAccountSetPassword(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	live := time.Now().Add(time.Hour)
	x1 := newSession(t, bn, bn.ownerA, "x1", live)
	x2 := newSession(t, bn, bn.ownerA, "x2", live)
	y1 := newSession(t, bn, bn.ownerB, "y1", live)

	require.NoError(t, bn.store.AccountSetPassword(ctx, bn.ownerA, "new-hash"))
	acc, err := bn.store.AccountGet(ctx, bn.ownerA)
	require.NoError(t, err)
	require.Equal(t, "new-hash", acc.PasswordHash)

	for _, s := range []identity.Session{x1, x2} {
		_, err := bn.store.SessionGet(ctx, bn.ownerA, s.ID)
		requireNotFound(t, err)
		ok, err := bn.store.SessionRotate(ctx, bn.ownerA, s.ID, s.RefreshHash, []byte("next"))
		require.NoError(t, err)
		require.False(t, ok, "a revoked session cannot be refreshed")
	}
	list, err := bn.store.SessionList(ctx, bn.ownerA)
	require.NoError(t, err)
	require.Empty(t, list)

	t.Run("other accounts are untouched", func(t *testing.T) {
		_, err := bn.store.SessionGet(ctx, bn.ownerB, y1.ID)
		require.NoError(t, err)
		acc, err := bn.store.AccountGet(ctx, bn.ownerB)
		require.NoError(t, err)
		require.Equal(t, "x", acc.PasswordHash)
	})
	t.Run("unknown account", func(t *testing.T) {
		requireNotFound(t, bn.store.AccountSetPassword(ctx, coditect.NewID[coditect.AccountID](), "h"))
	})
}

func TestStoreSessions(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	live := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	s1 := newSession(t, bn, bn.ownerA, "h1", live)

	got, err := bn.store.SessionGet(ctx, bn.ownerA, s1.ID)
	require.NoError(t, err)
	require.Equal(t, s1.ID, got.ID)
	require.Equal(t, bn.ownerA, got.AccountID)
	require.Equal(t, []byte("h1"), got.RefreshHash)
	require.Equal(t, []byte("cookie-h1"), got.CookieHash)
	require.Equal(t, "test-agent", got.UserAgent)
	require.Equal(t, "192.0.2.7", got.IP.String())
	require.Zero(t, got.RefreshGeneration)
	require.True(t, live.Equal(got.ExpiresAt))
	require.Nil(t, got.RevokedAt)
	require.False(t, got.CreatedAt.IsZero())

	t.Run("rotation", func(t *testing.T) {
		ok, err := bn.store.SessionRotate(ctx, bn.ownerA, s1.ID, []byte("h1"), []byte("h2"))
		require.NoError(t, err)
		require.True(t, ok)
		// The rotated-away hash is a reused token: refused, and nothing changes.
		ok, err = bn.store.SessionRotate(ctx, bn.ownerA, s1.ID, []byte("h1"), []byte("h3"))
		require.NoError(t, err)
		require.False(t, ok)
		got, err := bn.store.SessionGet(ctx, bn.ownerA, s1.ID)
		require.NoError(t, err)
		require.Equal(t, []byte("h2"), got.RefreshHash, "only the current hash is usable")
		require.Equal(t, 1, got.RefreshGeneration)
		ok, err = bn.store.SessionRotate(ctx, bn.ownerA, s1.ID, []byte("h2"), []byte("h3"))
		require.NoError(t, err)
		require.True(t, ok, "the current hash still rotates")
		ok, err = bn.store.SessionRotate(ctx, bn.ownerA, coditect.NewID[coditect.SessionID](), []byte("h3"), []byte("h4"))
		require.NoError(t, err)
		require.False(t, ok, "unknown session")
	})

	t.Run("other account sees nothing", func(t *testing.T) {
		_, err := bn.store.SessionGet(ctx, bn.ownerB, s1.ID)
		requireNotFound(t, err)
		ok, err := bn.store.SessionRotate(ctx, bn.ownerB, s1.ID, []byte("h3"), []byte("stolen"))
		require.NoError(t, err)
		require.False(t, ok)
		requireNotFound(t, bn.store.SessionRevoke(ctx, bn.ownerB, s1.ID))
		list, err := bn.store.SessionList(ctx, bn.ownerB)
		require.NoError(t, err)
		require.Empty(t, list)
		got, err := bn.store.SessionGet(ctx, bn.ownerA, s1.ID)
		require.NoError(t, err, "the session is still live for its account")
		require.Equal(t, []byte("h3"), got.RefreshHash)
	})

	t.Run("expired sessions are not found", func(t *testing.T) {
		old := newSession(t, bn, bn.ownerA, "old", time.Now().Add(-time.Minute))
		_, err := bn.store.SessionGet(ctx, bn.ownerA, old.ID)
		requireNotFound(t, err)
		ok, err := bn.store.SessionRotate(ctx, bn.ownerA, old.ID, []byte("old"), []byte("new"))
		require.NoError(t, err)
		require.False(t, ok)
		list, err := bn.store.SessionList(ctx, bn.ownerA)
		require.NoError(t, err)
		require.NotContains(t, sessionIDs(list), old.ID)
	})

	s2 := newSession(t, bn, bn.ownerA, "s2", live)
	list, err := bn.store.SessionList(ctx, bn.ownerA)
	require.NoError(t, err)
	require.ElementsMatch(t, []coditect.SessionID{s1.ID, s2.ID}, sessionIDs(list))

	require.NoError(t, bn.store.SessionRevoke(ctx, bn.ownerA, s1.ID))
	_, err = bn.store.SessionGet(ctx, bn.ownerA, s1.ID)
	requireNotFound(t, err)
	ok, err := bn.store.SessionRotate(ctx, bn.ownerA, s1.ID, []byte("h3"), []byte("h4"))
	require.NoError(t, err)
	require.False(t, ok, "a revoked session cannot be refreshed")
	require.NoError(t, bn.store.SessionRevoke(ctx, bn.ownerA, s1.ID), "revoking twice is fine")
	requireNotFound(t, bn.store.SessionRevoke(ctx, bn.ownerA, coditect.NewID[coditect.SessionID]()))
	list, err = bn.store.SessionList(ctx, bn.ownerA)
	require.NoError(t, err)
	require.Equal(t, []coditect.SessionID{s2.ID}, sessionIDs(list))
	_, err = bn.store.SessionGet(ctx, bn.ownerA, s2.ID)
	require.NoError(t, err, "revoking one session leaves the others")
}

func TestStoreMFA(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	x, y := bn.ownerA, bn.ownerB

	st, err := bn.store.MFAGet(ctx, x)
	require.NoError(t, err)
	require.Equal(t, identity.MFAState{}, st)

	require.NoError(t, bn.store.MFASetPending(ctx, x, []byte("p1")))
	st, err = bn.store.MFAGet(ctx, x)
	require.NoError(t, err)
	require.Equal(t, []byte("p1"), st.PendingSecret)
	require.Nil(t, st.Secret)
	require.Nil(t, st.EnabledAt)

	require.NoError(t, bn.store.MFAEnable(ctx, x, 100, [][]byte{[]byte("c1"), []byte("c2")}))
	st, err = bn.store.MFAGet(ctx, x)
	require.NoError(t, err)
	require.Equal(t, []byte("p1"), st.Secret)
	require.Nil(t, st.PendingSecret)
	require.NotNil(t, st.EnabledAt)
	require.EqualValues(t, 100, st.LastStep, "the enabling code's step is used")
	codes, err := bn.store.RecoveryCodeHashes(ctx, x)
	require.NoError(t, err)
	require.ElementsMatch(t, [][]byte{[]byte("c1"), []byte("c2")}, codes)

	t.Run("steps are used once, in order", func(t *testing.T) {
		for _, step := range []int64{100, 99, 0} {
			ok, err := bn.store.MFAUseStep(ctx, x, step)
			require.NoError(t, err)
			require.False(t, ok, "step %d is not newer than 100", step)
		}
		ok, err := bn.store.MFAUseStep(ctx, x, 101)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = bn.store.MFAUseStep(ctx, x, 101)
		require.NoError(t, err)
		require.False(t, ok, "a replay of 101")
		ok, err = bn.store.MFAUseStep(ctx, coditect.NewID[coditect.AccountID](), 500)
		require.NoError(t, err)
		require.False(t, ok, "unknown account")
	})

	t.Run("recovery codes work once", func(t *testing.T) {
		ok, err := bn.store.RecoveryCodeUse(ctx, x, []byte("c1"))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = bn.store.RecoveryCodeUse(ctx, x, []byte("c1"))
		require.NoError(t, err)
		require.False(t, ok)
		codes, err := bn.store.RecoveryCodeHashes(ctx, x)
		require.NoError(t, err)
		require.Equal(t, [][]byte{[]byte("c2")}, codes)
	})

	t.Run("other account sees nothing", func(t *testing.T) {
		st, err := bn.store.MFAGet(ctx, y)
		require.NoError(t, err)
		require.Equal(t, identity.MFAState{}, st)
		codes, err := bn.store.RecoveryCodeHashes(ctx, y)
		require.NoError(t, err)
		require.Empty(t, codes)
		ok, err := bn.store.RecoveryCodeUse(ctx, y, []byte("c2"))
		require.NoError(t, err)
		require.False(t, ok, "x's code is not y's")
		ok, err = bn.store.MFAUseStep(ctx, y, 50)
		require.NoError(t, err)
		require.True(t, ok, "steps are per account")
		requireNotFound(t, bn.store.MFAEnable(ctx, y, 60, [][]byte{[]byte("y1")})) // y has no pending secret
		codes, err = bn.store.RecoveryCodeHashes(ctx, x)
		require.NoError(t, err)
		require.Equal(t, [][]byte{[]byte("c2")}, codes, "x's codes are untouched")
	})

	t.Run("re-enrolment replaces the codes atomically", func(t *testing.T) {
		require.NoError(t, bn.store.MFASetPending(ctx, x, []byte("p2")))
		// A failing insert (a duplicate code) rolls back the whole enable.
		err := bn.store.MFAEnable(ctx, x, 200, [][]byte{[]byte("c3"), []byte("c3")})
		require.Error(t, err)
		st, err := bn.store.MFAGet(ctx, x)
		require.NoError(t, err)
		require.Equal(t, []byte("p1"), st.Secret, "the old secret is still active")
		require.Equal(t, []byte("p2"), st.PendingSecret, "and the new one still pending")
		require.EqualValues(t, 101, st.LastStep)
		codes, err := bn.store.RecoveryCodeHashes(ctx, x)
		require.NoError(t, err)
		require.Equal(t, [][]byte{[]byte("c2")}, codes, "the old codes are still there")

		require.NoError(t, bn.store.MFAEnable(ctx, x, 200, [][]byte{[]byte("c3"), []byte("c4")}))
		st, err = bn.store.MFAGet(ctx, x)
		require.NoError(t, err)
		require.Equal(t, []byte("p2"), st.Secret)
		require.Nil(t, st.PendingSecret)
		require.EqualValues(t, 200, st.LastStep)
		codes, err = bn.store.RecoveryCodeHashes(ctx, x)
		require.NoError(t, err)
		require.ElementsMatch(t, [][]byte{[]byte("c3"), []byte("c4")}, codes)
		ok, err := bn.store.RecoveryCodeUse(ctx, x, []byte("c2"))
		require.NoError(t, err)
		require.False(t, ok, "an old code no longer works")
		requireNotFound(t, bn.store.MFAEnable(ctx, x, 300, nil)) // nothing pending now
	})

	require.NoError(t, bn.store.MFADisable(ctx, x))
	st, err = bn.store.MFAGet(ctx, x)
	require.NoError(t, err)
	require.Nil(t, st.Secret)
	require.Nil(t, st.PendingSecret)
	require.Nil(t, st.EnabledAt)
	require.EqualValues(t, 200, st.LastStep, "replay protection outlives the enrolment")
	codes, err = bn.store.RecoveryCodeHashes(ctx, x)
	require.NoError(t, err)
	require.Empty(t, codes)

	t.Run("unknown account", func(t *testing.T) {
		nobody := coditect.NewID[coditect.AccountID]()
		_, err := bn.store.MFAGet(ctx, nobody)
		requireNotFound(t, err)
		requireNotFound(t, bn.store.MFASetPending(ctx, nobody, []byte("p")))
		requireNotFound(t, bn.store.MFAEnable(ctx, nobody, 1, nil))
		requireNotFound(t, bn.store.MFADisable(ctx, nobody))
	})
}

func TestStoreEmailTokens(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	expires := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	tok := identity.EmailToken{Hash: []byte("verify-1"), AccountID: bn.ownerA, Purpose: identity.PurposeVerifyEmail,
		Email: "tenant-a@example.com", ExpiresAt: expires}
	require.NoError(t, bn.store.EmailTokenCreate(ctx, tok))

	_, err := bn.store.EmailTokenConsume(ctx, tok.Hash, identity.PurposePasswordReset)
	requireNotFound(t, err)

	got, err := bn.store.EmailTokenConsume(ctx, tok.Hash, identity.PurposeVerifyEmail)
	require.NoError(t, err)
	require.Equal(t, tok.Hash, got.Hash)
	require.Equal(t, bn.ownerA, got.AccountID)
	require.Equal(t, tok.Email, got.Email)
	require.Equal(t, tok.Purpose, got.Purpose)
	require.True(t, expires.Equal(got.ExpiresAt))

	_, err = bn.store.EmailTokenConsume(ctx, tok.Hash, identity.PurposeVerifyEmail)
	requireNotFound(t, err)

	t.Run("expired", func(t *testing.T) {
		old := identity.EmailToken{Hash: []byte("reset-old"), AccountID: bn.ownerA, Purpose: identity.PurposePasswordReset,
			Email: "tenant-a@example.com", ExpiresAt: time.Now().Add(-time.Minute)}
		require.NoError(t, bn.store.EmailTokenCreate(ctx, old))
		_, err := bn.store.EmailTokenConsume(ctx, old.Hash, identity.PurposePasswordReset)
		requireNotFound(t, err)
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := bn.store.EmailTokenConsume(ctx, []byte("nope"), identity.PurposeVerifyEmail)
		requireNotFound(t, err)
	})
	t.Run("a hash in use is a conflict", func(t *testing.T) {
		err := bn.store.EmailTokenCreate(ctx, identity.EmailToken{Hash: tok.Hash, AccountID: bn.ownerB, Purpose: identity.PurposeVerifyEmail,
			Email: "tenant-b@example.com", ExpiresAt: expires})
		require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))
	})
	t.Run("concurrent consumers: exactly one wins", func(t *testing.T) {
		race := identity.EmailToken{Hash: []byte("reset-race"), AccountID: bn.ownerB, Purpose: identity.PurposePasswordReset,
			Email: "tenant-b@example.com", ExpiresAt: expires}
		require.NoError(t, bn.store.EmailTokenCreate(ctx, race))
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = bn.store.EmailTokenConsume(ctx, race.Hash, identity.PurposePasswordReset)
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			requireNotFound(t, err)
		}
		require.Equal(t, 1, won)
	})
}

func TestStoreSigningKeys(t *testing.T) {
	t.Parallel()
	bn := setup(t)
	ctx := context.Background()
	keys, err := bn.store.SigningKeys(ctx)
	require.NoError(t, err)
	require.Empty(t, keys)

	earlier := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	require.NoError(t, bn.store.SigningKeyAdd(ctx, identity.SigningKey{ID: "k2", Alg: "EdDSA", Sealed: []byte("s2")}))
	require.NoError(t, bn.store.SigningKeyAdd(ctx, identity.SigningKey{ID: "k1", Alg: "ES256", Sealed: []byte("s1"), CreatedAt: earlier}))
	err = bn.store.SigningKeyAdd(ctx, identity.SigningKey{ID: "k1", Alg: "ES256", Sealed: []byte("again")})
	require.Equal(t, coditect.CodeConflict, coditect.ErrorKind(err))

	keys, err = bn.store.SigningKeys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	require.Equal(t, "k1", keys[0].ID, "oldest first")
	require.True(t, earlier.Equal(keys[0].CreatedAt))
	require.Equal(t, "ES256", keys[0].Alg)
	require.Equal(t, []byte("s1"), keys[0].Sealed)
	require.Equal(t, "k2", keys[1].ID)
	require.False(t, keys[1].CreatedAt.IsZero())
	require.Nil(t, keys[0].RetiredAt)

	require.NoError(t, bn.store.SigningKeyRetire(ctx, "k1"))
	keys, err = bn.store.SigningKeys(ctx)
	require.NoError(t, err)
	require.NotNil(t, keys[0].RetiredAt)
	retired := *keys[0].RetiredAt
	require.Nil(t, keys[1].RetiredAt, "only k1 is retired")
	require.NoError(t, bn.store.SigningKeyRetire(ctx, "k1"), "retiring twice is fine")
	keys, err = bn.store.SigningKeys(ctx)
	require.NoError(t, err)
	require.True(t, retired.Equal(*keys[0].RetiredAt), "the first retirement time is kept")
	requireNotFound(t, bn.store.SigningKeyRetire(ctx, "nope"))
}
