package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
)

// tokenRandLen is the number of base62 characters in a token: about 190
// bits, beyond brute force even if token hashes leak.
const tokenRandLen = 32

// maxPrefixLen keeps token kinds short enough to read at a glance.
const maxPrefixLen = 16

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewToken returns a random API token "gty_<prefix>_<32 base62 chars>". The
// fixed "gty_" lead and the kind prefix (e.g. "pat", "runner") let secret
// scanners and humans recognise a leaked token and what it grants. prefix
// must be 1-16 lowercase letters or digits, so the token splits unambiguously
// on "_".
func NewToken(prefix string) (string, error) {
	if err := validPrefix(prefix); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	out := make([]byte, 0, len("gty__")+len(prefix)+tokenRandLen)
	out = append(out, "gty_"...)
	out = append(out, prefix...)
	out = append(out, '_')
	buf := make([]byte, 64)
	for n := 0; n < tokenRandLen; {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("new token: %w", err)
		}
		for _, b := range buf {
			// Rejecting bytes >= 248 (4*62) keeps every character equally
			// likely; plain b%62 would favour the first eight.
			if b >= 248 {
				continue
			}
			out = append(out, base62[b%62])
			n++
			if n == tokenRandLen {
				break
			}
		}
	}
	return string(out), nil
}

func validPrefix(prefix string) error {
	if prefix == "" || len(prefix) > maxPrefixLen {
		return fmt.Errorf("token prefix %q must be 1-%d characters", prefix, maxPrefixLen)
	}
	for _, c := range []byte(prefix) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return fmt.Errorf("token prefix %q may only hold lowercase letters and digits", prefix)
		}
	}
	return nil
}

// HashToken returns the SHA-256 of token in hex, the only form in which the
// server stores tokens. A fast unsalted hash is enough because tokens are
// long random strings, not passwords, and it lets the server find a token's
// row by hash with one index lookup.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Equal reports whether a and b are equal in time that does not depend on
// where they differ, for comparing webhook signatures and token hashes
// without a timing oracle. Only the length may leak, which is public for
// hashes and signatures.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
