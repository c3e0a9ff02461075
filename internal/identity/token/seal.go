package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSecretLen is the shortest application secret Seal and Open accept.
const MinSecretLen = 32

// ErrSealedKey means a sealed key could not be opened: wrong secret, wrong key id,
// tampered or truncated data, or an unknown format version.
var ErrSealedKey = errors.New("token: sealed signing key cannot be opened")

// Sealed key layout: version (1) | salt (16) | nonce (12) | AES-256-GCM ciphertext+tag.
const (
	sealVersion   byte = 1
	sealSaltLen        = 16
	sealNonceLen       = 12
	sealHKDFInfo       = "coditect/identity/token: signing key at rest v1"
	sealHeaderLen      = 1 + sealSaltLen + sealNonceLen
	sealAADPrefix      = "coditect-token-key-v1\x00"
)

// Seal encrypts the key for storage: its PKCS#8 DER is encrypted with AES-256-GCM under
// a key derived from secret (the application secret, at least MinSecretLen bytes) by HKDF-SHA256
// with a fresh random salt. The key id is authenticated too, so a sealed blob opens only
// under the id it was sealed with. ID, CreatedAt and ExpiresAt are not in the blob.
func Seal(key Key, secret []byte) ([]byte, error) {
	if _, err := key.validate(); err != nil {
		return nil, err
	}
	der, err := MarshalKey(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, sealHeaderLen, sealHeaderLen+len(der)+16)
	out[0] = sealVersion
	if _, err := rand.Read(out[1:sealHeaderLen]); err != nil {
		return nil, fmt.Errorf("token: seal: %w", err)
	}
	aead, err := sealAEAD(secret, out[1:1+sealSaltLen])
	if err != nil {
		return nil, err
	}
	nonce := out[1+sealSaltLen : sealHeaderLen]
	return aead.Seal(out, nonce, der, sealAAD(key.ID)), nil
}

// Open decrypts a blob made by Seal for the key with the given id, using the same
// secret. A wrong secret, a wrong id or a modified blob is ErrSealedKey.
func Open(id string, sealed, secret []byte) (Key, error) {
	if len(sealed) < sealHeaderLen+16 || sealed[0] != sealVersion {
		return Key{}, ErrSealedKey
	}
	aead, err := sealAEAD(secret, sealed[1:1+sealSaltLen])
	if err != nil {
		return Key{}, err
	}
	nonce := sealed[1+sealSaltLen : sealHeaderLen]
	der, err := aead.Open(nil, nonce, sealed[sealHeaderLen:], sealAAD(id))
	if err != nil {
		return Key{}, ErrSealedKey
	}
	return UnmarshalKey(id, der)
}

func sealAEAD(secret, salt []byte) (cipher.AEAD, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("token: application secret is %d bytes, need at least %d", len(secret), MinSecretLen)
	}
	k, err := hkdf.Key(sha256.New, secret, salt, sealHKDFInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("token: derive key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("token: cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

func sealAAD(id string) []byte {
	return append([]byte(sealAADPrefix), id...)
}
