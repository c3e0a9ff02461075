package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite/token/jwt"

	"github.com/coditect/coditect/internal/identity/token"
)

// idTokenSigner is fosite's jwt.Signer over the platform's key source: ID tokens are
// signed by the current key (ES256 or EdDSA) with its kid, and verified (id_token_hint)
// against the current and previous keys.
type idTokenSigner struct{ keys KeySource }

var _ jwt.Signer = (*idTokenSigner)(nil)

// signingKey returns the key set's current key if it can sign now.
func signingKey(ks token.KeySet) (token.Key, token.Algorithm, error) {
	k := ks.Current()
	alg, err := k.Algorithm()
	if err != nil {
		return token.Key{}, "", fmt.Errorf("oauth: no usable ID token signing key: %w", err)
	}
	if !k.ExpiresAt.IsZero() && !time.Now().Before(k.ExpiresAt) {
		return token.Key{}, "", errors.New("oauth: the current signing key has expired")
	}
	return k, alg, nil
}

// algorithms returns the JWS algorithms of the published keys, the current key's first.
func algorithms(ks token.KeySet) []string {
	var out []string
	for _, k := range append([]token.Key{ks.Current()}, ks.Previous()...) {
		if alg, err := k.Algorithm(); err == nil && !slices.Contains(out, string(alg)) {
			out = append(out, string(alg))
		}
	}
	return out
}

// Generate implements jwt.Signer.
func (s *idTokenSigner) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	k, alg, err := signingKey(s.keys())
	if err != nil {
		return "", "", err
	}
	if alg == token.EdDSA {
		// fosite computes at_hash and c_hash with SHA-256 for every algorithm other than
		// *S384 and *S512, while relying parties hash with SHA-512 for EdDSA. Both claims
		// are optional for ID tokens from the token endpoint, and a wrong one is worse
		// than none, so EdDSA ID tokens go without them.
		delete(claims, "at_hash")
		delete(claims, "c_hash")
	}
	jwk := &jose.JSONWebKey{Key: k.Private, KeyID: k.ID, Algorithm: string(alg), Use: "sig"}
	d := &jwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) { return jwk, nil }}
	return d.Generate(ctx, claims, header)
}

// Decode implements jwt.Signer: it verifies the token against the published key named
// by its kid.
func (s *idTokenSigner) Decode(_ context.Context, raw string) (*jwt.Token, error) {
	ks := s.keys()
	return jwt.ParseWithClaims(raw, jwt.MapClaims{}, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for _, k := range append([]token.Key{ks.Current()}, ks.Previous()...) {
			if k.ID == kid && k.Private != nil {
				return k.Public(), nil
			}
		}
		return nil, errors.New("oauth: unknown key id")
	})
}

// Validate implements jwt.Signer.
func (s *idTokenSigner) Validate(ctx context.Context, raw string) (string, error) {
	if _, err := s.Decode(ctx, raw); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, raw)
}

// GetSignature implements jwt.Signer.
func (s *idTokenSigner) GetSignature(_ context.Context, raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("oauth: header, body and signature must all be set")
	}
	return parts[2], nil
}

// Hash implements jwt.Signer with SHA-256, like fosite's default signer.
func (s *idTokenSigner) Hash(_ context.Context, in []byte) ([]byte, error) {
	h := sha256.Sum256(in)
	return h[:], nil
}

// GetSigningMethodLength implements jwt.Signer: the hash size in bytes.
func (s *idTokenSigner) GetSigningMethodLength(context.Context) int { return sha256.Size }
