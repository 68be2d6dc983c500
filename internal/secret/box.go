// Package secret keeps the server's secrets (CI variables, webhook secrets,
// registry passwords) encrypted at rest and issues API tokens that are only
// ever stored as hashes, so a copied database or backup leaks nothing usable
// without the key file that lives beside it.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a Box key: AES-256, so the key file is exactly
// this many random bytes.
const KeySize = 32

// versionPrefix marks the sealed format and the key generation. Keeping it in
// the text lets a later release add a second key (v2:) and still open every
// value written under v1 while it re-seals them.
const versionPrefix = "v1:"

// encoding is URL-safe and unpadded so sealed values can sit in URLs, env
// files and SQL text without quoting. Strict decoding gives every ciphertext
// exactly one text form, so two sealed strings are equal only if the
// ciphertexts are.
var encoding = base64.RawURLEncoding.Strict()

var (
	// ErrMalformed reports sealed text that is not something Seal produced:
	// unknown version prefix, bad base64 or too short to hold nonce and tag.
	// It points at corrupted storage or a plaintext pasted where a sealed
	// value belongs, never at a wrong key.
	ErrMalformed = errors.New("malformed sealed value")
	// ErrDecrypt reports a well-formed value that failed authentication. GCM
	// cannot tell the causes apart: the key differs from the one that sealed
	// it, the ciphertext was altered, or it was sealed for another owner
	// (different aad), e.g. copied from another row.
	ErrDecrypt = errors.New("cannot decrypt sealed value: wrong key, wrong owner or tampered data")
)

// Box seals and opens secrets with one AES-256-GCM key. It is safe for
// concurrent use; the server builds one at start-up and shares it.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box for a KeySize-byte key. Nonces are random per Seal,
// which keeps the key safe for far more secrets than a CI server will hold
// (the limit is about 2^32 seals per key).
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("new secret box: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new secret box: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("new secret box: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext for the owner named by aad (for example
// "project/7/variable/TOKEN") and returns text safe to store in any column.
// The owner is authenticated but not stored: Open must be given the same aad,
// so a value moved to another row refuses to open.
func (b *Box) Seal(plaintext []byte, aad string) (string, error) {
	if b == nil || b.aead == nil {
		return "", errors.New("seal secret: box has no key")
	}
	ct := b.aead.Seal(nil, nil, plaintext, []byte(aad))
	return versionPrefix + encoding.EncodeToString(ct), nil
}

// Open decrypts text produced by Seal with the same aad. It returns
// ErrMalformed for text Seal could not have produced and ErrDecrypt when
// authentication fails; the message never echoes the sealed text.
func (b *Box) Open(sealed string, aad string) ([]byte, error) {
	if b == nil || b.aead == nil {
		return nil, errors.New("open secret: box has no key")
	}
	body, ok := strings.CutPrefix(sealed, versionPrefix)
	if !ok {
		return nil, fmt.Errorf("open secret: %w: missing %q prefix", ErrMalformed, versionPrefix)
	}
	ct, err := encoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("open secret: %w: bad base64", ErrMalformed)
	}
	if len(ct) < b.aead.Overhead() {
		return nil, fmt.Errorf("open secret: %w: truncated (%d bytes, need at least %d)", ErrMalformed, len(ct), b.aead.Overhead())
	}
	pt, err := b.aead.Open(nil, nil, ct, []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("open secret: %w", ErrDecrypt)
	}
	if pt == nil {
		// An empty secret opens as an empty, non-nil slice so callers can
		// tell it from a failed Open without looking at the error twice.
		pt = []byte{}
	}
	return pt, nil
}
