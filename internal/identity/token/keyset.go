package token

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
)

// KeySet is an immutable set of keys: Current signs new tokens, Previous keys only
// verify tokens signed before the last rotations. The zero KeySet has no keys: nothing
// can be issued with it and every token fails to verify. Copying a KeySet is cheap.
type KeySet struct {
	s *keySet
}

type keySet struct {
	current  Key
	previous []Key
	signer   jose.Signer
	byID     map[string]verifyKey
}

// verifyKey is a key prepared for verification.
type verifyKey struct {
	key    Key
	alg    Algorithm
	public crypto.PublicKey
}

// accessTokenType is the "typ" header of an access token (RFC 9068 section 2.1).
const accessTokenType = "at+jwt"

// NewKeySet returns a set in which current signs and previous keys verify. Every key
// must have a supported type and a unique, non-empty id.
func NewKeySet(current Key, previous ...Key) (KeySet, error) {
	s := &keySet{
		current:  current,
		previous: slices.Clone(previous),
		byID:     make(map[string]verifyKey, 1+len(previous)),
	}
	for i, k := range append([]Key{current}, previous...) {
		alg, err := k.validate()
		if err != nil {
			if i == 0 {
				return KeySet{}, fmt.Errorf("%w (current key)", err)
			}
			return KeySet{}, fmt.Errorf("%w (previous key %d)", err, i-1)
		}
		if _, dup := s.byID[k.ID]; dup {
			return KeySet{}, fmt.Errorf("token: duplicate key id %q", k.ID)
		}
		s.byID[k.ID] = verifyKey{key: k, alg: alg, public: k.Public()}
	}
	alg := s.byID[current.ID].alg
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg.joseAlg(), Key: jose.JSONWebKey{Key: current.Private, KeyID: current.ID}},
		(&jose.SignerOptions{}).WithType(accessTokenType),
	)
	if err != nil {
		return KeySet{}, fmt.Errorf("token: signer: %w", err)
	}
	s.signer = signer
	return KeySet{s: s}, nil
}

// IsZero reports whether the set has no keys.
func (ks KeySet) IsZero() bool { return ks.s == nil }

// Current returns the signing key; the zero Key for the zero KeySet.
func (ks KeySet) Current() Key {
	if ks.s == nil {
		return Key{}
	}
	return ks.s.current
}

// Previous returns a copy of the verify-only keys, most recent first.
func (ks KeySet) Previous() []Key {
	if ks.s == nil {
		return nil
	}
	return slices.Clone(ks.s.previous)
}

// lookup returns the key named kid.
func (ks KeySet) lookup(kid string) (verifyKey, bool) {
	if ks.s == nil {
		return verifyKey{}, false
	}
	k, ok := ks.s.byID[kid]
	return k, ok
}

// JWKS returns the JSON Web Key Set (RFC 7517) of the public halves of the current and
// previous keys, each with kid, alg and "use": "sig", for /.well-known/jwks.json. It
// never contains private key material.
func (ks KeySet) JWKS() ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	if ks.s != nil {
		for _, k := range append([]Key{ks.s.current}, ks.s.previous...) {
			vk := ks.s.byID[k.ID]
			j := jose.JSONWebKey{Key: vk.public, KeyID: k.ID, Algorithm: string(vk.alg), Use: "sig"}
			if !j.IsPublic() {
				return nil, errors.New("token: refusing to publish a private key")
			}
			set.Keys = append(set.Keys, j)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("token: marshal jwks: %w", err)
	}
	return b, nil
}
