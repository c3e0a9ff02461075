// Package token issues and verifies CODITECT's short-lived JWT access tokens (RFC 9068
// profile, "typ": "at+jwt"), signed with asymmetric keys that rotate: a KeySet holds the
// current signing key plus previous keys that still verify, a Rotator swaps key sets
// atomically, and KeySet.JWKS publishes the public halves for /.well-known/jwks.json.
//
// The package holds no state of its own and runs no SQL: persisting keys (MarshalKey,
// Seal) and scheduling rotations belong to the identity store and the worker.
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Algorithm is a JWS signature algorithm this package signs and verifies with.
type Algorithm string

// The supported algorithms. ES256 is the default: every JOSE client library supports it.
const (
	ES256 Algorithm = "ES256" // ECDSA with P-256 and SHA-256
	EdDSA Algorithm = "EdDSA" // Ed25519
)

// maxKeyIDLen bounds a key id, which travels in every token header.
const maxKeyIDLen = 128

// Key is one signing key. ID is the JWS "kid"; it must be unique among the keys of a
// KeySet. Private is an *ecdsa.PrivateKey on P-256 (ES256) or an ed25519.PrivateKey
// (EdDSA). CreatedAt is informational. ExpiresAt, when set, is the moment the key
// stops being trusted: tokens it signed no longer verify and an Issuer refuses to sign
// with it, so a rotation must happen well before.
type Key struct {
	ID        string
	Private   crypto.Signer
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Algorithm returns the JWS algorithm the key signs with, or an error if its type or
// curve is not supported.
func (k Key) Algorithm() (Algorithm, error) {
	switch p := k.Private.(type) {
	case *ecdsa.PrivateKey:
		if p == nil || p.Curve != elliptic.P256() {
			return "", errors.New("token: ecdsa key is not on P-256")
		}
		return ES256, nil
	case ed25519.PrivateKey:
		if len(p) != ed25519.PrivateKeySize {
			return "", errors.New("token: malformed ed25519 key")
		}
		return EdDSA, nil
	case nil:
		return "", errors.New("token: key has no private key")
	}
	return "", fmt.Errorf("token: unsupported key type %T", k.Private)
}

// Public returns the public half of the key.
func (k Key) Public() crypto.PublicKey {
	if k.Private == nil {
		return nil
	}
	return k.Private.Public()
}

// expiredAt reports whether the key is no longer trusted at now.
func (k Key) expiredAt(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// validate checks the id and the key material and returns the key's algorithm.
func (k Key) validate() (Algorithm, error) {
	if k.ID == "" {
		return "", errors.New("token: key has no id")
	}
	if len(k.ID) > maxKeyIDLen {
		return "", fmt.Errorf("token: key id longer than %d bytes", maxKeyIDLen)
	}
	return k.Algorithm()
}

// GenerateKey returns a fresh key for alg (ES256 if alg is empty) with a random id and
// CreatedAt set to the current time.
func GenerateKey(alg Algorithm) (Key, error) {
	var priv crypto.Signer
	switch alg {
	case ES256, "":
		p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return Key{}, fmt.Errorf("token: generate ES256 key: %w", err)
		}
		priv = p
	case EdDSA:
		_, p, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return Key{}, fmt.Errorf("token: generate EdDSA key: %w", err)
		}
		priv = p
	default:
		return Key{}, fmt.Errorf("token: unsupported algorithm %q", alg)
	}
	return Key{ID: rand.Text(), Private: priv, CreatedAt: time.Now().UTC().Truncate(time.Second)}, nil
}

// MarshalKey returns the key's private key as PKCS#8 DER. Only the key material is
// encoded: the caller stores ID, CreatedAt and ExpiresAt alongside it. The result is a
// secret; store it encrypted (see Seal).
func MarshalKey(k Key) ([]byte, error) {
	if _, err := k.Algorithm(); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("token: marshal key: %w", err)
	}
	return der, nil
}

// UnmarshalKey parses a PKCS#8 DER private key written by MarshalKey and returns it as a
// Key with the given id. It accepts only P-256 ECDSA and Ed25519 keys. The caller sets
// CreatedAt and ExpiresAt from its own records.
func UnmarshalKey(id string, der []byte) (Key, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return Key{}, fmt.Errorf("token: parse key: %w", err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return Key{}, fmt.Errorf("token: unsupported key type %T", parsed)
	}
	k := Key{ID: id, Private: signer}
	if _, err := k.validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}

// joseAlg maps an Algorithm to go-jose's name for it.
func (a Algorithm) joseAlg() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(a) }
