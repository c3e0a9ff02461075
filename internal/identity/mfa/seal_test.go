package mfa

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte("k"), 32)
	blob, err := SealSecret(testSecret, key)
	require.NoError(t, err)
	require.NotContains(t, string(blob), testSecret)

	got, err := OpenSecret(blob, key)
	require.NoError(t, err)
	require.Equal(t, testSecret, got)

	again, err := SealSecret(testSecret, key)
	require.NoError(t, err)
	require.NotEqual(t, blob, again, "nonce must be random")
	got, err = OpenSecret(again, key)
	require.NoError(t, err)
	require.Equal(t, testSecret, got)

	// A long application secret works too (HKDF takes any length).
	long := bytes.Repeat([]byte("x"), 100)
	blob, err = SealSecret("", long)
	require.NoError(t, err)
	got, err = OpenSecret(blob, long)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestOpenWrongKeyFails(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte("k"), 32)
	blob, err := SealSecret(testSecret, key)
	require.NoError(t, err)

	other := bytes.Repeat([]byte("k"), 33) // differs only by length: still another key
	_, err = OpenSecret(blob, other)
	require.ErrorIs(t, err, ErrSealedSecret)
	other = bytes.Repeat([]byte("j"), 32)
	_, err = OpenSecret(blob, other)
	require.ErrorIs(t, err, ErrSealedSecret)
}

func TestOpenTamperedFails(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte("k"), 32)
	blob, err := SealSecret(testSecret, key)
	require.NoError(t, err)

	for i := range blob { // version byte, nonce, ciphertext and tag
		tampered := bytes.Clone(blob)
		tampered[i] ^= 0x01
		_, err := OpenSecret(tampered, key)
		require.ErrorIs(t, err, ErrSealedSecret, "byte %d", i)
	}
	for _, cut := range [][]byte{nil, {}, blob[:1], blob[:13], blob[:len(blob)-1], append(bytes.Clone(blob), 0)} {
		_, err := OpenSecret(cut, key)
		require.ErrorIs(t, err, ErrSealedSecret, "len %d", len(cut))
	}
}

func TestSealRejectsShortKey(t *testing.T) {
	t.Parallel()
	short := bytes.Repeat([]byte("k"), MinAppSecretLen-1)
	_, err := SealSecret(testSecret, short)
	require.Error(t, err)
	_, err = OpenSecret([]byte{1, 2, 3}, short)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrSealedSecret)
}
