package token_test

import (
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/identity/token"
)

func TestJWKS(t *testing.T) {
	t.Parallel()
	current := mustKey(t, token.ES256)
	prevEd := mustKey(t, token.EdDSA)
	prevEC := mustKey(t, token.ES256)
	ks := mustSet(t, current, prevEd, prevEC)

	raw, err := ks.JWKS()
	require.NoError(t, err)

	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Len(t, doc.Keys, 3)

	byKid := map[string]map[string]any{}
	for _, k := range doc.Keys {
		byKid[k["kid"].(string)] = k
		require.Equal(t, "sig", k["use"])
		require.NotContains(t, k, "d", "private part published")
		for name := range k {
			require.Contains(t, []string{"kty", "kid", "alg", "use", "crv", "x", "y"}, name)
		}
	}
	require.Equal(t, current.ID, doc.Keys[0]["kid"], "current key first")

	require.Equal(t, "EC", byKid[current.ID]["kty"])
	require.Equal(t, "P-256", byKid[current.ID]["crv"])
	require.Equal(t, "ES256", byKid[current.ID]["alg"])
	require.Equal(t, "OKP", byKid[prevEd.ID]["kty"])
	require.Equal(t, "Ed25519", byKid[prevEd.ID]["crv"])
	require.Equal(t, "EdDSA", byKid[prevEd.ID]["alg"])
	require.Equal(t, "ES256", byKid[prevEC.ID]["alg"])
	require.NotContains(t, strings.ToLower(string(raw)), `"d"`)

	// A relying party can verify our tokens from the published set alone.
	var set jose.JSONWebKeySet
	require.NoError(t, json.Unmarshal(raw, &set))
	for _, k := range set.Keys {
		require.True(t, k.IsPublic())
		require.True(t, k.Valid())
	}
	tok := mustIssue(t, mustIssuer(t, staticKeys(ks), t0))
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	require.NoError(t, err)
	published := set.Key(jws.Signatures[0].Header.KeyID)
	require.Len(t, published, 1)
	_, err = jws.Verify(published[0])
	require.NoError(t, err)

	// The empty set publishes an empty list, not null.
	empty, err := token.KeySet{}.JWKS()
	require.NoError(t, err)
	require.JSONEq(t, `{"keys":[]}`, string(empty))
}
