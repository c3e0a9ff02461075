package token_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity/token"
)

func TestRotation(t *testing.T) {
	t.Parallel()
	k1 := mustKey(t, token.ES256)
	k2 := mustKey(t, token.EdDSA)
	k3 := mustKey(t, token.ES256)
	r := token.NewRotator(mustSet(t, k1))
	iss := mustIssuer(t, r.Keys, t0)

	tok1 := mustIssue(t, iss)
	require.Equal(t, k1.ID, decodeJSON(t, segments(t, tok1)[0])["kid"])

	ks, err := r.Rotate(k2, 1)
	require.NoError(t, err)
	require.Equal(t, k2.ID, ks.Current().ID)
	require.Equal(t, k2.ID, r.Keys().Current().ID)
	require.Len(t, ks.Previous(), 1)

	tok2 := mustIssue(t, iss)
	require.Equal(t, k2.ID, decodeJSON(t, segments(t, tok2)[0])["kid"], "new tokens use the new key")
	_, err = iss.Verify(tok1)
	require.NoError(t, err, "a token from the previous key still verifies")
	_, err = iss.Verify(tok2)
	require.NoError(t, err)

	_, err = r.Rotate(k3, 1)
	require.NoError(t, err)
	_, err = iss.Verify(tok1)
	requireRejected(t, err)
	_, err = iss.Verify(tok2)
	require.NoError(t, err)

	// The published set follows the rotation.
	jwks, err := r.Keys().JWKS()
	require.NoError(t, err)
	require.Contains(t, string(jwks), k3.ID)
	require.Contains(t, string(jwks), k2.ID)
	require.NotContains(t, string(jwks), k1.ID)
}

func TestRotateKeepsMostRecentFirst(t *testing.T) {
	t.Parallel()
	keys := make([]token.Key, 5)
	for i := range keys {
		keys[i] = mustKey(t, token.ES256)
	}
	r := token.NewRotator(mustSet(t, keys[0]))
	for _, k := range keys[1:] {
		_, err := r.Rotate(k, 2)
		require.NoError(t, err)
	}
	ks := r.Keys()
	require.Equal(t, keys[4].ID, ks.Current().ID)
	prev := ks.Previous()
	require.Len(t, prev, 2)
	require.Equal(t, keys[3].ID, prev[0].ID)
	require.Equal(t, keys[2].ID, prev[1].ID)

	ks, err := r.Rotate(mustKey(t, token.EdDSA), 0)
	require.NoError(t, err)
	require.Empty(t, ks.Previous())
	ks, err = r.Rotate(mustKey(t, token.EdDSA), -1)
	require.NoError(t, err)
	require.Empty(t, ks.Previous())
}

func TestRotateRejectsBadKeys(t *testing.T) {
	t.Parallel()
	k1 := mustKey(t, token.ES256)
	r := token.NewRotator(mustSet(t, k1))

	_, err := r.Rotate(token.Key{ID: "empty"}, 1)
	require.Error(t, err)
	reused := mustKey(t, token.EdDSA)
	reused.ID = k1.ID
	_, err = r.Rotate(reused, 1)
	require.Error(t, err)
	require.Equal(t, k1.ID, r.Keys().Current().ID, "a failed rotation changes nothing")
}

func TestRotatorFromEmptyAndSet(t *testing.T) {
	t.Parallel()
	r := token.NewRotator(token.KeySet{})
	require.True(t, r.Keys().IsZero())
	k := mustKey(t, token.ES256)
	ks, err := r.Rotate(k, 3)
	require.NoError(t, err)
	require.Empty(t, ks.Previous())

	other := mustSet(t, mustKey(t, token.EdDSA), k)
	r.Set(other)
	require.Equal(t, other.Current().ID, r.Keys().Current().ID)
	require.Equal(t, (&token.Rotator{}).Keys(), token.KeySet{}, "the zero Rotator holds no keys")
}

func TestConcurrentIssueVerifyRotate(t *testing.T) {
	t.Parallel()
	r := token.NewRotator(mustSet(t, mustKey(t, token.ES256)))
	iss, err := token.NewIssuer(r.Keys, testIssuer, testTTL, func() time.Time { return t0 })
	require.NoError(t, err)

	const rotations = 10
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				account := coditect.NewID[coditect.AccountID]()
				tok, _, err := iss.Issue(account, coditect.SessionID{})
				if err != nil {
					errs <- err
					return
				}
				c, err := iss.Verify(tok)
				if err != nil {
					errs <- err
					return
				}
				if c.Subject != account {
					errs <- coditect.Errorf(coditect.CodeInternal, "wrong subject")
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < rotations; i++ {
			k, err := token.GenerateKey(token.EdDSA)
			if err == nil {
				_, err = r.Rotate(k, rotations) // keeps every key: all tokens stay valid
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, r.Keys().Previous(), rotations)
}
