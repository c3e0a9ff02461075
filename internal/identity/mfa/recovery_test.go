package mfa

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewRecoveryCodes(t *testing.T) {
	t.Parallel()
	plain, hashes, err := NewRecoveryCodes(RecoveryCodeCount)
	require.NoError(t, err)
	require.Len(t, plain, RecoveryCodeCount)
	require.Len(t, hashes, RecoveryCodeCount)

	seen := map[string]bool{}
	for i, c := range plain {
		require.Regexp(t, `^[2-9a-km-np-z]{5}-[2-9a-km-np-z]{5}$`, c)
		require.False(t, seen[c], "duplicate %q", c)
		seen[c] = true
		require.Equal(t, HashRecoveryCode(c), hashes[i])
		require.Len(t, hashes[i], 32)
		require.NotContains(t, string(hashes[i]), c)
	}

	for _, n := range []int{0, -1, maxRecoveryCodes + 1} {
		_, _, err := NewRecoveryCodes(n)
		require.Error(t, err, "n=%d", n)
	}
	one, _, err := NewRecoveryCodes(1)
	require.NoError(t, err)
	require.Len(t, one, 1)
}

func TestRecoveryAlphabet(t *testing.T) {
	t.Parallel()
	require.Len(t, recoveryAlphabet, 32)
	for _, ambiguous := range "0oO1lL" {
		require.NotContains(t, recoveryAlphabet, string(ambiguous))
	}
	for i := range len(recoveryAlphabet) {
		require.Equal(t, 1, strings.Count(recoveryAlphabet, recoveryAlphabet[i:i+1]))
	}
}

func TestMatchRecoveryCode(t *testing.T) {
	t.Parallel()
	plain, hashes, err := NewRecoveryCodes(RecoveryCodeCount)
	require.NoError(t, err)

	for i, c := range plain {
		idx, ok := MatchRecoveryCode(c, hashes)
		require.True(t, ok, c)
		require.Equal(t, i, idx)
	}

	// Loosely typed variants of one code.
	c := plain[3]
	noDash := strings.ReplaceAll(c, "-", "")
	for _, typed := range []string{
		strings.ToUpper(c),
		noDash,
		strings.ToUpper(noDash),
		strings.ToUpper(strings.ReplaceAll(c, "-", " ")), // "ABCDE ABCDE"
		"  " + c + "\n",
		noDash[:3] + "-" + noDash[3:7] + " " + noDash[7:],
	} {
		idx, ok := MatchRecoveryCode(typed, hashes)
		require.True(t, ok, "%q", typed)
		require.Equal(t, 3, idx)
	}

	// Wrong codes.
	wrong := []byte(noDash)
	wrong[0] = recoveryAlphabet[(strings.IndexByte(recoveryAlphabet, wrong[0])+1)%len(recoveryAlphabet)]
	for _, typed := range []string{"", "-", string(wrong), noDash[:9], noDash + "2", "abcde-abcde"} {
		idx, ok := MatchRecoveryCode(typed, hashes)
		require.False(t, ok, "%q", typed)
		require.Equal(t, -1, idx)
	}
	_, ok := MatchRecoveryCode(c, nil)
	require.False(t, ok)

	// Single use: the caller deletes the matched hash; the code no longer matches.
	idx, ok := MatchRecoveryCode(c, hashes)
	require.True(t, ok)
	remaining := slices.Delete(slices.Clone(hashes), idx, idx+1)
	_, ok = MatchRecoveryCode(c, remaining)
	require.False(t, ok)
	for j, other := range plain {
		if j == idx {
			continue
		}
		_, ok := MatchRecoveryCode(other, remaining)
		require.True(t, ok)
	}
}

func TestHashRecoveryCodeNormalises(t *testing.T) {
	t.Parallel()
	want := HashRecoveryCode("abcde-fghjk")
	for _, v := range []string{"ABCDE-FGHJK", "abcdefghjk", "ABCDE FGHJK", " abcde - fghjk "} {
		require.Equal(t, want, HashRecoveryCode(v), v)
	}
	require.NotEqual(t, want, HashRecoveryCode("abcde-fghjm"))
}
