package token_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/identity/token"
)

var appSecret = []byte("0123456789abcdef0123456789abcdef-app-secret")

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	def, err := token.GenerateKey("")
	require.NoError(t, err)
	alg, err := def.Algorithm()
	require.NoError(t, err)
	require.Equal(t, token.ES256, alg, "ES256 is the default")
	require.NotEmpty(t, def.ID)
	require.False(t, def.CreatedAt.IsZero())

	ed := mustKey(t, token.EdDSA)
	alg, err = ed.Algorithm()
	require.NoError(t, err)
	require.Equal(t, token.EdDSA, alg)
	require.NotEqual(t, def.ID, ed.ID)

	_, err = token.GenerateKey("HS256")
	require.Error(t, err)
	_, err = token.GenerateKey("none")
	require.Error(t, err)
}

func TestMarshalUnmarshalKey(t *testing.T) {
	t.Parallel()
	for _, alg := range []token.Algorithm{token.ES256, token.EdDSA} {
		k := mustKey(t, alg)
		der, err := token.MarshalKey(k)
		require.NoError(t, err)
		back, err := token.UnmarshalKey(k.ID, der)
		require.NoError(t, err)
		require.Equal(t, k.ID, back.ID)
		require.True(t, k.Private.(interface{ Equal(crypto.PrivateKey) bool }).Equal(back.Private), alg)

		// A token signed by the restored key verifies with the original set.
		tok := mustIssue(t, mustIssuer(t, staticKeys(mustSet(t, back)), t0))
		_, err = mustIssuer(t, staticKeys(mustSet(t, k)), t0).Verify(tok)
		require.NoError(t, err)
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	require.NoError(t, err)
	_, err = token.UnmarshalKey("rsa", der)
	require.Error(t, err)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der, err = x509.MarshalPKCS8PrivateKey(p384)
	require.NoError(t, err)
	_, err = token.UnmarshalKey("p384", der)
	require.Error(t, err)

	_, err = token.UnmarshalKey("junk", []byte("not der"))
	require.Error(t, err)
	_, err = token.UnmarshalKey("", mustDER(t, mustKey(t, token.ES256)))
	require.Error(t, err, "a key needs an id")
}

func mustDER(t *testing.T, k token.Key) []byte {
	t.Helper()
	der, err := token.MarshalKey(k)
	require.NoError(t, err)
	return der
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	for _, alg := range []token.Algorithm{token.ES256, token.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			k := mustKey(t, alg)
			sealed, err := token.Seal(k, appSecret)
			require.NoError(t, err)
			require.False(t, bytes.Contains(sealed, mustDER(t, k)), "the DER is not in the clear")

			again, err := token.Seal(k, appSecret)
			require.NoError(t, err)
			require.NotEqual(t, sealed, again, "fresh salt and nonce each time")

			opened, err := token.Open(k.ID, sealed, appSecret)
			require.NoError(t, err)
			require.Equal(t, k.ID, opened.ID)
			require.Equal(t, mustDER(t, k), mustDER(t, opened))

			wrong := bytes.Clone(appSecret)
			wrong[0] ^= 1
			_, err = token.Open(k.ID, sealed, wrong)
			require.ErrorIs(t, err, token.ErrSealedKey, "wrong secret")

			_, err = token.Open("another-kid", sealed, appSecret)
			require.ErrorIs(t, err, token.ErrSealedKey, "a blob opens only under its own kid")

			tampered := bytes.Clone(sealed)
			tampered[len(tampered)-20] ^= 1
			_, err = token.Open(k.ID, tampered, appSecret)
			require.ErrorIs(t, err, token.ErrSealedKey)

			_, err = token.Open(k.ID, sealed[:10], appSecret)
			require.ErrorIs(t, err, token.ErrSealedKey)
			_, err = token.Open(k.ID, nil, appSecret)
			require.ErrorIs(t, err, token.ErrSealedKey)
		})
	}

	_, err := token.Seal(mustKey(t, token.ES256), []byte("short"))
	require.Error(t, err, "secrets under 32 bytes are refused")
	_, err = token.Seal(token.Key{ID: "x"}, appSecret)
	require.Error(t, err)
}
