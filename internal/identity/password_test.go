package identity

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var cheap = Argon2Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}

func TestPasswordHashRoundTrip(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery staple", cheap)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=8192,t=1,p=1$"))
	require.NotContains(t, h, "correct horse")

	ok, err := VerifyPassword("correct horse battery staple", h)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = VerifyPassword("correct horse battery stapl", h)
	require.NoError(t, err)
	require.False(t, ok)

	h2, err := HashPassword("correct horse battery staple", cheap)
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "fresh salt each time")
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=18$m=8192,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=8192,t=1,p=1$!!$a2V5"} {
		_, err := VerifyPassword("x", h)
		require.ErrorIs(t, err, ErrBadHash, h)
	}
}
