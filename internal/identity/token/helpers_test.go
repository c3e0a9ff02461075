package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coditect/coditect/internal/coditect"
	"github.com/coditect/coditect/internal/identity/token"
)

const (
	testIssuer = "https://coditect.test"
	testTTL    = 10 * time.Minute
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var b64 = base64.RawURLEncoding

func mustKey(t *testing.T, alg token.Algorithm) token.Key {
	t.Helper()
	k, err := token.GenerateKey(alg)
	require.NoError(t, err)
	return k
}

func mustSet(t *testing.T, current token.Key, previous ...token.Key) token.KeySet {
	t.Helper()
	ks, err := token.NewKeySet(current, previous...)
	require.NoError(t, err)
	return ks
}

func fixed(tm time.Time) func() time.Time { return func() time.Time { return tm } }

func staticKeys(ks token.KeySet) func() token.KeySet { return func() token.KeySet { return ks } }

func mustIssuer(t *testing.T, keys func() token.KeySet, now time.Time, opts ...token.IssuerOption) *token.Issuer {
	t.Helper()
	iss, err := token.NewIssuer(keys, testIssuer, testTTL, fixed(now), opts...)
	require.NoError(t, err)
	return iss
}

func mustIssue(t *testing.T, iss *token.Issuer, opts ...token.IssueOption) string {
	t.Helper()
	tok, _, err := iss.Issue(coditect.NewID[coditect.AccountID](), coditect.NewID[coditect.SessionID](), opts...)
	require.NoError(t, err)
	return tok
}

// requireRejected asserts err is Verify's generic "invalid" answer.
func requireRejected(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var e *coditect.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, coditect.CodeUnauthorized, e.Code)
	require.Equal(t, "invalid access token", e.Message)
	require.False(t, token.IsExpired(err))
}

// validClaims returns a payload the test issuer would accept at now.
func validClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer,
		"aud": testIssuer,
		"sub": coditect.NewID[coditect.AccountID]().String(),
		"sid": coditect.NewID[coditect.SessionID]().String(),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(testTTL).Unix(),
		"jti": rand.Text(),
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// header builds a JOSE header JSON with the given alg, kid and typ; empty values are left out.
func header(t *testing.T, alg, kid, typ string) string {
	t.Helper()
	h := map[string]string{}
	if alg != "" {
		h["alg"] = alg
	}
	if kid != "" {
		h["kid"] = kid
	}
	if typ != "" {
		h["typ"] = typ
	}
	return mustJSON(t, h)
}

// signRaw builds a compact JWS from raw header and payload JSON, signed with key's
// private key (ES256 or EdDSA by key type, whatever the header says).
func signRaw(t *testing.T, priv crypto.Signer, headerJSON, payloadJSON string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(headerJSON)) + "." + b64.EncodeToString([]byte(payloadJSON))
	var sig []byte
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, p, digest[:])
		require.NoError(t, err)
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(p, []byte(input))
	default:
		t.Fatalf("unsupported key %T", priv)
	}
	return input + "." + b64.EncodeToString(sig)
}

// segments splits a compact token.
func segments(t *testing.T, tok string) [3]string {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	return [3]string{parts[0], parts[1], parts[2]}
}

func decodeJSON(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := b64.DecodeString(seg)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}
