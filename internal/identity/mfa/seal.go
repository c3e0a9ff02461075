package mfa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinAppSecretLen is the shortest application secret SealSecret and OpenSecret accept.
const MinAppSecretLen = 32

const (
	// sealVersion is the first byte of every sealed blob, so that the format (or the
	// key derivation) can change later while old blobs still open.
	sealVersion byte = 1
	// hkdfInfo separates the TOTP-secret key from every other key derived from the same
	// application secret.
	hkdfInfo = "mfa-totp"
	// sealAAD is authenticated with every blob, binding it to this purpose.
	sealAAD = "coditect/mfa-totp/v1"
)

// ErrSealedSecret means a sealed TOTP secret could not be opened: wrong key, tampered or
// truncated data, or an unknown format version. It is never a user error.
var ErrSealedSecret = errors.New("mfa: sealed TOTP secret cannot be opened")

// SealSecret encrypts a TOTP secret for storage with AES-256-GCM. appSecret is the
// application's secret (at least MinAppSecretLen bytes); the AES key is derived from it
// with HKDF-SHA256 and the info string "mfa-totp". The blob is
// version byte ‖ random 12-byte nonce ‖ ciphertext and tag, so sealing the same secret
// twice gives different blobs.
func SealSecret(secret string, appSecret []byte) ([]byte, error) {
	aead, err := newAEAD(appSecret)
	if err != nil {
		return nil, err
	}
	blob := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(secret)+aead.Overhead())
	blob[0] = sealVersion
	if _, err := rand.Read(blob[1:]); err != nil {
		return nil, fmt.Errorf("mfa: random nonce: %w", err)
	}
	return aead.Seal(blob, blob[1:], []byte(secret), []byte(sealAAD)), nil
}

// OpenSecret decrypts a blob made by SealSecret with the same appSecret. Any failure
// other than a too-short appSecret is ErrSealedSecret.
func OpenSecret(blob []byte, appSecret []byte) (string, error) {
	aead, err := newAEAD(appSecret)
	if err != nil {
		return "", err
	}
	n := aead.NonceSize()
	if len(blob) < 1+n+aead.Overhead() || blob[0] != sealVersion {
		return "", ErrSealedSecret
	}
	plain, err := aead.Open(nil, blob[1:1+n], blob[1+n:], []byte(sealAAD))
	if err != nil {
		return "", ErrSealedSecret
	}
	return string(plain), nil
}

// newAEAD derives the AES-256 key from appSecret and returns its GCM.
func newAEAD(appSecret []byte) (cipher.AEAD, error) {
	if len(appSecret) < MinAppSecretLen {
		return nil, fmt.Errorf("mfa: application secret is %d bytes, need at least %d", len(appSecret), MinAppSecretLen)
	}
	key, err := hkdf.Key(sha256.New, appSecret, nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("mfa: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("mfa: aes: %w", err)
	}
	return cipher.NewGCM(block)
}
